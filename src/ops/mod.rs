//! The operations both doors share: the HTML forms (`routes/`) and the JSON API (`api/`) each
//! turn a request into one call here, and its result into a page or a document.
//!
//! An operation takes typed input and a user, does the work in the right order, and returns a
//! typed result or a typed refusal whose words and status are decided beside it. Nothing here
//! knows of forms, pages or JSON.

pub mod members;
pub mod moderation;
pub mod passkeys;
pub mod picture;
pub mod profile;
pub mod two_factor;

use std::collections::BTreeMap;

use crate::avatar::Avatars;
use crate::db::Db;

/// What the operations need, shared by every handler (cheap to clone: handles only).
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub avatars: Avatars,
    /// `FOLIO_UPLOADS_PER_HOUR`: pictures one account may send in an hour; 0 is no limit.
    pub uploads_per_hour: u32,
    /// Seals the authenticator apps' secrets.
    pub sealer: crate::auth::Sealer,
    /// How the directory's recent searches walked, so one asked again skips its probe.
    pub walks: std::sync::Arc<crate::db::members::RecentWalks>,
}

/// Messages for the fields a person got wrong, by field name (`display_name`, `bio`, …), in
/// a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// "3 minutes": how long a throttled person waits, in whole minutes rounded up.
pub fn minutes(wait_secs: i64) -> String {
    let minutes = (wait_secs.max(1) + 59) / 60;
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_whole_minutes_rounded_up() {
        assert_eq!(minutes(1), "1 minute");
        assert_eq!(minutes(60), "1 minute");
        assert_eq!(minutes(61), "2 minutes");
        assert_eq!(minutes(3600), "60 minutes");
    }

    #[test]
    fn the_first_message_for_a_field_stays() {
        let mut errors = FieldErrors::default();
        errors.add("bio", "first");
        errors.add("bio", "second");
        assert_eq!(errors.get("bio"), Some("first"));
        assert_eq!(errors.iter().count(), 1);
    }
}
