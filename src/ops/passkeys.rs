//! Passkeys (WebAuthn, always user-verified): adding one to an account, signing in with one
//! (a discoverable credential: the browser names the account), listing and removing them.
//!
//! Each ceremony has two steps. The first stores its state server-side, in
//! `webauthn_challenges`, for five minutes, and hands the browser the options and the state's
//! id; the second takes that state back (once: it is deleted as it is read) and checks the
//! browser's answer against it. Nothing is kept in memory, so any instance finishes what
//! another began.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use super::Context;
use crate::db::passkeys::{self as store, AddRefused, PasskeyRow, Purpose};

/// Why passkeys are off on a site reached by an IP address.
pub const NEEDS_A_NAME: &str =
    "Passkeys need the site to be reached by a name, not an IP address: set FOLIO_PUBLIC_URL.";

/// How long a ceremony may take, from its options to its answer.
pub const CHALLENGE_SECS: i64 = 5 * 60;

/// The longest name a passkey may have, in characters.
pub const NAME_MAX: usize = 50;

/// The name a passkey gets when none is given.
pub const DEFAULT_NAME: &str = "Passkey";

/// The relying party: this site as passkeys know it (its id is the host of
/// `FOLIO_PUBLIC_URL`, its origin that URL), or why passkeys are off.
#[derive(Clone)]
pub struct Relying {
    webauthn: Result<Arc<Webauthn>, String>,
}

impl Relying {
    /// Made once at start-up; says once in the log if passkeys are off, and why.
    pub fn new(public_url: &str) -> Self {
        let webauthn = Self::build(public_url);
        if let Err(reason) = &webauthn {
            tracing::warn!("passkeys are off: {reason}");
        }
        Self { webauthn }
    }

    fn build(public_url: &str) -> Result<Arc<Webauthn>, String> {
        let origin =
            Url::parse(public_url).map_err(|e| format!("FOLIO_PUBLIC_URL is not a URL ({e})."))?;
        let rp_id = match origin.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(_) => return Err(NEEDS_A_NAME.to_owned()),
            None => return Err("FOLIO_PUBLIC_URL names no host.".to_owned()),
        };
        WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("Folio").build())
            .map(Arc::new)
            .map_err(|e| format!("FOLIO_PUBLIC_URL cannot be a relying party ({e})."))
    }

    /// `None` when passkeys work here; else what the pages say.
    pub fn off_reason(&self) -> Option<&str> {
        self.webauthn.as_ref().err().map(String::as_str)
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn
            .as_deref()
            .map_err(|reason| PasskeyError::Off(reason.clone()))
    }
}

/// Why a passkey step was refused; the words are the ones the page shows.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("{0}")]
    Off(String),
    #[error("{0}")]
    BadName(String),
    #[error("This passkey request expired or was already used. Try again.")]
    Expired,
    #[error("The passkey was not accepted. Try again.")]
    Refused,
    #[error("That passkey is not known here: it may have been removed. Log in with your password.")]
    Unknown,
    #[error("That passkey is already added.")]
    Duplicate,
    #[error(
        "Your account is suspended: the site's moderators suspended it, so it cannot be used to log in."
    )]
    Suspended { reason: Option<String> },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A passkey's name as given: trimmed, 1 to 50 characters, "Passkey" when left empty.
pub fn parse_name(typed: &str) -> Result<String, PasskeyError> {
    let name = typed.trim();
    if name.is_empty() {
        return Ok(DEFAULT_NAME.to_owned());
    }
    if name.chars().count() > NAME_MAX {
        return Err(PasskeyError::BadName(format!(
            "Give the passkey a name of at most {NAME_MAX} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName(
            "A passkey's name is one line of text.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// A ceremony begun: the id to finish it with, and the options for the browser.
pub struct Started<T> {
    pub challenge: String,
    pub options: T,
}

/// What a registration keeps server-side: the user handle it used, and webauthn-rs's state.
#[derive(Serialize, Deserialize)]
struct RegisterState {
    handle: Uuid,
    registration: PasskeyRegistration,
}

fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn new_challenge_id() -> String {
    crate::auth::random_hex(16)
}

/// The user's passkeys, oldest first.
pub async fn list(ctx: &Context, user_id: i64) -> anyhow::Result<Vec<PasskeyRow>> {
    ctx.db
        .run(move |conn| Ok(store::for_user(conn, user_id)?))
        .await
}

/// Begins adding a passkey (the caller has checked the password): a discoverable credential
/// (resident key required), user-verified, none of the account's own again.
pub async fn start_registration(
    ctx: &Context,
    rp: &Relying,
    user_id: i64,
    username: &str,
) -> Result<Started<CreationChallengeResponse>, PasskeyError> {
    let webauthn = rp.webauthn()?;
    let (handle, rows) = ctx
        .db
        .run(move |conn| {
            Ok::<_, anyhow::Error>((
                store::handle(conn, user_id)?,
                store::for_user(conn, user_id)?,
            ))
        })
        .await?;
    // A handle that is not a UUID (never written so by Folio) is replaced: the add checks
    // that the account's handle is still the one this ceremony used.
    let handle = handle
        .and_then(|h| Uuid::parse_str(&h).ok())
        .unwrap_or_else(Uuid::new_v4);
    let exclude = rows
        .iter()
        .filter_map(|row| serde_json::from_str::<Passkey>(&row.credential).ok())
        .map(|passkey| passkey.cred_id().clone())
        .collect::<Vec<_>>();
    let (mut options, registration) = webauthn
        .start_passkey_registration(handle, username, username, Some(exclude))
        .map_err(|e| anyhow::anyhow!("cannot start a passkey registration: {e}"))?;
    // A passkey that names its account, so that signing in needs no username.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    let state = serde_json::to_string(&RegisterState {
        handle,
        registration,
    })
    .map_err(anyhow::Error::from)?;
    let challenge = new_challenge_id();
    let id = challenge.clone();
    ctx.db
        .run(move |conn| {
            Ok::<_, anyhow::Error>(store::insert_challenge(
                conn,
                &id,
                Some(user_id),
                Purpose::Register,
                &state,
                crate::db::now() + CHALLENGE_SECS,
            )?)
        })
        .await?;
    Ok(Started { challenge, options })
}

/// Finishes adding a passkey: checks the browser's answer against the ceremony `challenge`
/// (taken once), then stores the passkey and queues its notice in one transaction.
pub async fn finish_registration(
    ctx: &Context,
    rp: &Relying,
    user_id: i64,
    challenge: &str,
    name: &str,
    credential: serde_json::Value,
) -> Result<PasskeyRow, PasskeyError> {
    let webauthn = rp.webauthn()?;
    let name = parse_name(name)?;
    let taken = take(ctx, challenge, Purpose::Register).await?;
    if taken.user_id != Some(user_id) {
        return Err(PasskeyError::Expired);
    }
    let state: RegisterState = serde_json::from_str(&taken.state)
        .map_err(|e| anyhow::anyhow!("a stored registration cannot be read: {e}"))?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| PasskeyError::Refused)?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &state.registration)
        .map_err(|e| {
            tracing::info!(user_id, error = %e, "passkey registration refused");
            PasskeyError::Refused
        })?;
    let credential_id = credential_id_text(passkey.cred_id().as_ref());
    let stored = serde_json::to_string(&passkey).map_err(anyhow::Error::from)?;
    let handle = state.handle.to_string();
    let row_name = name.clone();
    let added = ctx
        .db
        .run(move |conn| {
            let now = crate::db::now();
            let added = store::add(
                conn,
                user_id,
                &handle,
                &row_name,
                &credential_id,
                &stored,
                now,
            )?;
            Ok::<_, anyhow::Error>(added.map(|id| PasskeyRow {
                id,
                user_id,
                name: row_name,
                credential_id,
                credential: stored,
                created_at: now,
                last_used_at: None,
            }))
        })
        .await?;
    match added {
        Ok(row) => Ok(row),
        Err(AddRefused::Duplicate) => Err(PasskeyError::Duplicate),
        Err(AddRefused::HandleChanged) => Err(PasskeyError::Expired),
        Err(AddRefused::NoAccount) => Err(PasskeyError::Refused),
    }
}

/// Begins a sign-in with a passkey the browser picks (discoverable: no username first). The
/// caller decides the mediation: a button asks at once, the username field's autofill waits.
pub async fn start_login(
    ctx: &Context,
    rp: &Relying,
) -> Result<Started<RequestChallengeResponse>, PasskeyError> {
    let webauthn = rp.webauthn()?;
    let (mut options, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| anyhow::anyhow!("cannot start a passkey sign-in: {e}"))?;
    options.mediation = None;
    let state = serde_json::to_string(&authentication).map_err(anyhow::Error::from)?;
    let challenge = new_challenge_id();
    let id = challenge.clone();
    ctx.db
        .run(move |conn| {
            Ok::<_, anyhow::Error>(store::insert_challenge(
                conn,
                &id,
                None,
                Purpose::Login,
                &state,
                crate::db::now() + CHALLENGE_SECS,
            )?)
        })
        .await?;
    Ok(Started { challenge, options })
}

/// Who a passkey signed in.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn {
    pub user_id: i64,
    pub session_epoch: i64,
}

/// Finishes a sign-in: the passkey the browser used must be one of ours, of the account its
/// user handle names, and its signature good for the ceremony `challenge` (taken once) with
/// the user verified. Its counter and last use are recorded. A suspended account is refused
/// (after the check, as the password login refuses it after the right password).
pub async fn finish_login(
    ctx: &Context,
    rp: &Relying,
    challenge: &str,
    credential: serde_json::Value,
) -> Result<SignedIn, PasskeyError> {
    let webauthn = rp.webauthn()?;
    let taken = take(ctx, challenge, Purpose::Login).await?;
    let state: DiscoverableAuthentication = serde_json::from_str(&taken.state)
        .map_err(|e| anyhow::anyhow!("a stored sign-in cannot be read: {e}"))?;
    let credential: PublicKeyCredential =
        serde_json::from_value(credential).map_err(|_| PasskeyError::Refused)?;
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(|_| PasskeyError::Refused)?;
    let credential_id = credential_id_text(credential_id);
    let found = ctx
        .db
        .run(move |conn| Ok::<_, anyhow::Error>(store::for_login(conn, &credential_id)?))
        .await?
        .ok_or(PasskeyError::Unknown)?;
    if found.handle.as_deref() != Some(handle.to_string().as_str()) {
        return Err(PasskeyError::Unknown);
    }
    let user_id = found.passkey.user_id;
    let mut passkey: Passkey = serde_json::from_str(&found.passkey.credential)
        .map_err(|e| anyhow::anyhow!("passkey {} cannot be read: {e}", found.passkey.id))?;
    let result = webauthn
        .finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&passkey)])
        .map_err(|e| {
            tracing::info!(user_id, error = %e, "passkey sign-in refused");
            PasskeyError::Refused
        })?;
    if found.suspended_at.is_some() {
        return Err(PasskeyError::Suspended {
            reason: found.suspension_reason,
        });
    }
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(serde_json::to_string(&passkey).map_err(anyhow::Error::from)?),
        _ => None,
    };
    let id = found.passkey.id;
    let recorded = ctx
        .db
        .run(move |conn| {
            Ok::<_, anyhow::Error>(store::record_use(
                conn,
                id,
                updated.as_deref(),
                crate::db::now(),
            )?)
        })
        .await?;
    if !recorded {
        return Err(PasskeyError::Unknown);
    }
    Ok(SignedIn {
        user_id,
        session_epoch: found.session_epoch,
    })
}

/// Removes one of the user's passkeys (it signs in no more) and queues the notice. `false`
/// if the user has no passkey of that id.
pub async fn remove(ctx: &Context, user_id: i64, id: i64) -> anyhow::Result<bool> {
    ctx.db
        .run(move |conn| Ok(store::remove(conn, user_id, id, crate::db::now())?))
        .await
}

async fn take(
    ctx: &Context,
    challenge: &str,
    purpose: Purpose,
) -> Result<store::Challenge, PasskeyError> {
    // Ids are 32 hex digits: anything else was never handed out.
    if challenge.len() != 32 || !challenge.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PasskeyError::Expired);
    }
    let id = challenge.to_owned();
    ctx.db
        .run(move |conn| {
            Ok::<_, anyhow::Error>(store::take_challenge(conn, &id, purpose, crate::db::now())?)
        })
        .await?
        .ok_or(PasskeyError::Expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_line_of_at_most_fifty_characters() {
        assert_eq!(parse_name("  ").ok().as_deref(), Some("Passkey"));
        assert_eq!(parse_name(" Laptop ").ok().as_deref(), Some("Laptop"));
        assert_eq!(
            parse_name(&"é".repeat(50)).ok().as_deref(),
            Some("é".repeat(50).as_str())
        );
        assert!(parse_name(&"x".repeat(51)).is_err());
        assert!(parse_name("a\nb").is_err());
    }

    #[test]
    fn a_site_reached_by_an_ip_address_offers_no_passkeys() {
        for url in ["http://127.0.0.1:8080", "https://[::1]", "http://10.0.0.1"] {
            assert_eq!(Relying::new(url).off_reason(), Some(NEEDS_A_NAME), "{url}");
        }
        for url in ["http://localhost:8080", "https://folio.example.org"] {
            assert_eq!(Relying::new(url).off_reason(), None, "{url}");
        }
    }
}
