//! What operators and their machines see: HEAD for monitors, the client address behind
//! proxies, the Prometheus endpoint.

use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::StatusCode;

use crate::helpers::*;

/// Sends a raw HTTP/1.1 request and returns everything the server wrote back.
fn raw_request(app: &TestApp, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

fn head_lines(answer: &str) -> (String, Vec<(String, String)>, String) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines.next().expect("status line").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    app.sign_up("hedda").await;
    let upload = app
        .upload_picture(solid_png(40, 30, [10, 120, 200]), "me.png", "image/png")
        .await;
    assert_eq!(upload.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("hedda").expect("a picture");
    let paths = [
        "/".to_owned(),
        "/healthz".to_owned(),
        "/login".to_owned(),
        "/users/hedda".to_owned(),
        "/users/nobody".to_owned(),
        "/account".to_owned(),
        "/static/style.css".to_owned(),
        "/avatars/hedda.svg".to_owned(),
        format!("/media/profile_pics/{picture}"),
        "/no/such/page".to_owned(),
    ];
    for path in paths {
        let get = raw_request(
            &app,
            &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        let head = raw_request(
            &app,
            &format!("HEAD {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
        );
        let (get_status, mut get_headers, get_body) = head_lines(&get);
        let (head_status, mut head_headers, head_body) = head_lines(&head);
        assert_eq!(head_status, get_status, "{path}");
        assert!(
            head_body.is_empty(),
            "{path}: HEAD sent a body: {head_body:?}"
        );
        // Pages differ in their fresh session cookie and request id only.
        for headers in [&mut get_headers, &mut head_headers] {
            headers.retain(|(n, _)| n != "set-cookie");
            headers.sort();
        }
        assert_eq!(head_headers, get_headers, "{path}");
        if get_status.contains("200") {
            assert!(!get_body.is_empty(), "{path}: GET has a body");
        }
    }
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    // Failed logins record the client address: read it back from the database.
    let clients_of = |app: &TestApp| -> Vec<String> {
        use diesel::prelude::*;
        use folio::db::schema::login_failures::dsl::*;
        let mut conn = app.db().conn().expect("conn");
        login_failures
            .order(id)
            .select(client)
            .load(&mut *conn)
            .expect("clients")
    };
    let fail = |app: &TestApp, forwarded: &'static str| {
        let app = app.new_browser();
        async move {
            let token = app.token_from("/login").await;
            let response = app
                .client
                .post(app.url("/login"))
                .header("X-Forwarded-For", forwarded)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("username", "nobody"),
                    ("password", "wrong-password-here"),
                ])
                .send()
                .await
                .expect("post");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
    };

    // Not a trusted proxy: the header is the client's own word, and ignored.
    let direct = spawn_app().await;
    fail(&direct, "198.51.100.7").await;
    assert_eq!(clients_of(&direct), ["127.0.0.1"]);

    // Behind a trusted proxy (this test is it): the right-most address it did not add.
    let proxied = spawn_app_with(|s| {
        s.trusted_proxies = folio::proxy::TrustedProxies::parse("127.0.0.0/8").expect("valid");
    })
    .await;
    fail(&proxied, "198.51.100.7").await;
    fail(&proxied, "6.6.6.6, 203.0.113.5").await;
    fail(&proxied, "203.0.113.9, 127.0.0.5").await;
    assert_eq!(
        clients_of(&proxied),
        ["198.51.100.7", "203.0.113.5", "203.0.113.9"]
    );
}

#[tokio::test]
async fn the_metrics_endpoint_counts_requests_uploads_and_the_pool() {
    let app = spawn_app_with(|s| s.metrics_bind = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let metrics_port = app.metrics_port.expect("metrics are on");
    app.sign_up("mia").await;
    app.get("/users/mia").await;
    app.get("/users/nobody").await;
    let stored = app
        .upload_picture(solid_png(40, 30, [10, 120, 200]), "me.png", "image/png")
        .await;
    assert_eq!(stored.status(), StatusCode::SEE_OTHER);
    let refused = app
        .upload_picture(
            b"%PDF-1.4 not a picture".to_vec(),
            "x.pdf",
            "application/pdf",
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(response.headers(), "content-type").starts_with("text/plain"));
    let text = response.text().await.expect("body");
    // One recorder serves the whole test process, so counts only grow: look for the series.
    for series in [
        r#"folio_http_requests_total{method="GET",route="/users/{username}",status="200"}"#,
        r#"folio_http_requests_total{method="GET",route="/users/{username}",status="404"}"#,
        r#"folio_http_requests_total{method="POST",route="/register",status="303"}"#,
        r#"folio_http_request_duration_seconds_bucket{method="GET",route="/users/{username}",status="200",le="0.005"}"#,
        r#"folio_picture_uploads_total{outcome="stored"}"#,
        r#"folio_picture_uploads_total{outcome="unsupported_type"}"#,
        "folio_picture_pipeline_seconds_count",
        "folio_pictures_waiting",
        "folio_db_pool_connections",
        "folio_db_pool_idle_connections",
        // The sign-up's confirmation, written as a file.
        r#"folio_mails_total{outcome="sent"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    // Raw paths never become labels.
    assert!(!text.contains("route=\"/users/mia\""), "{text}");
    // The public site does not serve them.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
}
