//! Values that can only hold what the rules allow; each is parsed once, at the edge.

mod email;
mod password;
mod username;

pub use email::{Email, EmailError};
pub use password::{Password, PasswordError};
pub use username::{Username, UsernameError};
