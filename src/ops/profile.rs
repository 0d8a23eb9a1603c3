//! Changing what a member says about themselves: display name, bio, website, and whether other
//! sites may show their picture by their address.

use super::{Context, FieldErrors};
use crate::db::users::{self, User};
use crate::domain::{AboutChange, Bio, DisplayName, Website};

/// The profile's words as sent: `None` leaves a part as it is; an empty text clears it.
#[derive(Debug, Clone, Default)]
pub struct AboutInput {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    /// `None` leaves the choice as it is.
    pub share_by_email: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Nothing was changed; each message belongs beside its field.
    #[error("some fields are not valid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Checks every part given, then changes them all or none; returns the user as saved.
pub async fn update_about(
    ctx: &Context,
    user_id: i64,
    input: AboutInput,
) -> Result<User, ProfileError> {
    let change = parse(&input).map_err(ProfileError::Invalid)?;
    let user = ctx
        .db
        .run(move |conn| users::update_about(conn, user_id, &change).map_err(anyhow::Error::from))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the account {user_id} is gone"))?;
    tracing::info!(user_id, "public profile updated");
    Ok(user)
}

/// The one place the profile's rules meet input, for both doors.
pub fn parse(input: &AboutInput) -> Result<AboutChange, FieldErrors> {
    let mut errors = FieldErrors::default();
    let change = AboutChange {
        display_name: part(
            &mut errors,
            "display_name",
            &input.display_name,
            DisplayName::parse,
        ),
        bio: part(&mut errors, "bio", &input.bio, Bio::parse),
        website: part(&mut errors, "website", &input.website, Website::parse),
        share_by_email: input.share_by_email,
    };
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(errors)
    }
}

/// `None` when the part was not sent, else its value (`Some(None)`: cleared); a refusal goes
/// into `errors` beside its field.
fn part<T, E: std::fmt::Display>(
    errors: &mut FieldErrors,
    field: &'static str,
    text: &Option<String>,
    parse: fn(&str) -> Result<Option<T>, E>,
) -> Option<Option<T>> {
    match parse(text.as_deref()?) {
        Ok(value) => Some(value),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_not_sent_stay_and_empty_ones_clear() {
        let change = parse(&AboutInput {
            display_name: Some("  Ada  ".into()),
            bio: Some(String::new()),
            website: None,
            share_by_email: None,
        })
        .expect("valid");
        assert_eq!(
            change.display_name.flatten().as_ref().map(AsRef::as_ref),
            Some("Ada")
        );
        assert_eq!(change.bio, Some(None));
        assert_eq!(change.website, None);
    }

    #[test]
    fn every_bad_part_is_named_and_nothing_is_changed() {
        let errors = parse(&AboutInput {
            display_name: Some("x".repeat(51)),
            bio: Some("fine".into()),
            website: Some("javascript:alert(1)".into()),
            share_by_email: Some(true),
        })
        .expect_err("invalid");
        assert!(errors.get("display_name").is_some());
        assert!(errors.get("website").is_some());
        assert_eq!(errors.get("bio"), None);
    }
}
