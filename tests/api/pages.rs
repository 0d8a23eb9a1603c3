//! Pages, headers, errors and health: what any visitor sees.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn home_page_has_security_headers_and_no_inline_script() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(!header(&headers, "referrer-policy").is_empty());
    let html = response.text().await.expect("body");
    assert!(html.contains("Log in"));
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains("style="), "no inline style");
    // An anonymous visit to a page without forms creates no session.
    assert!(app.session_cookie().is_none());
}

#[tokio::test]
async fn unknown_paths_answer_a_404_page() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/users/nobody",
        "/static/../Cargo.toml",
        "/media/profile_pics/x.jpg",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let html = response.text().await.expect("body");
        assert!(
            html.contains("Page not found") || html.contains("nothing at this address"),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn healthz_answers_200_while_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    // PostgreSQL's outage is tested with a server that is really stopped (tests/postgres).
    let folio::db::DatabaseUrl::Sqlite(db) = app.settings.database.clone() else {
        return;
    };
    // Make the database unreadable from under the server: a directory where the file was.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::create_dir_all(&db).expect("replace the file with a directory");
    let response = app.get("/healthz").await;
    // Pooled connections may keep the old file open: a fresh pool state is not required
    // here, only that the answer is never a crash.
    assert!(
        response.status() == StatusCode::OK || response.status() == StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.status()
    );
}

#[tokio::test]
async fn static_files_and_initials_avatars_are_served() {
    let app = spawn_app().await;
    let css = app.get("/static/style.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(header(css.headers(), "content-type").starts_with("text/css"));
    let script = app.get("/static/picture.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(header(script.headers(), "content-type").starts_with("text/javascript"));
    let avatar = app.get("/avatars/peggy.s.svg").await;
    assert_eq!(avatar.status(), StatusCode::OK);
    assert_eq!(header(avatar.headers(), "content-type"), "image/svg+xml");
    assert_eq!(
        header(avatar.headers(), "x-content-type-options"),
        "nosniff"
    );
    let svg = avatar.text().await.expect("body");
    assert!(svg.contains(">PS</text>"), "initials drawn: {svg}");
    assert!(app.session_cookie().is_none(), "images need no session");
    assert_eq!(
        app.get("/static/nope.css").await.status(),
        StatusCode::NOT_FOUND
    );
}
