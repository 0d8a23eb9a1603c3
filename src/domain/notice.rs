//! Changes to how someone signs in, each mailed to the account's address (OWASP ASVS 6.3.7):
//! someone who did not make the change learns of it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    TwoFactorOn,
    TwoFactorOff,
    RecoveryCodes,
    PasskeyAdded,
    PasskeyRemoved,
    PasswordChanged,
    PasswordReset,
}

impl Notice {
    pub const ALL: [Notice; 7] = [
        Self::TwoFactorOn,
        Self::TwoFactorOff,
        Self::RecoveryCodes,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::PasswordChanged,
        Self::PasswordReset,
    ];

    /// As the outbox stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TwoFactorOn => "two_factor_on",
            Self::TwoFactorOff => "two_factor_off",
            Self::RecoveryCodes => "recovery_codes",
            Self::PasskeyAdded => "passkey_added",
            Self::PasskeyRemoved => "passkey_removed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == text)
    }

    /// The mail's subject.
    pub fn subject(self) -> &'static str {
        match self {
            Self::TwoFactorOn => "Two-factor sign-in is on for your Folio account",
            Self::TwoFactorOff => "Two-factor sign-in is off for your Folio account",
            Self::RecoveryCodes => "New recovery codes for your Folio account",
            Self::PasskeyAdded => "A passkey was added to your Folio account",
            Self::PasskeyRemoved => "A passkey was removed from your Folio account",
            Self::PasswordChanged => "The password of your Folio account was changed",
            Self::PasswordReset => "The password of your Folio account was reset",
        }
    }

    /// What happened, as the mail says it.
    pub fn what(self) -> &'static str {
        match self {
            Self::TwoFactorOn => {
                "Two-factor sign-in was turned on: logging in now asks for a code from an authenticator app (or a recovery code) after the password."
            }
            Self::TwoFactorOff => {
                "Two-factor sign-in was turned off: logging in now asks for the password only."
            }
            Self::RecoveryCodes => {
                "A new set of recovery codes was made; the codes of the old set no longer work."
            }
            Self::PasskeyAdded => {
                "A passkey was added: it signs in to the account without the password."
            }
            Self::PasskeyRemoved => "A passkey was removed: it no longer signs in.",
            Self::PasswordChanged => {
                "The password was changed from the account page, and every other session was logged out."
            }
            Self::PasswordReset => {
                "The password was reset through a mailed link, and every session was logged out."
            }
        }
    }
}
