//! What a file is, judged by its first bytes only (never its name or declared type), and
//! which decoder it gets.

use super::formats::{self, Decoder};

/// The decoders Folio runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    WebP,
}

impl Format {
    /// The decoder this format gets.
    pub(crate) fn decoder(self) -> Decoder {
        match self {
            Format::Jpeg => formats::jpeg::decode,
            Format::Png => formats::png::decode,
            Format::Gif => formats::gif::decode,
            Format::WebP => formats::webp::decode,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Empty,
    Accepted(Format),
    /// A recognisable kind of file that Folio does not take, by its common name.
    Refused(&'static str),
    Unknown,
}

pub fn sniff(bytes: &[u8]) -> Sniffed {
    use Sniffed::*;
    if bytes.is_empty() {
        return Empty;
    }
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Accepted(Format::Jpeg);
    }
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Accepted(Format::Png);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Accepted(Format::Gif);
    }
    if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Accepted(Format::WebP);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"avif" | b"avis" => Refused("AVIF"),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Refused("HEIC")
            }
            _ => Refused("Video"),
        };
    }
    if starts(b"%PDF-") {
        return Refused("PDF");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Refused("TIFF");
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Refused("BMP");
    }
    if starts(&[0, 0, 1, 0]) || starts(&[0, 0, 2, 0]) {
        return Refused("ICO");
    }
    if starts(b"8BPS") {
        return Refused("Photoshop");
    }
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Refused("JPEG XL");
    }
    if starts(b"\0\0\0\x0cjP  \r\n\x87\n") {
        return Refused("JPEG 2000");
    }
    if starts(b"qoif") {
        return Refused("QOI");
    }
    if looks_like_svg(bytes) {
        return Refused("SVG");
    }
    Unknown
}

/// SVG is text: an `<svg` element near the start, possibly after an XML prolog, a doctype or
/// comments.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut text = lower.trim_start_matches('\u{feff}').trim_start();
    // XML allows comments before the root element.
    while let Some(rest) = text.strip_prefix("<!--") {
        let Some(end) = rest.find("-->") else { break };
        text = rest[end + 3..].trim_start();
    }
    (text.starts_with("<?xml") || text.starts_with("<svg") || text.starts_with("<!doctype svg"))
        && text.contains("<svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_accepted_formats_by_magic() {
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0rest"),
            Sniffed::Accepted(Format::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\nrest"),
            Sniffed::Accepted(Format::Png)
        );
        assert_eq!(sniff(b"GIF89a..."), Sniffed::Accepted(Format::Gif));
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Sniffed::Accepted(Format::WebP)
        );
    }

    #[test]
    fn names_refused_kinds() {
        assert_eq!(
            sniff(b"\0\0\0\x1cftypheic\0\0\0\0"),
            Sniffed::Refused("HEIC")
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0"),
            Sniffed::Refused("AVIF")
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Refused("PDF"));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"),
            Sniffed::Refused("SVG")
        );
        assert_eq!(sniff(b"  <SVG onload=alert(1)>"), Sniffed::Refused("SVG"));
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Sniffed::Refused("TIFF"));
    }

    #[test]
    fn everything_else_is_not_an_image() {
        assert_eq!(sniff(b""), Sniffed::Empty);
        assert_eq!(sniff(b"hello, world"), Sniffed::Unknown);
        assert_eq!(
            sniff(b"<!doctype html><html><script>x</script>"),
            Sniffed::Unknown
        );
        assert_eq!(sniff(b"<?xml version=\"1.0\"?><note/>"), Sniffed::Unknown);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Sniffed::Unknown);
    }
}
