//! The JSON API over HTTP, as a program uses it: tokens from the account page, every route
//! and error of the contract, and the form and the API as two doors to one operation.

use reqwest::{RequestBuilder, Response, StatusCode, multipart};
use serde_json::{Value, json};

use crate::helpers::*;

#[allow(clippy::duplicate_mod)]
#[path = "../common/images.rs"]
mod images;

use images::*;

/// A member, logged in, with a token of `scope`.
async fn member_with_token(app: &TestApp, name: &str, scope: &str) -> String {
    app.sign_up(name).await;
    app.make_token(scope).await
}

/// A request from a program: no cookies, the token in the header.
fn program(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> RequestBuilder {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let request = client.request(method, app.url(path));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// `GET /api/v1/me` with `token`, which must answer 200.
async fn get_me(app: &TestApp, token: &str) -> Value {
    ok_json(
        send(program(
            app,
            reqwest::Method::GET,
            "/api/v1/me",
            Some(token),
        ))
        .await,
    )
    .await
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// A problem document with this status; returns it.
async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        header(response.headers(), "content-type"),
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["type"], "about:blank");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

async fn ok_json(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        header(response.headers(), "content-type").starts_with("application/json"),
        "JSON"
    );
    response.json().await.expect("JSON")
}

fn picture_form(bytes: Vec<u8>, fields: &[(&str, &str)]) -> multipart::Form {
    let mut form = multipart::Form::new();
    for (name, value) in fields {
        form = form.text((*name).to_owned(), (*value).to_owned());
    }
    let part = multipart::Part::bytes(bytes)
        .file_name("photo.jpg")
        .mime_str("image/jpeg")
        .expect("mime");
    form.part("picture", part)
}

async fn api_upload(app: &TestApp, token: &str, bytes: Vec<u8>) -> Response {
    send(
        program(
            app,
            reqwest::Method::PATCH,
            "/api/v1/me/picture",
            Some(token),
        )
        .multipart(picture_form(bytes, &[])),
    )
    .await
}

#[tokio::test]
async fn the_api_takes_only_a_bearer_token() {
    let app = spawn_app().await;
    let token = member_with_token(&app, "ada", "read").await;

    // The browser is logged in: its cookie opens pages, never the API.
    let response = app.get("/api/v1/me").await;
    let www = header(response.headers(), "www-authenticate");
    assert_eq!(www, r#"Bearer realm="folio""#);
    problem(response, StatusCode::UNAUTHORIZED).await;

    // Not a token, or a token in the URL.
    let response = send(program(
        &app,
        reqwest::Method::GET,
        "/api/v1/me",
        Some("folio_nope"),
    ))
    .await;
    assert!(header(response.headers(), "www-authenticate").contains(r#"error="invalid_token""#));
    problem(response, StatusCode::UNAUTHORIZED).await;
    let path = format!("/api/v1/me?access_token={token}");
    problem(
        send(program(&app, reqwest::Method::GET, &path, None)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // A token never opens a page.
    let response = send(program(
        &app,
        reqwest::Method::GET,
        "/account",
        Some(&token),
    ))
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));

    // The right way.
    let me = get_me(&app, &token).await;
    assert_eq!(me["username"], "ada");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["email_confirmed"], false);
    assert_eq!(me["picture"], Value::Null);
    assert_eq!(me["website"], Value::Null);
    let profile_url = me["profile_url"].as_str().expect("profile_url");
    assert!(
        profile_url.starts_with("http") && profile_url.ends_with("/users/ada"),
        "{profile_url}"
    );
    let created = me["created_at"].as_str().expect("created_at");
    assert!(
        created.len() == 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "{created}"
    );
}

#[tokio::test]
async fn a_read_token_cannot_change_anything() {
    let app = spawn_app().await;
    let token = member_with_token(&app, "ada", "read").await;
    let response = send(
        program(&app, reqwest::Method::PATCH, "/api/v1/me", Some(&token))
            .json(&json!({"bio": "hi"})),
    )
    .await;
    assert!(
        header(response.headers(), "www-authenticate").contains(r#"error="insufficient_scope""#)
    );
    problem(response, StatusCode::FORBIDDEN).await;
    let response = api_upload(&app, &token, jpeg(&solid(40, 40, [200, 0, 0]), 90)).await;
    problem(response, StatusCode::FORBIDDEN).await;
    let me = get_me(&app, &token).await;
    assert_eq!(me["bio"], Value::Null);
    assert!(app.picture_files().is_empty());
}

#[tokio::test]
async fn patch_me_changes_only_the_members_it_names() {
    let app = spawn_app().await;
    let token = member_with_token(&app, "ada", "write").await;
    let patch = |body: Value| {
        send(program(&app, reqwest::Method::PATCH, "/api/v1/me", Some(&token)).json(&body))
    };
    let me = ok_json(
        patch(json!({"display_name": "Ada L.", "bio": "Engines.\nNumbers.", "website": "https://ada.example"})).await,
    )
    .await;
    assert_eq!(me["display_name"], "Ada L.");
    assert_eq!(me["bio"], "Engines.\nNumbers.");
    let me = ok_json(patch(json!({"bio": null, "website": ""})).await).await;
    assert_eq!(me["display_name"], "Ada L.", "not named: kept");
    assert_eq!(me["bio"], Value::Null);
    assert_eq!(me["website"], Value::Null);
    // The page shows what the API saved.
    let html = app.get_html("/users/ada").await;
    assert!(html.contains("Ada L."));

    // The seed's rule: a member the operation does not take is a 422 naming it, and nothing
    // changes (not even the valid members beside it).
    for member in ["image_file", "picture", "username", "email", "id"] {
        let body = json!({ member: "../../x.jpg", "display_name": "Changed" });
        let refused = problem(patch(body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(refused["errors"][member].is_string(), "{member}: {refused}");
    }
    let refused = problem(
        patch(json!({"display_name": "x".repeat(51)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused["errors"]["display_name"]
            .as_str()
            .unwrap_or_default()
            .contains("50")
    );
    problem(
        patch(json!({"bio": 5})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        patch(json!(["bio"])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let me = get_me(&app, &token).await;
    assert_eq!(me["display_name"], "Ada L.");
    assert_eq!(me["username"], "ada");

    // Bodies that are not what the operation reads.
    let raw = |content_type: &str, body: Vec<u8>| {
        send(
            program(&app, reqwest::Method::PATCH, "/api/v1/me", Some(&token))
                .header("content-type", content_type)
                .body(body),
        )
    };
    problem(
        raw("application/json", b"{\"bio\":".to_vec()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        raw("text/plain", b"{}".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let huge = format!("{{\"bio\": \"{}\"}}", "a".repeat(70 * 1024)).into_bytes();
    problem(
        raw("application/json", huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn the_same_file_through_the_form_and_the_api_stores_the_same_jpeg() {
    let app = spawn_app().await;
    let photo = jpeg(&noise(640, 480, 7), 92);
    app.sign_up("form").await;
    let response = app
        .upload_picture(photo.clone(), "photo.jpg", "image/jpeg")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let by_form = app.picture_of("form").expect("stored by the form");

    let api = app.new_browser();
    let token = member_with_token(&api, "program", "write").await;
    let me = ok_json(api_upload(&app, &token, photo).await).await;
    let by_api = app.picture_of("program").expect("stored by the API");
    assert_eq!(me["picture"]["width"], 300);
    assert_eq!(me["picture"]["height"], 300);
    let url = me["picture"]["url"].as_str().expect("url");
    assert!(
        url.ends_with(&format!("/media/profile_pics/{by_api}")),
        "{url}"
    );
    assert_ne!(by_form, by_api);
    assert!(
        app.stored_bytes(&by_form) == app.stored_bytes(&by_api),
        "byte for byte the same JPEG"
    );
    let served = app.get(&format!("/media/profile_pics/{by_api}")).await;
    let decoded = decode_output(&served.bytes().await.expect("body"));
    assert_eq!((decoded.width, decoded.height), (300, 300));

    // Replacing deletes the old file after the commit; removing goes back to the default.
    let me = ok_json(api_upload(&app, &token, jpeg(&solid(50, 50, [0, 0, 255]), 90)).await).await;
    let newer = app.picture_of("program").expect("replaced");
    assert!(
        me["picture"]["url"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&newer)
    );
    let files = app.picture_files();
    assert!(!files.contains(&by_api) && files.contains(&newer) && files.contains(&by_form));
    let me = ok_json(
        send(program(
            &app,
            reqwest::Method::DELETE,
            "/api/v1/me/picture",
            Some(&token),
        ))
        .await,
    )
    .await;
    assert_eq!(me["picture"], Value::Null);
    assert_eq!(app.picture_of("program"), None);
    assert!(!app.picture_files().contains(&newer));
}

#[tokio::test]
async fn pictures_are_refused_through_the_api_as_on_the_form() {
    let app = spawn_app_with(|s| s.max_upload_bytes = 200 * 1024).await;
    let token = member_with_token(&app, "ada", "write").await;
    let first = jpeg(&solid(60, 60, [10, 200, 10]), 90);
    ok_json(api_upload(&app, &token, first).await).await;
    let before = app.picture_files();

    let refused = problem(
        api_upload(&app, &token, b"plain text, not a picture".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused["errors"]["picture"]
            .as_str()
            .unwrap_or_default()
            .contains("not a picture")
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>".to_vec();
    problem(
        api_upload(&app, &token, svg).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let big = pad_jpeg_with_comments(&jpeg(&solid(60, 60, [1, 2, 3]), 90), 300 * 1024);
    problem(
        api_upload(&app, &token, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let outside = send(
        program(
            &app,
            reqwest::Method::PATCH,
            "/api/v1/me/picture",
            Some(&token),
        )
        .multipart(picture_form(
            jpeg(&solid(60, 60, [1, 2, 3]), 90),
            &[("crop_x", "50"), ("crop_y", "0"), ("crop_size", "20")],
        )),
    )
    .await;
    problem(outside, StatusCode::UNPROCESSABLE_ENTITY).await;
    let no_file = send(
        program(
            &app,
            reqwest::Method::PATCH,
            "/api/v1/me/picture",
            Some(&token),
        )
        .multipart(multipart::Form::new().text("crop_x", "1")),
    )
    .await;
    problem(no_file, StatusCode::UNPROCESSABLE_ENTITY).await;
    let not_multipart = send(
        program(
            &app,
            reqwest::Method::PATCH,
            "/api/v1/me/picture",
            Some(&token),
        )
        .header("content-type", "image/jpeg")
        .body(jpeg(&solid(60, 60, [1, 2, 3]), 90)),
    )
    .await;
    problem(not_multipart, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(app.picture_files(), before, "nothing stored, nothing lost");
}

#[tokio::test]
async fn when_the_commit_fails_the_api_keeps_the_old_picture_and_no_new_file() {
    let app = spawn_app().await;
    let token = member_with_token(&app, "ada", "write").await;
    ok_json(api_upload(&app, &token, jpeg(&solid(60, 60, [200, 30, 30]), 90)).await).await;
    let before = app.picture_files();
    let old = app.picture_of("ada");
    app.execute_sql_for(
        "CREATE TRIGGER refuse BEFORE UPDATE OF picture ON users \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
         CREATE TRIGGER refuse BEFORE UPDATE OF picture ON users \
         FOR EACH ROW EXECUTE FUNCTION refuse();",
    );
    let failed = problem(
        api_upload(&app, &token, jpeg(&solid(60, 60, [30, 30, 200]), 90)).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(
        !failed.to_string().contains("refused"),
        "no internal detail: {failed}"
    );
    assert_eq!(
        app.picture_files(),
        before,
        "the new file is gone, the old one stays"
    );
    assert_eq!(app.picture_of("ada"), old);
    problem(
        send(program(
            &app,
            reqwest::Method::DELETE,
            "/api/v1/me/picture",
            Some(&token),
        ))
        .await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert_eq!(
        app.picture_files(),
        before,
        "removing failed: the file stays with its row"
    );
}

#[tokio::test]
async fn uploads_per_hour_count_both_doors_together() {
    let app = spawn_app_with(|s| s.uploads_per_hour = 3).await;
    let token = member_with_token(&app, "ada", "write").await;
    let photo = || jpeg(&solid(30, 30, [120, 60, 200]), 90);
    assert_eq!(
        app.upload_picture(photo(), "a.jpg", "image/jpeg")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    ok_json(api_upload(&app, &token, photo()).await).await;
    // A refused picture reached decoding: it counts too.
    problem(
        api_upload(&app, &token, b"not a picture".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let stored = app.picture_of("ada");

    let response = api_upload(&app, &token, photo()).await;
    let wait: i64 = header(response.headers(), "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    let refused = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Try again in")
    );
    let response = app.upload_picture(photo(), "b.jpg", "image/jpeg").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = response.text().await.expect("page");
    assert!(
        html.contains("3 pictures in the last hour"),
        "the form says why"
    );
    assert_eq!(app.picture_of("ada"), stored, "nothing changed");

    // The hour is counted in the database: once it has passed, uploads are taken again.
    app.execute_sql("UPDATE picture_uploads SET created_at = created_at - 3601");
    ok_json(api_upload(&app, &token, photo()).await).await;
}

#[tokio::test]
async fn profiles_and_the_directory_are_public_documents() {
    let app = spawn_app().await;
    for name in ["ada", "bob", "cyd"] {
        app.new_browser().sign_up(name).await;
    }
    let get = |path: String| send(program(&app, reqwest::Method::GET, &path, None));
    let profile = ok_json(get("/api/v1/users/ADA".into()).await).await;
    assert_eq!(profile["username"], "ada");
    assert!(profile.get("email").is_none(), "never the email");
    assert!(
        profile["profile_url"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/users/ada")
    );
    problem(
        get("/api/v1/users/nobody".into()).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let response = get("/api/v1/users?limit=2".into()).await;
    let link = header(response.headers(), "link");
    let page = ok_json(response).await;
    let names: Vec<&str> = page["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["cyd", "bob"]);
    let next = page["next"].as_str().expect("a next page");
    assert!(
        link.ends_with(r#">; rel="next""#) && link.contains(&format!("after={next}")),
        "{link}"
    );
    let rest = ok_json(get(format!("/api/v1/users?limit=2&after={next}")).await).await;
    assert_eq!(rest["users"][0]["username"], "ada");
    assert_eq!(rest["next"], Value::Null);
    let found = ok_json(get("/api/v1/users?q=b".into()).await).await;
    assert_eq!(found["users"].as_array().map(Vec::len), Some(1));

    problem(
        get("/api/v1/users?limit=0".into()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        get("/api/v1/users?after=made-up".into()).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

#[tokio::test]
async fn every_error_under_api_is_a_problem() {
    let app = spawn_app().await;
    let call = |method: reqwest::Method, path: &str| send(program(&app, method, path, None));
    problem(
        call(reqwest::Method::GET, "/api/v1/nothing").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        call(reqwest::Method::GET, "/api/elsewhere").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = call(reqwest::Method::PUT, "/api/v1/me").await;
    assert_eq!(header(response.headers(), "allow"), "GET, HEAD, PATCH");
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response = call(reqwest::Method::POST, "/api/v1/users/ada").await;
    assert_eq!(header(response.headers(), "allow"), "GET, HEAD");
    problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    // A page's 404 is still a page.
    let response = call(reqwest::Method::GET, "/nothing").await;
    assert!(header(response.headers(), "content-type").starts_with("text/html"));
}

#[tokio::test]
async fn the_document_and_the_reference_page_describe_the_api() {
    let app = spawn_app().await;
    let doc = ok_json(app.get("/api/v1/openapi.json").await).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/me/picture"]["patch"]["responses"]["429"].is_object());
    let response = app.get("/api/docs").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header(response.headers(), "content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = response.text().await.expect("page");
    for op in [
        "GET /api/v1/me",
        "PATCH /api/v1/me/picture",
        "GET /api/v1/users/{username}",
    ] {
        assert!(html.contains(op), "{op} on the page");
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing from another site"
    );
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let app = spawn_app().await;
    let token = member_with_token(&app, "ada", "read").await;
    let me = || {
        send(program(
            &app,
            reqwest::Method::GET,
            "/api/v1/me",
            Some(&token),
        ))
    };
    ok_json(me().await).await;
    // The last use is written, but not again within the minute.
    let used = last_used(&app);
    assert!(used.is_some(), "last use recorded");
    app.execute_sql("UPDATE access_tokens SET last_used_at = last_used_at - 30");
    ok_json(me().await).await;
    assert_eq!(
        last_used(&app),
        used.map(|t| t - 30),
        "no write within a minute"
    );
    app.execute_sql("UPDATE access_tokens SET last_used_at = last_used_at - 100");
    ok_json(me().await).await;
    assert!(
        last_used(&app) > used.map(|t| t - 130),
        "written again after a minute"
    );

    app.execute_sql("UPDATE access_tokens SET expires_at = 1");
    let expired = me().await;
    assert!(header(expired.headers(), "www-authenticate").contains(r#"error="invalid_token""#));
    problem(expired, StatusCode::UNAUTHORIZED).await;
    app.execute_sql("UPDATE access_tokens SET expires_at = NULL");
    ok_json(me().await).await;

    let html = app.get_html("/account").await;
    let marker = "/account/tokens/";
    let start = html.find(marker).expect("a revoke form") + marker.len();
    let id: String = html[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let response = app
        .submit("/account", &format!("/account/tokens/{id}/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let revoked = me().await;
    assert!(header(revoked.headers(), "www-authenticate").contains(r#"error="invalid_token""#));
    problem(revoked, StatusCode::UNAUTHORIZED).await;
}

fn last_used(app: &TestApp) -> Option<i64> {
    use diesel::prelude::*;
    let mut conn = app.db().conn().expect("conn");
    diesel::sql_query("SELECT last_used_at AS value FROM access_tokens")
        .get_result::<Nullable>(&mut *conn)
        .expect("one token")
        .value
}

#[derive(diesel::QueryableByName)]
struct Nullable {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    value: Option<i64>,
}
