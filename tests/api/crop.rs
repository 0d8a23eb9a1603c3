//! The square a person chooses: `crop_x`, `crop_y`, `crop_size` in pixels of the upright
//! picture, all three or none; anything else is a 422 and nothing is stored.

use reqwest::StatusCode;

use crate::helpers::*;

#[allow(clippy::duplicate_mod)]
#[path = "../common/images.rs"]
mod images;

use images::*;

/// The stored picture of `username`, decoded.
async fn stored(app: &TestApp, username: &str) -> DecodedJpeg {
    let name = app.picture_of(username).expect("a picture");
    let response = app.get(&format!("/media/profile_pics/{name}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    decode_output(&response.bytes().await.expect("body"))
}

#[tokio::test]
async fn the_chosen_square_is_the_one_stored() {
    let app = spawn_app().await;
    app.sign_up("ada").await;
    // Stored turned (orientation 6), 600×400 upright: the square is in upright pixels.
    let photo = oriented_jpeg(6);
    for (square, colour) in [
        (["420", "30", "150"], GREEN),
        (["40", "230", "160"], BLUE),
        (["20", "20", "150"], RED),
    ] {
        let fields = [
            ("crop_x", square[0]),
            ("crop_y", square[1]),
            ("crop_size", square[2]),
        ];
        let response = app.upload_with_fields(photo.clone(), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{square:?}");
        let out = stored(&app, "ada").await;
        assert_eq!((out.width, out.height), (300, 300));
        assert_uniform(&out, colour, TOLERANCE, &format!("{square:?}"));
    }
    assert_eq!(app.picture_files().len(), 1, "each replaced the last");

    // No fields, or empty ones (a form without its script): the centred square.
    for fields in [
        &[][..],
        &[("crop_x", ""), ("crop_y", ""), ("crop_size", "")][..],
    ] {
        let response = app.upload_with_fields(photo.clone(), fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_quadrants(&stored(&app, "ada").await, UPRIGHT, "centred");
    }
}

#[tokio::test]
async fn a_bad_square_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.sign_up("grace").await;
    let photo = jpeg(&quadrants(600, 400, UPRIGHT), 90);
    assert_eq!(
        app.upload_picture(photo.clone(), "first.jpg", "image/jpeg")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let before = app.picture_files();
    let picture = app.picture_of("grace");

    let bad: [(&[(&str, &str)], &str); 9] = [
        (&[("crop_x", "10"), ("crop_y", "10")], "three whole numbers"),
        (&[("crop_size", "100")], "three whole numbers"),
        (
            &[("crop_x", "a"), ("crop_y", "0"), ("crop_size", "100")],
            "three whole numbers",
        ),
        (
            &[("crop_x", "-1"), ("crop_y", "0"), ("crop_size", "100")],
            "three whole numbers",
        ),
        (
            &[("crop_x", "1.5"), ("crop_y", "0"), ("crop_size", "100")],
            "three whole numbers",
        ),
        (
            &[("crop_x", "0"), ("crop_y", "0"), ("crop_size", "0")],
            "does not lie inside",
        ),
        (
            &[("crop_x", "0"), ("crop_y", "0"), ("crop_size", "401")],
            "does not lie inside",
        ),
        (
            &[("crop_x", "300"), ("crop_y", "0"), ("crop_size", "301")],
            "does not lie inside",
        ),
        (
            &[
                ("crop_x", "4294967295"),
                ("crop_y", "0"),
                ("crop_size", "2"),
            ],
            "does not lie inside",
        ),
    ];
    for (fields, words) in bad {
        let response = app.upload_with_fields(photo.clone(), fields).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        let html = response.text().await.expect("body");
        assert!(html.contains(words), "{fields:?}: {html}");
        assert!(html.contains(r#"id="picture-error""#));
        assert_eq!(app.picture_files(), before, "{fields:?}");
        assert_eq!(app.picture_of("grace"), picture, "{fields:?}");
    }
}
