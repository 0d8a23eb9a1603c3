//! What a person says about themselves on their profile: a display name, a bio, a website.
//! Each is optional (an empty field clears it) and parsed once, here.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A change to what a member says about themselves: `None` leaves a part as it is,
/// `Some(None)` clears it. The form sets every part; the API only the members it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AboutChange {
    pub display_name: Option<Option<DisplayName>>,
    pub bio: Option<Option<Bio>>,
    pub website: Option<Option<Website>>,
    /// Let other sites show the picture by the address (Libravatar, Gravatar).
    pub share_by_email: Option<bool>,
}

/// 1–50 characters after trimming, any script, nothing invisible or direction-changing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("A display name can have at most 50 characters.")]
    TooLong,
    #[error(
        "Use only visible characters in a display name: no line breaks, direction overrides or invisible characters."
    )]
    Invisible,
}

impl DisplayName {
    pub const MAX: usize = 50;

    /// `Ok(None)` for an empty field, which clears the name.
    pub fn parse(input: &str) -> Result<Option<Self>, DisplayNameError> {
        let name: String = input.trim().nfc().collect();
        if name.is_empty() {
            return Ok(None);
        }
        if !all_visible(&name, false) {
            return Err(DisplayNameError::Invisible);
        }
        // Runs of spaces (including ideographic ones) read as one; keeps names from padding.
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.chars().count() > Self::MAX {
            return Err(DisplayNameError::TooLong);
        }
        Ok(Some(Self(name)))
    }

    /// How the directory's search finds this name.
    pub fn search_key(&self) -> String {
        search_key(&self.0)
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Up to 300 characters of plain text; line breaks are kept, blank runs folded to one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BioError {
    #[error("A bio can have at most 300 characters.")]
    TooLong,
    #[error(
        "Use only visible characters and line breaks in a bio: no direction overrides or invisible characters."
    )]
    Invisible,
}

impl Bio {
    pub const MAX: usize = 300;

    pub fn parse(input: &str) -> Result<Option<Self>, BioError> {
        // Tabs from pasted text become spaces rather than a refusal.
        let text: String = input
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\t', " ")
            .nfc()
            .collect();
        if !all_visible(&text, true) {
            return Err(BioError::Invisible);
        }
        let mut lines: Vec<&str> = Vec::new();
        for line in text.lines().map(str::trim_end) {
            let blank_after_blank = line.is_empty() && lines.last().is_none_or(|l| l.is_empty());
            if !blank_after_blank {
                lines.push(line);
            }
        }
        let bio = lines.join("\n").trim().to_owned();
        if bio.is_empty() {
            return Ok(None);
        }
        if bio.chars().count() > Self::MAX {
            return Err(BioError::TooLong);
        }
        Ok(Some(Self(bio)))
    }
}

impl AsRef<str> for Bio {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An `http` or `https` address of at most 200 characters, without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Website(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebsiteError {
    #[error("A website address can have at most 200 characters.")]
    TooLong,
    #[error("Give a web address starting with http:// or https://.")]
    NotWeb,
    #[error("That is not a web address. Check it for typos, e.g. https://example.org.")]
    Malformed,
    #[error("Leave the user name and password out of the website address.")]
    Credentials,
}

impl Website {
    pub const MAX: usize = 200;

    pub fn parse(input: &str) -> Result<Option<Self>, WebsiteError> {
        let text = input.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > Self::MAX {
            return Err(WebsiteError::TooLong);
        }
        // "example.org/me" is how people write addresses; "javascript:…" or "mailto:…" name a
        // scheme and are judged as one. "example.org:8080" is a host and a port.
        let url = if has_scheme(text) {
            url::Url::parse(text)
        } else {
            url::Url::parse(&format!("https://{text}"))
        }
        .map_err(|_| WebsiteError::Malformed)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebsiteError::NotWeb);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(WebsiteError::Malformed);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(WebsiteError::Credentials);
        }
        let address = String::from(url);
        if address.len() > Self::MAX {
            return Err(WebsiteError::TooLong);
        }
        Ok(Some(Self(address)))
    }

    /// Parses what was stored by [`Website::parse`]; `None` for anything else, so a row edited
    /// by hand can never put another scheme into a link.
    pub fn from_stored(text: &str) -> Option<Self> {
        Self::parse(text).ok().flatten()
    }

    /// The address as a link shows it: no scheme, no lone trailing slash.
    pub fn label(&self) -> &str {
        let rest = self
            .0
            .strip_prefix("https://")
            .or_else(|| self.0.strip_prefix("http://"))
            .unwrap_or(&self.0);
        rest.strip_suffix('/')
            .filter(|r| !r.contains('/'))
            .unwrap_or(rest)
    }
}

impl AsRef<str> for Website {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `scheme:` followed by something other than a port number.
fn has_scheme(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_like = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_like && !rest.starts_with(|c: char| c.is_ascii_digit())
}

/// The form names and searches compare in: composed and lower-cased, the same in every
/// database (SQLite's `lower()` only knows ASCII). Final sigma folds to sigma, so a prefix
/// typed so far ("ΟΔΥΣ") finds the whole name ("Οδυσσεύς").
pub fn search_key(text: &str) -> String {
    text.nfc()
        .collect::<String>()
        .to_lowercase()
        .replace('ς', "σ")
}

/// No control characters (but line breaks when `newlines`), no direction or invisible
/// formatting characters, no blank-looking fillers. The joiners that emoji sequences and
/// Persian or Indic writing need are allowed between two visible characters only.
pub(super) fn all_visible(text: &str, newlines: bool) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let visible = |c: Option<&char>| c.is_some_and(|c| !c.is_whitespace() && !is_format(*c));
    chars.iter().enumerate().all(|(i, &c)| match c {
        '\n' => newlines,
        '\u{200C}' | '\u{200D}' => {
            visible(i.checked_sub(1).and_then(|p| chars.get(p))) && visible(chars.get(i + 1))
        }
        // Hangul fillers and the blank Braille pattern are letters that draw nothing.
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' => false,
        '\u{2028}' | '\u{2029}' => false,
        c if is_format(c) => false,
        c => !matches!(
            c.general_category(),
            GeneralCategory::Control | GeneralCategory::Unassigned | GeneralCategory::Surrogate
        ),
    })
}

/// Format characters: bidi overrides and isolates, zero-width spaces and joiners, tags…
fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(input: &str) -> Result<Option<String>, DisplayNameError> {
        DisplayName::parse(input).map(|n| n.map(|n| n.0))
    }

    #[test]
    fn display_names_in_any_script() {
        for ok in [
            "Ada Lovelace",
            "山田 太郎",
            "Дмитрий",
            "محمد علی",
            "Zoë",
            "👩‍💻 Ada",
            "ⓐ",
            &"x".repeat(50),
        ] {
            assert_eq!(name(ok), Ok(Some(ok.to_owned())), "{ok}");
        }
        assert_eq!(name("  Ada   Lovelace \t"), Ok(Some("Ada Lovelace".into())));
        assert_eq!(name("山田\u{3000}太郎"), Ok(Some("山田 太郎".into())));
        assert_eq!(name("   "), Ok(None));
        // Composed, so the same name typed two ways is one name.
        assert_eq!(name("Zoe\u{308}"), Ok(Some("Zoë".into())));
    }

    #[test]
    fn display_names_refused_with_the_reason() {
        assert_eq!(name(&"x".repeat(51)), Err(DisplayNameError::TooLong));
        for bad in [
            "evil\u{202E}gnp.exe",
            "a\u{200B}b",
            "\u{200D}Ada",
            "Ada\u{200D}",
            "line\nbreak",
            "nul\0",
            "bell\u{7}",
            "\u{3164}",
            "a\u{2066}b\u{2069}",
            "\u{FEFF}Ada",
            "soft\u{AD}hyphen",
            "Ada\u{E0041}",
            "para\u{2029}graph",
        ] {
            assert_eq!(name(bad), Err(DisplayNameError::Invisible), "{bad:?}");
        }
    }

    #[test]
    fn bios_keep_line_breaks_and_fold_blank_runs() {
        let bio = |s: &str| Bio::parse(s).map(|b| b.map(|b| b.0));
        assert_eq!(
            bio("Hello\r\n\r\n\r\nWorld  \nbye\n\n"),
            Ok(Some("Hello\n\nWorld\nbye".into()))
        );
        assert_eq!(bio(" \n \n "), Ok(None));
        assert_eq!(bio("<b>bold</b>"), Ok(Some("<b>bold</b>".into())));
        assert_eq!(
            bio(&"é".repeat(300)).map(|b| b.map(|b| b.chars().count())),
            Ok(Some(300))
        );
        assert_eq!(bio(&"x".repeat(301)), Err(BioError::TooLong));
        assert_eq!(bio("right\u{202E}left"), Err(BioError::Invisible));
        assert_eq!(bio("tab\tbed"), Ok(Some("tab bed".into())));
        assert_eq!(bio("bell\u{7}"), Err(BioError::Invisible));
    }

    #[test]
    fn websites_are_http_or_https() {
        let site = |s: &str| Website::parse(s).map(|w| w.map(|w| w.0));
        assert_eq!(
            site("https://example.org/me"),
            Ok(Some("https://example.org/me".into()))
        );
        assert_eq!(site("example.org"), Ok(Some("https://example.org/".into())));
        assert_eq!(
            site("Example.org:8080/x"),
            Ok(Some("https://example.org:8080/x".into()))
        );
        assert_eq!(
            site("HTTP://Example.org"),
            Ok(Some("http://example.org/".into()))
        );
        assert_eq!(site(""), Ok(None));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,x",
            "mailto:a@b.c",
            "ftp://example.org",
        ] {
            assert_eq!(site(bad), Err(WebsiteError::NotWeb), "{bad}");
        }
        for bad in [
            "https://",
            "http://exa mple.org",
            "https://[::1",
            "java\u{0}script:x",
        ] {
            assert_eq!(site(bad), Err(WebsiteError::Malformed), "{bad:?}");
        }
        assert_eq!(
            site("https://bank.example@evil.example"),
            Err(WebsiteError::Credentials)
        );
        assert_eq!(
            site(&format!("https://example.org/{}", "a".repeat(181))),
            Err(WebsiteError::TooLong)
        );
        assert_eq!(
            site(&format!("https://example.org/{}", "a".repeat(180))).map(|w| w.is_some()),
            Ok(true)
        );
    }

    #[test]
    fn website_labels_drop_the_scheme() {
        let label = |s: &str| {
            Website::parse(s)
                .ok()
                .flatten()
                .map(|w| w.label().to_owned())
        };
        assert_eq!(label("https://example.org"), Some("example.org".into()));
        assert_eq!(
            label("http://example.org/me/"),
            Some("example.org/me/".into())
        );
        assert_eq!(Website::from_stored("javascript:alert(1)"), None);
    }

    #[test]
    fn search_keys_ignore_case_in_every_script() {
        assert_eq!(search_key("ÉMILE"), "émile");
        assert_eq!(search_key("E\u{301}mile"), "émile");
        assert_eq!(search_key("ДМИТРИЙ"), "дмитрий");
        assert!(search_key("ΟΔΥΣΣΕΥΣ").starts_with(&search_key("ΟΔΥΣ")));
    }

    proptest! {
        #[test]
        fn a_parsed_display_name_is_visible_and_parses_to_itself(input in "\\PC{0,60}") {
            if let Ok(Some(name)) = DisplayName::parse(&input) {
                prop_assert!(name.0.chars().count() <= DisplayName::MAX);
                let hidden = |c: char| c.is_control() || (is_format(c) && !matches!(c, '\u{200C}' | '\u{200D}'));
                prop_assert!(!name.0.chars().any(hidden), "{:?}", name);
                prop_assert_eq!(DisplayName::parse(&name.0), Ok(Some(name.clone())));
            }
        }

        #[test]
        fn a_parsed_website_is_always_a_web_address(input in "[a-zA-Z:/.@%0-9-]{0,40}") {
            if let Ok(Some(site)) = Website::parse(&input) {
                prop_assert!(site.0.starts_with("http://") || site.0.starts_with("https://"));
                prop_assert_eq!(Website::from_stored(&site.0), Some(site.clone()));
            }
        }
    }
}
