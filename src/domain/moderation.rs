//! Moderation's words: why a member reports another, what a moderator does, and the reasons
//! each gives. Parsed once, at the edge; the database stores the same words (`as_str`).

/// Why a member reports another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportReason {
    Spam,
    Abuse,
    Picture,
    Impersonation,
    Other,
}

impl ReportReason {
    pub const ALL: [ReportReason; 5] = [
        Self::Spam,
        Self::Abuse,
        Self::Picture,
        Self::Impersonation,
        Self::Other,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Abuse => "abuse",
            Self::Picture => "picture",
            Self::Impersonation => "impersonation",
            Self::Other => "other",
        }
    }

    /// As the report form and the queue say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Spam => "Spam or advertising",
            Self::Abuse => "Abuse or harassment",
            Self::Picture => "An unacceptable picture",
            Self::Impersonation => "Pretending to be someone else",
            Self::Other => "Something else",
        }
    }

    /// The label of a stored reason (a row this version cannot read shows as written).
    pub fn label_of(stored: &str) -> &str {
        Self::parse(stored).map_or(stored, |r| r.label())
    }
}

/// What a moderator does to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    RemovePicture,
    ClearProfile,
    Suspend,
    Unsuspend,
    Dismiss,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Self::RemovePicture,
        Self::ClearProfile,
        Self::Suspend,
        Self::Unsuspend,
        Self::Dismiss,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RemovePicture => "remove_picture",
            Self::ClearProfile => "clear_profile",
            Self::Suspend => "suspend",
            Self::Unsuspend => "unsuspend",
            Self::Dismiss => "dismiss",
        }
    }

    /// As the action form offers it.
    pub fn label(self) -> &'static str {
        match self {
            Self::RemovePicture => "Remove the picture",
            Self::ClearProfile => "Clear the name, bio and website",
            Self::Suspend => "Suspend the account",
            Self::Unsuspend => "Lift the suspension",
            Self::Dismiss => "Dismiss the reports",
        }
    }

    /// What was done, as the log and the member's mail say it.
    pub fn done(self) -> &'static str {
        match self {
            Self::RemovePicture => "removed the profile picture",
            Self::ClearProfile => "cleared the display name, bio and website",
            Self::Suspend => "suspended the account",
            Self::Unsuspend => "lifted the suspension",
            Self::Dismiss => "dismissed the reports",
        }
    }

    /// The past tense of a stored action (a row this version cannot read shows as written).
    pub fn done_of(stored: &str) -> &str {
        Self::parse(stored).map_or(stored, |a| a.done())
    }
}

/// Text as typed, trimmed, with line breaks made `\n` (what the limits count).
fn tidy(text: &str) -> String {
    text.trim().replace("\r\n", "\n")
}

/// A reporter's comment: optional, up to 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportComment(String);

impl ReportComment {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = tidy(text);
        let n = text.chars().count();
        if n > Self::MAX_CHARS {
            return Err(format!(
                "The comment is {n} characters long; shorten it to {} or fewer.",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(text))
    }
}

impl AsRef<str> for ReportComment {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a moderator acted: required, 1 to 500 characters, told to the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReason(String);

impl ActionReason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: &str) -> Result<Self, String> {
        let text = tidy(text);
        let n = text.chars().count();
        if n == 0 {
            return Err("Give a reason: the member is told it.".into());
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "The reason is {n} characters long; shorten it to {} or fewer.",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(text))
    }
}

impl AsRef<str> for ActionReason {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_nothing_else_parses() {
        for r in ReportReason::ALL {
            assert_eq!(ReportReason::parse(r.as_str()), Some(r));
        }
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for bad in ["", "Spam", "delete", "suspend ", "remove-picture"] {
            assert_eq!(ReportReason::parse(bad), None, "{bad}");
            assert_eq!(Action::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_reason_is_required_and_at_most_500_characters() {
        assert!(ActionReason::parse("  \r\n ").is_err());
        assert_eq!(
            ActionReason::parse(" Spam links.\r\nTwice. ")
                .expect("valid")
                .as_ref(),
            "Spam links.\nTwice."
        );
        assert!(ActionReason::parse(&"é".repeat(500)).is_ok());
        assert!(ActionReason::parse(&"é".repeat(501)).is_err());
    }

    #[test]
    fn a_comment_may_be_empty_and_at_most_1000_characters() {
        assert_eq!(ReportComment::parse("   ").expect("valid").as_ref(), "");
        assert!(ReportComment::parse(&"ß".repeat(1000)).is_ok());
        assert!(ReportComment::parse(&"ß".repeat(1001)).is_err());
    }
}
