//! The addresses pages and the API link to: the site's own, a member's profile, a picture or
//! its stand-in.

use crate::avatar::{Encoding, PictureFile, PictureName, PictureUrls, Renditions, Variant};

/// A user's picture as pages show it: the address of the master (or of the initials avatar
/// made from their name), and where the picture has them, its files by width for `srcset`.
#[derive(Debug, Clone)]
pub struct Avatar {
    /// The 300×300 JPEG (or the SVG): `src`, and the address link previews and the API give.
    pub src: String,
    /// `srcset` candidates, JPEG and WebP; `None` for an SVG or a picture whose renditions are
    /// not made yet, which shows its master alone.
    pub jpeg: Option<String>,
    pub webp: Option<String>,
}

/// The user's picture, or the initials avatar.
pub fn avatar(
    urls: &PictureUrls,
    username: &str,
    picture: Option<&str>,
    renditions: Renditions,
) -> Avatar {
    let Some(name) = picture.and_then(PictureName::parse) else {
        return Avatar {
            src: format!("/avatars/{}.svg", percent_encode(username, b"")),
            jpeg: None,
            webp: None,
        };
    };
    let srcset = |encoding| {
        (renditions != Renditions::MasterOnly).then(|| {
            renditions
                .sides_in(encoding)
                .map(|side| {
                    let variant = Variant::of(side, encoding);
                    format!("{} {side}w", urls.of_file(&PictureFile::new(name, variant)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    Avatar {
        src: urls.of(&name),
        jpeg: srcset(Encoding::Jpeg),
        webp: srcset(Encoding::Webp),
    }
}

/// Where a user's picture is served from: theirs, or the initials avatar made from their name.
pub fn avatar_url(urls: &PictureUrls, username: &str, picture: Option<&str>) -> String {
    avatar(urls, username, picture, Renditions::MasterOnly).src
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_offers_its_files_by_width_wherever_they_are_served() {
        let name = "4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f";
        let cdn = PictureUrls::new(Some("https://cdn.example.org/f/"));
        let a = avatar(&cdn, "ada", Some(&format!("{name}.jpg")), Renditions::Large);
        let base = "https://cdn.example.org/f/profile_pics";
        assert_eq!(a.src, format!("{base}/{name}.jpg"));
        assert_eq!(
            a.jpeg.as_deref(),
            Some(
                format!(
                    "{base}/{name}-64.jpg 64w, {base}/{name}-128.jpg 128w, {base}/{name}.jpg 300w"
                )
                .as_str()
            )
        );
        assert_eq!(
            a.webp.as_deref(),
            Some(
                format!(
                    "{base}/{name}-64.webp 64w, {base}/{name}-128.webp 128w, {base}/{name}.webp 300w, \
                     {base}/{name}-600.webp 600w"
                )
                .as_str()
            )
        );

        let local = PictureUrls::new(None);
        let older = avatar(
            &local,
            "ada",
            Some(&format!("{name}.jpg")),
            Renditions::MasterOnly,
        );
        assert_eq!(older.src, format!("/media/profile_pics/{name}.jpg"));
        assert!(
            older.jpeg.is_none() && older.webp.is_none(),
            "the master alone"
        );

        let none = avatar(&local, "ada lovelace", None, Renditions::Large);
        assert_eq!(none.src, "/avatars/ada%20lovelace.svg");
        assert!(none.jpeg.is_none() && none.webp.is_none());
    }
}
