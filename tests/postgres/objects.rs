//! Several instances on one PostgreSQL and one bucket: every ordering rule of the picture swap
//! holds across them.

use std::process::{Child, Command, Stdio};

use folio::config::MediaStore;
use reqwest::StatusCode;

use crate::helpers::*;

/// Two instances on this test's database and a bucket of their own; `None` without s3s-fs.
async fn two_instances_one_bucket() -> Option<(TestApp, TestApp)> {
    let bucket = fresh_bucket()?;
    let a = spawn_app_with(|s| s.media_store = bucket).await;
    let b = a.another_instance().await;
    Some((a, b))
}

#[tokio::test]
async fn a_picture_stored_through_one_instance_is_served_and_replaced_through_the_other() {
    let Some((a, b)) = two_instances_one_bucket().await else {
        return;
    };
    a.sign_up("bea").await;
    assert_eq!(
        a.upload_picture(solid_png(64, 48, [200, 0, 0]), "a.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let first = a.picture_of("bea").expect("a picture");
    assert!(b.get_html("/users/bea").await.contains(&first));
    let served = b.get(&format!("/media/profile_pics/{first}")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(
        served.bytes().await.expect("body")[..],
        a.stored_bytes(&first)[..]
    );

    assert_eq!(
        b.upload_picture(solid_png(64, 48, [0, 0, 200]), "b.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let second = b.picture_of("bea").expect("a picture");
    assert_ne!(second, first);
    assert_eq!(
        a.picture_files(),
        [second.clone()].into_iter().collect(),
        "the old object is gone"
    );
    assert_eq!(
        a.get(&format!("/media/profile_pics/{first}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        a.get(&format!("/media/profile_pics/{second}"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn eight_uploads_at_once_through_two_instances_leave_exactly_the_one_shown() {
    let Some((a, b)) = two_instances_one_bucket().await else {
        return;
    };
    a.sign_up("octo").await;
    let (ta, tb) = (
        a.token_from("/account").await,
        b.token_from("/account").await,
    );
    let uploads = (0..8u8).map(|i| {
        let (app, token) = if i % 2 == 0 { (&a, &ta) } else { (&b, &tb) };
        app.upload_with_token(
            token,
            solid_png(64, 48, [i * 30, 100, 50]),
            "x.png",
            "image/png",
        )
    });
    for response in futures_util::future::join_all(uploads).await {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let shown = a.picture_of("octo").expect("a picture");
    assert_eq!(a.picture_files(), [shown.clone()].into_iter().collect());
    let html = b.get_html("/users/octo").await;
    assert!(
        html.contains(&format!("/media/profile_pics/{shown}")),
        "{html}"
    );
    assert_eq!(
        b.get(&format!("/media/profile_pics/{shown}"))
            .await
            .status(),
        StatusCode::OK
    );
}

/// A server process that is killed when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `folio serve` process on `app`'s database and bucket (the key file is shared).
fn serve_process(app: &TestApp) -> (Running, u16) {
    use std::io::{BufRead, BufReader};
    let MediaStore::S3(s3) = &app.settings.media_store else {
        panic!("a bucket");
    };
    let database = app.database.as_ref().expect("PostgreSQL");
    let mut child = Command::new(env!("CARGO_BIN_EXE_folio"))
        .current_dir(app.dir.path())
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", database.cluster.url(&database.name))
        .env("FOLIO_SECRET_KEY_FILE", &app.settings.secret_key_file)
        .env("FOLIO_MEDIA_STORE", format!("s3://{}", s3.bucket))
        .env(
            "AWS_ENDPOINT_URL",
            s3.endpoint.as_deref().expect("endpoint"),
        )
        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
        .env("AWS_ALLOW_HTTP", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start folio");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("folio exited before listening")
            .expect("log");
        if let Some(at) = line.find("listening on http://127.0.0.1:") {
            break line[at + 30..].trim().parse::<u16>().expect("port");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Running(child), port)
}

#[tokio::test]
async fn an_instance_killed_in_the_middle_of_an_upload_loses_nobody_their_picture() {
    let Some((a, b)) = two_instances_one_bucket().await else {
        return;
    };
    a.sign_up("kim").await;
    assert_eq!(
        a.upload_picture(solid_png(64, 48, [10, 200, 10]), "a.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let before = a.picture_of("kim").expect("a picture");
    let photo = big_png();
    assert!(photo.len() > 200_000, "{}", photo.len());

    // Killed while the body arrives, then (a race) once it has all arrived.
    for whole_body in [false, true] {
        // The killed instance is a process of its own, reached with the same cookies.
        let (mut victim, port) = serve_process(&a);
        let token = a.token_from("/account").await;
        let (sender, body) = futures_channel_body();
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .part(
                "picture",
                reqwest::multipart::Part::stream_with_length(body, photo.len() as u64)
                    .file_name("big.png"),
            );
        let request = a
            .client
            .post(format!("http://127.0.0.1:{port}/account/picture"))
            .multipart(form)
            .send();
        let feed = async {
            let sent = if whole_body {
                photo.len()
            } else {
                photo.len() / 2
            };
            sender
                .send(Ok(photo[..sent].to_vec()))
                .await
                .expect("send the body");
            if whole_body {
                drop(sender);
            }
            // kill -9: no chance to clean up anything.
            victim.0.kill().expect("kill -9");
            victim.0.wait().expect("reaped");
        };
        let (response, ()) = tokio::join!(request, feed);
        assert!(response.is_err() || response.is_ok_and(|r| r.status().is_server_error()));

        // Whatever the moment, the profile shows a picture that exists. (A picture stored
        // a moment before the kill, never committed, is left for folio gc.)
        let shown = b.picture_of("kim").expect("still a picture");
        let html = b.get_html("/users/kim").await;
        assert!(html.contains(&format!("/media/profile_pics/{shown}")));
        let served = b.get(&format!("/media/profile_pics/{shown}")).await;
        assert_eq!(
            served.status(),
            StatusCode::OK,
            "whole body {whole_body}: B serves it"
        );
        if !whole_body {
            assert_eq!(shown, before, "half a body never reaches the commit");
        }
    }
}

/// A PNG of a few hundred kilobytes (noise does not compress), so that the body takes a
/// while to arrive.
fn big_png() -> Vec<u8> {
    let mut state = 12345u32;
    let img = image::RgbImage::from_fn(600, 400, |_, _| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

type Chunk = Result<Vec<u8>, std::io::Error>;

/// A request body fed by hand: what is sent arrives, and then it stalls.
fn futures_channel_body() -> (tokio::sync::mpsc::Sender<Chunk>, reqwest::Body) {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Chunk>(4);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    (sender, reqwest::Body::wrap_stream(stream))
}
