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
    Jxl,
    Bmp,
    Tiff,
    Ico,
    /// Decoded in a child process (`isolated.rs`).
    Avif,
    /// Decoded in a child process (`isolated.rs`), one at a time.
    Heic,
}

impl Format {
    /// The decoder this format gets.
    pub(crate) fn decoder(self) -> Decoder {
        match self {
            Format::Jpeg => formats::jpeg::decode,
            Format::Png => formats::png::decode,
            Format::Gif => formats::gif::decode,
            Format::WebP => formats::webp::decode,
            Format::Jxl => formats::jxl::decode,
            Format::Bmp => formats::bmp::decode,
            Format::Tiff => formats::tiff::decode,
            Format::Ico => formats::ico::decode,
            Format::Avif => super::isolated::decode_avif,
            Format::Heic => super::isolated::decode_heic,
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
            b"avif" | b"avis" => Accepted(Format::Avif),
            // A generic HEIF brand: AVIF when its compatible brands say so.
            b"mif1" | b"msf1" if ftyp_has_brand(bytes, &[b"avif", b"avis"]) => {
                Accepted(Format::Avif)
            }
            // HEVC stills and sequences, and other generic HEIF (a mif1 file of JPEG or
            // other items is refused by the decoder as unreadable).
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Accepted(Format::Heic)
            }
            _ => Refused("Video"),
        };
    }
    if starts(b"%PDF-") {
        return Refused("PDF");
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return Accepted(Format::Tiff);
    }
    if starts(b"BM") && bytes.len() >= 26 {
        return Accepted(Format::Bmp);
    }
    // Icons (type 1) and cursors (type 2) share the container.
    if starts(&[0, 0, 1, 0]) || starts(&[0, 0, 2, 0]) {
        return Accepted(Format::Ico);
    }
    if starts(b"8BPS") {
        return Refused("Photoshop");
    }
    // A bare codestream, or the ISOBMFF container.
    if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Accepted(Format::Jxl);
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

/// Whether the `ftyp` box at the start lists one of `brands` among its compatible brands.
fn ftyp_has_brand(bytes: &[u8], brands: &[&[u8; 4]]) -> bool {
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.min(bytes.len());
    // Size, type, major brand and minor version come first.
    bytes.get(16..end).is_some_and(|compatible| {
        compatible
            .chunks_exact(4)
            .any(|brand| brands.iter().any(|b| b.as_slice() == brand))
    })
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
        assert_eq!(sniff(b"II*\0\x08\0\0\0"), Sniffed::Accepted(Format::Tiff));
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), Sniffed::Accepted(Format::Tiff));
        assert_eq!(
            sniff(b"BM\x46\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0"),
            Sniffed::Accepted(Format::Bmp)
        );
        assert_eq!(sniff(b"BM too short"), Sniffed::Unknown);
        assert_eq!(
            sniff(&[0, 0, 1, 0, 1, 0, 16, 16]),
            Sniffed::Accepted(Format::Ico)
        );
        assert_eq!(
            sniff(&[0, 0, 2, 0, 1, 0, 16, 16]),
            Sniffed::Accepted(Format::Ico)
        );
    }

    #[test]
    fn accepts_avif_and_jpeg_xl() {
        for avif in [
            &b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"[..],
            b"\0\0\0\x1cftypavis\0\0\0\0avismsf1miaf",
            b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif",
        ] {
            assert_eq!(sniff(avif), Sniffed::Accepted(Format::Avif));
        }
        // A compatible brand past the box's own size does not count.
        assert_eq!(
            sniff(b"\0\0\0\x14ftypmif1\0\0\0\0mif1avif"),
            Sniffed::Accepted(Format::Heic)
        );
        assert_eq!(sniff(b"\xFF\x0A\xFA\x7F"), Sniffed::Accepted(Format::Jxl));
        assert_eq!(
            sniff(b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14ftypjxl "),
            Sniffed::Accepted(Format::Jxl)
        );
    }

    #[test]
    fn accepts_heic() {
        for heic in [
            &b"\0\0\0\x1cftypheic\0\0\0\0"[..],
            b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic",
            b"\0\0\0\x18ftypheix\0\0\0\0mif1heix",
            b"\0\0\0\x18ftypmsf1\0\0\0\0msf1hevc",
        ] {
            assert_eq!(sniff(heic), Sniffed::Accepted(Format::Heic));
        }
        assert_eq!(
            sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomavc1"),
            Sniffed::Refused("Video")
        );
    }

    #[test]
    fn names_refused_kinds() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Refused("PDF"));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"),
            Sniffed::Refused("SVG")
        );
        assert_eq!(sniff(b"  <SVG onload=alert(1)>"), Sniffed::Refused("SVG"));
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
