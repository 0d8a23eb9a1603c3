//! Values that can only hold what the rules allow; each is parsed once, at the edge.

mod access_token;
mod email;
mod email_hash;
mod link;
mod moderation;
mod notice;
mod password;
mod profile;
mod two_factor;
mod username;

pub use access_token::{AccessToken, Scope, TokenLifetime, TokenName};
pub use email::{Email, EmailError, same_mailbox};
pub use email_hash::{AddressHashes, EmailHash};
pub use link::{LINK_LIFETIME_SECS, LinkToken, Purpose, TokenHash};
pub use moderation::{Action, ActionReason, ReportComment, ReportReason};
pub use notice::Notice;
pub use password::{Password, PasswordError};
pub use profile::{
    AboutChange, Bio, BioError, DisplayName, DisplayNameError, Website, WebsiteError, search_key,
};
pub use two_factor::{RecoveryCode, SecondFactor, TotpCode, TotpSecret};
pub use username::{Username, UsernameError};
