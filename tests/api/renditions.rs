//! The files made beside each picture's 300×300 JPEG: their sizes, formats and pixels, how
//! pages offer them, and the rules every file of a picture shares (written before the commit,
//! deleted after it, found by `folio gc`, served by `/media` alike). Runs on every backend and
//! store (tests/postgres, tests/s3).

use std::collections::BTreeSet;
use std::time::Duration;

use folio::avatar::{PictureFile, PictureName, Renditions, Variant};
use folio::gc::collect_garbage;
use image::RgbImage;
use reqwest::StatusCode;

use crate::helpers::*;

#[allow(clippy::duplicate_mod)]
#[path = "../common/images.rs"]
mod images;

use images::*;

/// A picture with detail at every scale (colour ramps across, quadrant tints), so a wrong
/// crop, a wrong size or a smeared resize all show in the pixels.
fn ramps(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let tint = if (fx < 0.5) == (fy < 0.5) {
            40.0
        } else {
            200.0
        };
        image::Rgb([(255.0 * fx) as u8, (255.0 * fy) as u8, tint as u8])
    })
}

/// Every file of `picture` that `renditions` has, master included.
fn files_of(picture: &str, renditions: Renditions) -> BTreeSet<String> {
    let name = PictureName::parse(picture).expect("a picture's name");
    renditions
        .variants()
        .chain([Variant::MASTER])
        .map(|v| PictureFile::new(name, v).file_name())
        .collect()
}

/// Fetches a stored file as a browser would and decodes it by what it is served as.
async fn served_rgb(app: &TestApp, file: &str) -> RgbImage {
    let response = app.get(&format!("/media/profile_pics/{file}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{file}");
    let headers = response.headers().clone();
    let kind = header(&headers, "content-type");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&headers, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let body = response.bytes().await.expect("body");
    assert_eq!(
        body.as_ref(),
        app.stored_bytes(file).as_slice(),
        "{file}: served as stored"
    );
    let format = if file.ends_with(".webp") {
        assert_eq!(kind, "image/webp", "{file}");
        assert_eq!(&body[..4], b"RIFF");
        assert_eq!(&body[8..12], b"WEBP");
        image::ImageFormat::WebP
    } else {
        assert_eq!(kind, "image/jpeg", "{file}");
        let jpeg = decode_output(&body);
        assert!(
            jpeg_segments(&body)
                .iter()
                .all(|s| !(0xE1..=0xEF).contains(&s.marker)),
            "{file}: no metadata"
        );
        return RgbImage::from_raw(jpeg.width, jpeg.height, jpeg.pixels).expect("rgb");
    };
    image::load_from_memory_with_format(&body, format)
        .expect("a decodable WebP")
        .into_rgb8()
}

/// The mean absolute difference per channel between two pictures of one size.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn resized(image: &RgbImage, side: u32) -> RgbImage {
    image::imageops::resize(image, side, side, image::imageops::FilterType::Lanczos3)
}

/// Each file of `picture` against its master: the right size, and the master's pixels at that
/// size (a 600×600 is made from the upload itself, so it is compared shrunk to the master).
async fn assert_renditions_match(app: &TestApp, picture: &str, renditions: Renditions) {
    let master = served_rgb(app, picture).await;
    assert_eq!(master.dimensions(), (300, 300));
    let name = PictureName::parse(picture).expect("a picture's name");
    for variant in renditions.variants() {
        let file = PictureFile::new(name, variant).file_name();
        let got = served_rgb(app, &file).await;
        let side = variant.side();
        assert_eq!(got.dimensions(), (side, side), "{file}");
        let difference = if side > 300 {
            mean_difference(&resized(&got, 300), &master)
        } else {
            mean_difference(&got, &resized(&master, side))
        };
        assert!(difference < 6.0, "{file}: {difference:.1} from the master");
    }
}

/// The `srcset` candidates of every `<img>` and `<source>` that shows a stored picture, with
/// the width the page displays it at (`sizes`), checked for the contract's rule: each offers a
/// file no wider than twice what it shows, in JPEG and in WebP.
fn assert_sized_for_the_page(html: &str, page: &str) -> Vec<String> {
    let mut urls = Vec::new();
    let mut shown = 0;
    for tag in html.split('<').filter(|t| t.starts_with("img ")) {
        let attr = |name: &str| {
            tag.split_once(&format!(" {name}=\""))
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(value, _)| value.replace("&#x2f;", "/"))
        };
        let src = attr("src").expect("every img has a src");
        if !src.contains("/profile_pics/") {
            continue;
        }
        shown += 1;
        let px: u32 = attr("width").expect("a width").parse().expect("a number");
        assert_eq!(
            attr("sizes").as_deref(),
            Some(format!("{px}px").as_str()),
            "{page}: {tag}"
        );
        let srcset = attr("srcset").unwrap_or_else(|| panic!("{page}: no srcset on {tag}"));
        // Each candidate's width, its address kept; and what a 2× screen takes: the smallest
        // file at least twice as wide as shown, or the widest there is, which must never be
        // wider than twice what it shows.
        let mut sized = |srcset: &str, extension: &str| -> Vec<u32> {
            let widths: Vec<u32> = srcset
                .split(", ")
                .map(|candidate| {
                    let (url, width) = candidate.rsplit_once(' ').expect("url and width");
                    assert!(url.ends_with(extension), "{page}: {url}");
                    urls.push(url.to_owned());
                    width.trim_end_matches('w').parse().expect("a width")
                })
                .collect();
            let at_2x = widths
                .iter()
                .copied()
                .filter(|&w| w >= 2 * px)
                .min()
                .or_else(|| widths.iter().copied().max())
                .expect("candidates");
            assert!(at_2x <= 2 * px, "{page}: {px} px shown, offered {widths:?}");
            widths
        };
        let widths = sized(&srcset, ".jpg");
        // The WebP source just before it offers those widths (and the 600, which is WebP
        // alone).
        let before = &html[..html.find(tag).expect("the tag")];
        let source = before
            .rsplit_once("<source ")
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("{page}: no <source> before {tag}"));
        assert!(
            source.starts_with("type=\"image/webp\""),
            "{page}: {source}"
        );
        let webp = source
            .split_once("srcset=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| v.to_owned())
            .expect("a WebP srcset");
        let webp = sized(&webp, ".webp");
        let jpeg_only: Vec<u32> = widths
            .iter()
            .copied()
            .filter(|w| !webp.contains(w))
            .collect();
        assert!(jpeg_only.is_empty(), "{page}: {jpeg_only:?} not in WebP");
        assert!(
            webp.iter().all(|w| widths.contains(w) || *w == 600),
            "{page}: {webp:?} against {widths:?}"
        );
    }
    assert!(shown > 0, "{page} shows a stored picture");
    urls
}

#[tokio::test]
async fn an_upload_stores_every_rendition_at_its_size() {
    let app = spawn_app().await;
    app.sign_up("ada").await;
    // 1200×900: the centred square has 900 pixels a side, enough for a 600×600.
    let response = app
        .upload_picture(jpeg(&ramps(1200, 900), 92), "ada.jpg", "image/jpeg")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("ada").expect("a picture");
    assert_eq!(
        app.all_picture_files(),
        files_of(&picture, Renditions::Large)
    );
    assert_renditions_match(&app, &picture, Renditions::Large).await;
    // As if an earlier release had stored it, when the 600×600 was also made in JPEG: that
    // file goes with the picture too.
    let name = PictureName::parse(&picture).expect("a picture's name");
    app.store()
        .put_beside(name, vec![(Variant::RETIRED, jpeg(&ramps(600, 600), 85))])
        .await
        .expect("stored");
    assert_eq!(
        app.all_picture_files().len(),
        files_of(&picture, Renditions::Large).len() + 1
    );

    // A square of 400 pixels gets the smaller sizes only: never an enlargement.
    let response = app
        .upload_with_fields(
            jpeg(&ramps(1200, 900), 92),
            &[("crop_x", "100"), ("crop_y", "50"), ("crop_size", "400")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let second = app.picture_of("ada").expect("a picture");
    assert_ne!(second, picture);
    assert_eq!(
        app.all_picture_files(),
        files_of(&second, Renditions::Standard),
        "the first picture's files are all gone"
    );
    assert_renditions_match(&app, &second, Renditions::Standard).await;
    let profile = app.get_html("/users/ada").await;
    assert!(!profile.contains(" 600w"), "no 600 offered: {profile}");

    // Removing the picture removes every file.
    let token = app.token_from("/account").await;
    let response = app
        .post_raw("/account/picture/delete", &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.all_picture_files().is_empty());
}

#[tokio::test]
async fn every_page_offers_a_picture_at_the_size_it_shows() {
    let app = spawn_app().await;
    app.sign_up("grace").await;
    let response = app
        .upload_picture(jpeg(&ramps(900, 900), 92), "g.jpg", "image/jpeg")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("grace").expect("a picture");
    let mut urls = BTreeSet::new();
    for page in ["/", "/users", "/users/grace", "/account"] {
        let html = app.get_html(page).await;
        urls.extend(assert_sized_for_the_page(&html, page));
    }
    let profile = app.get_html("/users/grace").await;
    assert!(
        profile.contains(" 600w"),
        "the profile offers the 600: {profile}"
    );
    // Link previews keep the master's address.
    assert_eq!(
        meta(&profile, "og:image"),
        Some(app.public_url(&format!("/media/profile_pics/{picture}")))
    );
    // Every address offered is a file of this picture, served.
    let offered: BTreeSet<String> = urls
        .iter()
        .map(|u| u.rsplit('/').next().expect("a name").to_owned())
        .collect();
    assert_eq!(offered, files_of(&picture, Renditions::Large));
    for url in &urls {
        let response = app.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }

    // A suspended member's files are all kept and none is served.
    app.execute_sql("UPDATE users SET suspended_at = 1 WHERE username = 'grace'");
    for url in &urls {
        assert_eq!(app.get(url).await.status(), StatusCode::NOT_FOUND, "{url}");
    }
    assert_eq!(app.picture_files(), BTreeSet::from([picture]));
}

#[tokio::test]
async fn gc_makes_the_renditions_of_pictures_stored_before_them() {
    let app = spawn_app().await;
    app.sign_up("hopper").await;
    let response = app
        .upload_picture(jpeg(&ramps(800, 800), 92), "h.jpg", "image/jpeg")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("hopper").expect("a picture");
    // As an older Folio left it: the master alone, recorded without renditions.
    let store = app.store();
    let name = PictureName::parse(&picture).expect("name");
    for variant in Renditions::Large.variants() {
        store
            .delete_file(PictureFile::new(name, variant))
            .await
            .expect("delete");
    }
    app.execute_sql("UPDATE users SET picture_renditions = 0 WHERE username = 'hopper'");
    let master = app.stored_bytes(&picture);

    // Until gc runs, pages show the master alone.
    let profile = app.get_html("/users/hopper").await;
    assert!(!profile.contains("srcset"), "{profile}");
    assert!(profile.contains(&format!("src=\"/media/profile_pics/{picture}\"")));

    let report = collect_garbage(&app.db(), &store, Duration::from_secs(3600))
        .await
        .expect("gc runs");
    assert_eq!(report.renditions_made, 1);
    assert!(report.removed.is_empty(), "{:?}", report.removed);
    // From the master there is nothing to make a 600×600 from.
    assert_eq!(
        app.all_picture_files(),
        files_of(&picture, Renditions::Standard)
    );
    assert_eq!(
        app.stored_bytes(&picture),
        master,
        "the master is untouched"
    );
    assert_renditions_match(&app, &picture, Renditions::Standard).await;
    for page in ["/users/hopper", "/users"] {
        assert_sized_for_the_page(&app.get_html(page).await, page);
    }

    // Nothing more to make.
    let report = collect_garbage(&app.db(), &store, Duration::from_secs(3600))
        .await
        .expect("gc runs");
    assert_eq!(report.renditions_made, 0);
}

/// A crash (kill -9) between an upload's writes leaves some files of a picture nobody points
/// at; gc removes each of them once old enough, and never a file of a picture in use.
#[tokio::test]
async fn gc_removes_every_file_a_crash_left_of_an_unused_picture() {
    let app = spawn_app().await;
    app.sign_up("lovelace").await;
    let response = app
        .upload_picture(jpeg(&ramps(700, 700), 92), "l.jpg", "image/jpeg")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let in_use = app.picture_of("lovelace").expect("a picture");
    let bytes = app.stored_bytes(&in_use);

    let partial = |picture: PictureName, variants: &[Variant]| -> Vec<String> {
        variants
            .iter()
            .map(|&v| PictureFile::new(picture, v).file_name())
            .collect()
    };
    let some: Vec<Variant> = Renditions::Large.variants().take(3).collect();
    let old = partial(PictureName::generate(), &some);
    let young = partial(PictureName::generate(), &some);
    let orphan = PictureName::generate();
    let mut with_master = partial(orphan, &some);
    with_master.push(PictureFile::new(orphan, Variant::MASTER).file_name());
    for name in old.iter().chain(&young).chain(&with_master) {
        app.put_raw(name, bytes.clone());
    }
    for name in old.iter().chain(&with_master) {
        app.age(name, Duration::from_secs(2 * 3600));
    }
    for name in files_of(&in_use, Renditions::Large) {
        app.age(&name, Duration::from_secs(2 * 3600));
    }

    let report = collect_garbage(&app.db(), &app.store(), Duration::from_secs(3600))
        .await
        .expect("gc runs");
    let removed: BTreeSet<String> = report.removed.into_iter().collect();
    let expected: BTreeSet<String> = old.iter().chain(&with_master).cloned().collect();
    assert_eq!(removed, expected);
    let mut left = files_of(&in_use, Renditions::Large);
    left.extend(young);
    assert_eq!(app.all_picture_files(), left);
}
