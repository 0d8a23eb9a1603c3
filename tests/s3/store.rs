//! What only a bucket can show: where the objects go, signatures, a missing bucket, an
//! outage, a public base URL.

use folio::config::MediaStore;
use folio::startup::Application;
use reqwest::StatusCode;

use crate::helpers::s3::{S3Server, shared};
use crate::helpers::*;

#[tokio::test]
async fn pictures_are_objects_under_the_prefix_and_nothing_is_written_to_disk() {
    let Some(server) = shared() else {
        return;
    };
    let bucket = server.create_bucket();
    let app =
        spawn_app_with(|s| s.media_store = bucket_settings(server, &bucket, "site/one")).await;
    app.sign_up("olive").await;
    let response = app
        .upload_picture(solid_png(50, 40, [200, 30, 90]), "me.png", "image/png")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let name = app.picture_of("olive").expect("a picture");
    assert_eq!(app.picture_files(), [name.clone()].into_iter().collect());
    // s3s-fs keeps the object as a file: it is under the prefix, whole, and a JPEG.
    let file = server
        .bucket_dir(&bucket)
        .join("site/one/profile_pics")
        .join(&name);
    let on_server = std::fs::read(&file).expect("the object's file");
    assert!(on_server.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert_eq!(on_server, app.stored_bytes(&name));
    assert!(
        !app.settings.media_dir.exists(),
        "no media folder when pictures are in a bucket"
    );

    // Served by Folio from the bucket, with a tag that answers 304 the second time.
    let url = format!("/media/profile_pics/{name}");
    let first = app.get(&url).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(first.headers(), "content-type"), "image/jpeg");
    assert_eq!(
        header(first.headers(), "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header(first.headers(), "etag");
    assert!(etag.starts_with('"'), "{etag}");
    assert_eq!(first.bytes().await.expect("body")[..], on_server[..]);
    let again = app
        .client
        .get(app.url(&url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("body").is_empty());
    let missing = format!("/media/profile_pics/{}.jpg", uuid::Uuid::new_v4());
    assert_eq!(app.get(&missing).await.status(), StatusCode::NOT_FOUND);
}

/// Starts the app with `store` and returns the one-line error it stops with.
async fn refused(store: MediaStore) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let mut settings = test_settings(&dir, None);
    settings.media_store = store;
    match Application::build(settings).await {
        Ok(_) => panic!("the app started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_bucket_that_is_missing_or_refuses_the_credentials_stops_the_start() {
    let Some(server) = shared() else {
        return;
    };
    let error = refused(bucket_settings(server, "no-such-bucket", "")).await;
    assert!(error.starts_with("FOLIO_MEDIA_STORE"), "{error}");
    assert!(error.contains("does not exist"), "{error}");

    // A wrong secret: s3s-fs checks the signature, as S3 does.
    let bucket = server.create_bucket();
    let MediaStore::S3(mut wrong) = bucket_settings(server, &bucket, "") else {
        unreachable!()
    };
    wrong.secret_access_key = Some("not-the-secret-at-all".to_owned().into());
    let error = refused(MediaStore::S3(wrong)).await;
    assert!(error.starts_with("FOLIO_MEDIA_STORE"), "{error}");
    assert!(error.contains("refused the credentials"), "{error}");
    assert!(!error.contains("not-the-secret"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
}

#[tokio::test]
async fn when_the_store_is_down_uploads_wait_and_nothing_changes() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let bucket = server.create_bucket();
    let app = spawn_app_with(|s| s.media_store = bucket_settings(&server, &bucket, "")).await;
    app.sign_up("stella").await;
    assert_eq!(
        app.upload_picture(solid_png(50, 40, [200, 30, 90]), "a.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let old = app.picture_of("stella").expect("a picture");
    let old_bytes = app.stored_bytes(&old);

    server.stop();
    let token = app.token_from("/account").await;
    let response = app
        .upload_with_token(
            &token,
            solid_png(50, 40, [200, 30, 90]),
            "b.png",
            "image/png",
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = response.text().await.expect("page");
    assert!(page.contains("Try again in a few minutes"), "{page}");
    assert_eq!(app.picture_of("stella").as_deref(), Some(old.as_str()));
    // Pages still work; the picture itself cannot be fetched: 503, not a 500 page.
    for path in ["/", "/account", "/users/stella"] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
    }
    let picture = app.get(&format!("/media/profile_pics/{old}")).await;
    assert_eq!(picture.status(), StatusCode::SERVICE_UNAVAILABLE);

    server.restart();
    assert_eq!(app.picture_files(), [old.clone()].into_iter().collect());
    let picture = app.get(&format!("/media/profile_pics/{old}")).await;
    assert_eq!(picture.status(), StatusCode::OK);
    assert_eq!(picture.bytes().await.expect("body")[..], old_bytes[..]);
    assert_eq!(
        app.upload_picture(solid_png(50, 40, [200, 30, 90]), "c.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let new = app.picture_of("stella").expect("a picture");
    assert_ne!(new, old);
    assert_eq!(app.picture_files(), [new].into_iter().collect());
}

#[tokio::test]
async fn with_a_public_base_url_pages_point_there() {
    let app = spawn_app_with(|s| {
        s.media_public_url = Some("https://cdn.example.org/folio".into());
    })
    .await;
    app.sign_up("paula").await;
    app.upload_picture(solid_png(50, 40, [200, 30, 90]), "p.png", "image/png")
        .await;
    let name = app.picture_of("paula").expect("a picture");
    let expected = format!("https://cdn.example.org/folio/profile_pics/{name}");
    let profile = app.get_html("/users/paula").await;
    assert!(
        profile.contains(&format!(r#"src="{expected}""#))
            && profile.contains(r#"<img id="avatar""#),
        "{profile}"
    );
    let account = app.get("/account").await;
    let csp = header(account.headers(), "content-security-policy");
    assert!(
        csp.contains("img-src 'self' data: blob: https://cdn.example.org;"),
        "{csp}"
    );
    assert!(account.text().await.expect("page").contains(&expected));
    // Folio still serves it itself too, for a CDN that pulls from it.
    assert_eq!(
        app.get(&format!("/media/profile_pics/{name}"))
            .await
            .status(),
        StatusCode::OK
    );
}
