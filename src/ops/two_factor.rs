//! Two-factor sign-in: setting up an authenticator app (a secret shown, confirmed by a first
//! code), checking a code at login (a TOTP code once, a recovery code once ever), turning it
//! off, and new recovery codes. The secret is stored sealed, never in plain text.

use super::Context;
use crate::db::two_factor;
use crate::domain::{RecoveryCode, SecondFactor, TotpSecret};

/// What binds a sealed secret to its account: a sealed value copied to another row opens
/// nowhere else.
fn context(user_id: i64) -> String {
    format!("totp:{user_id}")
}

fn now_secs() -> u64 {
    u64::try_from(crate::db::now()).unwrap_or(0)
}

/// The second factor of an account, as its security page shows it.
pub struct Status {
    pub on: bool,
    /// A secret shown and waiting for its first code.
    pub pending: Option<TotpSecret>,
    pub codes_left: i64,
}

pub async fn status(ctx: &Context, user_id: i64) -> anyhow::Result<Status> {
    let sealer = ctx.sealer.clone();
    ctx.db
        .run(move |conn| {
            let state = two_factor::state(conn, user_id)?;
            let codes_left = two_factor::codes_left(conn, user_id)?;
            let (on, pending) = match state {
                Some(s) => (
                    s.totp_secret.is_some(),
                    s.totp_pending
                        .and_then(|p| sealer.open(&p, &context(user_id)))
                        .and_then(TotpSecret::from_bytes),
                ),
                None => (false, None),
            };
            Ok(Status {
                on,
                pending,
                codes_left,
            })
        })
        .await
}

/// A new secret for the account, waiting for its first code (any earlier waiting one is
/// replaced).
pub async fn start(ctx: &Context, user_id: i64) -> anyhow::Result<()> {
    let sealed = ctx
        .sealer
        .seal(TotpSecret::generate().bytes(), &context(user_id));
    ctx.db
        .run(move |conn| {
            Ok(two_factor::set_pending(
                conn,
                user_id,
                &sealed,
                crate::db::now(),
            )?)
        })
        .await
}

/// Why a code was not taken.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("Enter the 6-digit code your authenticator app shows now.")]
    NotACode,
    #[error("That code is not right, or was already used. Enter the code your app shows now.")]
    Wrong,
    #[error("Set up your authenticator app again: that secret is no longer waiting.")]
    NothingPending,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Confirms the waiting secret with its first code: two-factor sign-in is on, and the
/// recovery codes (shown once) are returned.
pub async fn confirm(
    ctx: &Context,
    user_id: i64,
    typed: &str,
) -> Result<Vec<RecoveryCode>, CodeError> {
    let Some(SecondFactor::Totp(code)) = SecondFactor::parse(typed) else {
        return Err(CodeError::NotACode);
    };
    let sealer = ctx.sealer.clone();
    let codes = RecoveryCode::generate_set();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    ctx.db
        .run(move |conn| {
            let pending = two_factor::state(conn, user_id)
                .map_err(anyhow::Error::from)?
                .and_then(|s| s.totp_pending)
                .ok_or(CodeError::NothingPending)?;
            let secret = sealer
                .open(&pending, &context(user_id))
                .and_then(TotpSecret::from_bytes)
                .ok_or(CodeError::NothingPending)?;
            let step = secret
                .matching_step(&code, now_secs())
                .ok_or(CodeError::Wrong)?;
            let step = i64::try_from(step).map_err(|_| CodeError::Wrong)?;
            if two_factor::enable(conn, user_id, &pending, step, &hashes, crate::db::now())
                .map_err(anyhow::Error::from)?
            {
                Ok(codes)
            } else {
                Err(CodeError::NothingPending)
            }
        })
        .await
}

/// Checks a second factor for the account: a TOTP code whose step was not used yet, or an
/// unused recovery code (used up by this). `false` for anything else.
pub async fn verify(ctx: &Context, user_id: i64, typed: &str) -> anyhow::Result<bool> {
    let Some(factor) = SecondFactor::parse(typed) else {
        return Ok(false);
    };
    let sealer = ctx.sealer.clone();
    ctx.db
        .run(move |conn| {
            Ok(match factor {
                SecondFactor::Totp(code) => {
                    let secret = two_factor::state(conn, user_id)?
                        .and_then(|s| s.totp_secret)
                        .and_then(|s| sealer.open(&s, &context(user_id)))
                        .and_then(TotpSecret::from_bytes);
                    match secret.and_then(|s| s.matching_step(&code, now_secs())) {
                        Some(step) => two_factor::take_step(
                            conn,
                            user_id,
                            i64::try_from(step).unwrap_or(i64::MAX),
                        )?,
                        None => false,
                    }
                }
                SecondFactor::Recovery(code) => {
                    two_factor::use_code(conn, user_id, &code.hash(), crate::db::now())?
                }
            })
        })
        .await
}

/// Turns two-factor sign-in off (the caller has checked the password and a code).
pub async fn disable(ctx: &Context, user_id: i64) -> anyhow::Result<()> {
    ctx.db
        .run(move |conn| Ok(two_factor::disable(conn, user_id, crate::db::now())?))
        .await
}

/// A new set of recovery codes, shown once; the old set is void.
pub async fn new_codes(ctx: &Context, user_id: i64) -> anyhow::Result<Vec<RecoveryCode>> {
    let codes = RecoveryCode::generate_set();
    let hashes: Vec<String> = codes.iter().map(RecoveryCode::hash).collect();
    ctx.db
        .run(move |conn| {
            Ok::<_, anyhow::Error>(two_factor::replace_codes(
                conn,
                user_id,
                &hashes,
                crate::db::now(),
            )?)
        })
        .await?;
    Ok(codes)
}
