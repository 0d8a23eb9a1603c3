//! `GET /avatars/{username}.svg`: the default picture, the initials of a name on a colour
//! derived from it. Made here, from the name alone: no outside service, no database.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::AppError;

/// Longer names than any username are not worth drawing.
const MAX_NAME: usize = 64;

pub async fn initials_avatar(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let name = path
        .strip_suffix(".svg")
        .filter(|name| !name.is_empty() && name.chars().count() <= MAX_NAME)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // The picture depends on the name only; a renamed user gets a new address.
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(initials_svg(name)))
}

/// A 300×300 SVG: up to two initials, white, on the name's colour.
pub fn initials_svg(name: &str) -> String {
    let (r, g, b) = background(name);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"300\" \
         viewBox=\"0 0 300 300\"><rect width=\"300\" height=\"300\" \
         fill=\"#{r:02x}{g:02x}{b:02x}\"/><text x=\"150\" y=\"150\" dy=\".35em\" \
         text-anchor=\"middle\" font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, \
         sans-serif\" font-size=\"128\" font-weight=\"600\" fill=\"#ffffff\">{}</text></svg>",
        escape(&initials(name))
    )
}

/// The first letter or digit of the first two parts of the name (split at `_ . -`), upper
/// case: "ada" → "A", "peggy.s" → "PS". Anything else in the name is never drawn.
fn initials(name: &str) -> String {
    let letters: String = name
        .split(['_', '.', '-'])
        .filter_map(|part| part.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".to_owned()
    } else {
        letters
    }
}

/// Text for an SVG (XML) document. `initials` keeps only letters and digits already; this is
/// the second line of defence.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A hue from a stable hash of the name (ignoring case, as usernames are unique ignoring
/// case), darkened until white text on it has a contrast of at least 4.5:1.
fn background(name: &str) -> (u8, u8, u8) {
    let hue = fnv1a(name.to_lowercase().as_bytes()) % 360;
    let mut lightness = 0.45;
    loop {
        let rgb = hsl_to_rgb(f64::from(hue), 0.55, lightness);
        if contrast_with_white(rgb) >= 4.5 || lightness <= 0.2 {
            return rgb;
        }
        lightness -= 0.01;
    }
}

/// 32-bit FNV-1a: tiny, and stable across builds and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// HSL (hue in degrees, any turn) to RGB; also the drawn Libravatar defaults' colours.
pub(crate) fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> (u8, u8, u8) {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue.rem_euclid(360.0) / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (byte(r), byte(g), byte(b))
}

/// WCAG 2 contrast ratio of white against `rgb`.
fn contrast_with_white((r, g, b): (u8, u8, u8)) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    1.05 / (luminance + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_come_from_the_parts_of_the_name() {
        assert_eq!(initials("walter"), "W");
        assert_eq!(initials("peggy.s"), "PS");
        assert_eq!(initials("john_ronald_reuel"), "JR");
        assert_eq!(initials("_x-9"), "X9");
        assert_eq!(initials("..."), "?");
    }

    #[test]
    fn nothing_from_the_name_but_letters_and_digits_reaches_the_svg() {
        let svg = initials_svg("<script>&\"'x");
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains(">S</text>"), "{svg}");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn the_colour_is_stable_ignores_case_and_differs_between_names() {
        assert_eq!(background("Walter"), background("walter"));
        assert_eq!(initials_svg("walter"), initials_svg("walter"));
        assert_ne!(background("walter"), background("peggy"));
    }

    #[test]
    fn white_initials_are_readable_on_every_hue() {
        for hue in 0..360 {
            let name = format!("user{hue}");
            let rgb = background(&name);
            assert!(contrast_with_white(rgb) >= 4.5, "{name}: {rgb:?}");
        }
        for hue in (0..360).step_by(15) {
            let mut l = 0.45;
            while contrast_with_white(hsl_to_rgb(f64::from(hue), 0.55, l)) < 4.5 {
                l -= 0.01;
            }
            assert!(l > 0.2, "hue {hue} needs lightness {l}");
        }
    }

    #[test]
    fn hsl_conversion_matches_known_colours() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), (255, 0, 0));
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), (0, 255, 0));
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), (0, 0, 255));
        assert_eq!(hsl_to_rgb(0.0, 0.0, 1.0), (255, 255, 255));
    }
}
