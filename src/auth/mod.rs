//! Who is asking: password hashing, sessions, the current user and cross-site defences.

mod csrf;
mod password;
mod private_cookie;
mod seal;
mod session;
mod user;

pub use csrf::{CSRF_HEADER, CsrfForm, CsrfJson, NoFields, reject_cross_site};
pub use password::Passwords;
pub use private_cookie::PrivateCookies;
pub use seal::Sealer;
pub use session::{ABSOLUTE_LIFETIME_SECS, DbSessionStore, IDLE_TIMEOUT_SECS, TypedSession};
pub use user::{CurrentUser, MaybeUser};

/// `n` random bytes from the OS-seeded CSPRNG, as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
