//! The addresses pages and the API link to: the site's own, a member's profile, a picture or
//! its stand-in.

use crate::avatar::{PictureName, PictureUrls};

/// Where a user's picture is served from: theirs, or the initials avatar made from their name.
pub fn avatar_url(urls: &PictureUrls, username: &str, picture: Option<&str>) -> String {
    picture.and_then(PictureName::parse).map_or_else(
        || format!("/avatars/{}.svg", percent_encode(username, b"")),
        |name| urls.of(&name),
    )
}

/// Percent-encodes everything but unreserved characters and `also_keep`.
pub fn percent_encode(text: &str, also_keep: &[u8]) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || also_keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `/users/NAME`.
pub fn profile_path(username: &str) -> String {
    format!("/users/{}", percent_encode(username, b""))
}

/// What pages need to know about the site as a whole.
#[derive(Debug, Clone)]
pub struct Site {
    /// `FOLIO_PUBLIC_URL` without a trailing slash, for absolute links.
    pub public_url: String,
    /// `FOLIO_SIGNUPS_PER_HOUR`; 0 is no limit.
    pub signups_per_hour: u32,
}

impl Site {
    /// `path` (from the root) or an absolute URL as an absolute URL.
    pub fn absolute(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.public_url)
        } else {
            path_or_url.to_owned()
        }
    }
}
