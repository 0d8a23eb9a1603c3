//! What a `/avatar/{hash}` request asks for, read once from its path and query. Nothing in a
//! request is refused: what cannot be read means what Gravatar would take it to mean (the
//! default size, the silhouette, an unknown address).

use url::Url;

use crate::avatar::MAX_SIDE;
use crate::domain::EmailHash;

/// The side when none, or none usable, is asked for.
pub const DEFAULT_SIDE: u32 = 80;

/// A picture Folio draws for an address without one of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drawn {
    /// A neutral grey figure on light grey: `d=mp`, and no `d` at all.
    Silhouette,
    /// A 5×5 grid, mirrored left to right, in one colour from the hash (`d=identicon`).
    Identicon,
    /// An 8×8 pixel-art face, mirrored, its shape and colour from the hash (`d=retro`).
    Retro,
    /// Nothing to see: a transparent PNG, as Gravatar's (`d=blank`).
    Blank,
}

impl Drawn {
    pub fn name(self) -> &'static str {
        match self {
            Drawn::Silhouette => "mp",
            Drawn::Identicon => "identicon",
            Drawn::Retro => "retro",
            Drawn::Blank => "blank",
        }
    }
}

/// What answers for an address without a shared picture (`d` or `default`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// `d=404`: a 404, for sites that draw their own.
    NotFound,
    Drawn(Drawn),
    /// `d=https://…`: a redirect to the site's own picture.
    Redirect(Url),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarRequest {
    /// `None`: not 32 or 64 hex digits, so nobody's.
    pub hash: Option<EmailHash>,
    pub side: u32,
    pub fallback: Fallback,
    /// `f=y`: the fallback, even for a member who shares their picture.
    pub force_default: bool,
}

impl AvatarRequest {
    /// `path`: the `{hash}` segment (Gravatar's clients may add `.jpg` or `.png`); `query`:
    /// the raw query string.
    pub fn parse(path: &str, query: &str) -> Self {
        let hex = [".jpg", ".jpeg", ".png"]
            .iter()
            .find_map(|ext| path.strip_suffix(ext))
            .unwrap_or(path);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // The short name first, then the long one; of each, the first given.
        let value = |short: &str, long: &str| {
            [short, long]
                .iter()
                .find_map(|name| pairs.iter().find(|(k, _)| k == name))
                .map(|(_, v)| v.as_str())
        };
        Self {
            hash: EmailHash::parse(hex),
            side: value("s", "size").map_or(DEFAULT_SIDE, side),
            fallback: value("d", "default").map_or(Fallback::Drawn(Drawn::Silhouette), fallback),
            force_default: value("f", "forcedefault").is_some_and(|v| v.eq_ignore_ascii_case("y")),
        }
    }
}

/// 1–512 whole pixels; anything else is the default.
fn side(text: &str) -> u32 {
    text.parse::<u32>()
        .ok()
        .filter(|s| (1..=MAX_SIDE).contains(s))
        .unwrap_or(DEFAULT_SIDE)
}

fn fallback(text: &str) -> Fallback {
    match text {
        "404" => Fallback::NotFound,
        // `mm` is Gravatar's older name for the same figure.
        "mp" | "mm" => Fallback::Drawn(Drawn::Silhouette),
        "identicon" => Fallback::Drawn(Drawn::Identicon),
        "retro" => Fallback::Drawn(Drawn::Retro),
        "blank" => Fallback::Drawn(Drawn::Blank),
        other => match Url::parse(other) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Fallback::Redirect(url)
            }
            // Another scheme (`javascript:`, `data:`), a relative address, or a default
            // Folio does not draw: the silhouette.
            _ => Fallback::Drawn(Drawn::Silhouette),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "0bc83cb571cd1c50ba6f3e8a78ef1346";

    #[test]
    fn without_a_query_it_is_the_silhouette_at_80() {
        let request = AvatarRequest::parse(MD5, "");
        assert_eq!(request.hash, Some(EmailHash::Md5(MD5.into())));
        assert_eq!(request.side, 80);
        assert_eq!(request.fallback, Fallback::Drawn(Drawn::Silhouette));
        assert!(!request.force_default);
    }

    #[test]
    fn sizes_outside_1_to_512_are_80() {
        for (query, side) in [
            ("s=1", 1),
            ("s=512", 512),
            ("size=200", 200),
            ("s=40&size=200", 40),
            ("s=0", 80),
            ("s=513", 80),
            ("s=600", 80),
            ("s=abc", 80),
            ("s=-5", 80),
            ("s=1.5", 80),
            ("s=", 80),
            ("s=99999999999999999999", 80),
        ] {
            assert_eq!(AvatarRequest::parse(MD5, query).side, side, "{query}");
        }
    }

    #[test]
    fn defaults_are_read_and_only_http_addresses_are_followed() {
        let fallback = |query: &str| AvatarRequest::parse(MD5, query).fallback;
        assert_eq!(fallback("d=404"), Fallback::NotFound);
        assert_eq!(
            fallback("default=identicon"),
            Fallback::Drawn(Drawn::Identicon)
        );
        assert_eq!(fallback("d=retro"), Fallback::Drawn(Drawn::Retro));
        assert_eq!(fallback("d=blank"), Fallback::Drawn(Drawn::Blank));
        assert_eq!(fallback("d=mm"), Fallback::Drawn(Drawn::Silhouette));
        assert_eq!(
            fallback("d=https%3A%2F%2Fexample.org%2Fa.png%3Fx%3D1"),
            Fallback::Redirect(Url::parse("https://example.org/a.png?x=1").expect("url"))
        );
        for ignored in [
            "d=javascript%3Aalert(1)",
            "d=data%3Aimage%2Fpng%3Bbase64%2CAAAA",
            "d=%2Flocal.png",
            "d=ftp%3A%2F%2Fexample.org%2Fa.png",
            "d=monsterid",
            "d=",
        ] {
            assert_eq!(
                fallback(ignored),
                Fallback::Drawn(Drawn::Silhouette),
                "{ignored}"
            );
        }
    }

    #[test]
    fn the_hash_may_carry_an_extension_and_capitals() {
        let upper = AvatarRequest::parse(&format!("{}.jpg", MD5.to_uppercase()), "f=y");
        assert_eq!(upper.hash, Some(EmailHash::Md5(MD5.into())));
        assert!(upper.force_default);
        assert!(AvatarRequest::parse(MD5, "forcedefault=Y").force_default);
        assert!(!AvatarRequest::parse(MD5, "f=n").force_default);
        assert_eq!(AvatarRequest::parse("not-a-hash", "").hash, None);
    }
}
