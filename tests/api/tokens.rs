//! Personal access tokens on the account page: made (and shown once), listed, revoked, and
//! gone with the account or after a password reset. The storage functions the API relies on
//! are checked at the end, on the app's own database.

use diesel::prelude::*;
use folio::db::access_tokens;
use folio::domain::{AccessToken, Scope, TokenName};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// Posts the "Access tokens" form with the account page's token.
async fn create_token(app: &TestApp, name: &str, scope: &str, days: &str) -> reqwest::Response {
    app.submit(
        "/account",
        "/account/tokens",
        &[("name", name), ("scope", scope), ("expires_days", days)],
    )
    .await
}

/// Every stored token as (id, owner's username, name, scope, hash, created, expires).
type Row = (i64, String, String, String, String, i64, Option<i64>);

fn token_rows(app: &TestApp) -> Vec<Row> {
    use folio::db::schema::{access_tokens as t, users};
    let mut conn = app.db().conn().expect("conn");
    t::table
        .inner_join(users::table)
        .order(t::id)
        .select((
            t::id,
            users::username,
            t::name,
            t::scope,
            t::token_hash,
            t::created_at,
            t::expires_at,
        ))
        .load(&mut conn)
        .expect("access tokens")
}

fn user_id(app: &TestApp, name: &str) -> i64 {
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select(id)
        .first(&mut conn)
        .expect("the user")
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Set-Cookie` header that sets `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_new_token_is_shown_once_and_only_its_hash_is_stored() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let response = create_token(&app, "backup script", "write", "30").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account");
    let cookie = set_cookie(&response, "folio_new_token").expect("the token's cookie");
    for part in [
        "Path=/account",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=300",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(
        !cookie.contains("folio_new_token=folio_"),
        "encrypted: {cookie}"
    );

    let page = app.get("/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    let removal = set_cookie(&page, "folio_new_token").expect("the cookie is dropped");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    let html = page.text().await.expect("body");
    assert!(html.contains("Access token created"), "{html}");
    assert!(html.contains("it will not be shown again"), "{html}");
    let token = shown_token(&html).expect("the new token is shown");
    assert_eq!(token.len(), 44, "{token}");
    assert!(token.starts_with("folio_"), "{token}");
    assert!(token[6..].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(
        AccessToken::parse(&token).is_some(),
        "a valid checksum: {token}"
    );

    let again = app.get_html("/account").await;
    assert_eq!(shown_token(&again), None, "shown once");
    assert!(!again.contains(&token[6..]));
    assert!(again.contains("backup script"));

    // The database has the SHA-256 of the token and nothing else of it; the session neither.
    let rows = token_rows(&app);
    assert_eq!(rows.len(), 1);
    let (_, owner, name, scope, hash, created, expires) = rows[0].clone();
    assert_eq!((owner.as_str(), name.as_str()), ("alice", "backup script"));
    assert_eq!(scope, "write");
    assert_eq!(hash, sha256_hex(&token));
    assert_eq!(expires, Some(created + 30 * 86_400));
    let secret = &token[6..38];
    let states: Vec<String> = {
        use folio::db::schema::sessions::dsl::*;
        let mut conn = app.db().conn().expect("conn");
        sessions.select(state).load(&mut conn).expect("sessions")
    };
    assert!(!states.is_empty());
    for s in &states {
        assert!(!s.contains(secret), "a session holds the token: {s}");
    }
    if app.backend == Backend::Sqlite {
        // Every byte SQLite has written, the write-ahead log included.
        for file in ["folio.db", "folio.db-wal"] {
            let bytes = std::fs::read(app.dir.path().join(file)).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{file} holds the token"
            );
        }
    }
}

#[tokio::test]
async fn a_new_token_is_not_shown_to_another_account_on_the_same_browser() {
    let app = spawn_app().await;
    app.sign_up("carol").await;
    app.new_browser().sign_up("dave").await;
    assert_eq!(
        create_token(&app, "carol's", "read", "7").await.status(),
        StatusCode::SEE_OTHER
    );
    // Carol logs out before looking (from a page other than /account, which would show it);
    // Dave logs in on her browser within the five minutes.
    let response = app.submit("/users", "/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.login("dave", PASSWORD).await;
    let html = app.get_html("/account").await;
    assert_eq!(shown_token(&html), None);
    assert!(!html.contains("carol&#39;s") && !html.contains("carol's"));
}

#[tokio::test]
async fn the_card_lists_each_tokens_name_scope_expiry_and_use() {
    let app = spawn_app().await;
    app.sign_up("erin").await;
    assert!(
        app.get_html("/account")
            .await
            .contains("You have no access tokens.")
    );
    for (name, scope, days) in [("ci <deploy>", "read", "7"), ("laptop", "write", "")] {
        let response = create_token(&app, name, scope, days).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name}");
    }
    let html = app.get_html("/account").await;
    let items: Vec<&str> = html.split(r#"<li class="token-item">"#).skip(1).collect();
    assert_eq!(items.len(), 2, "{html}");
    // Newest first.
    let (laptop, ci) = (items[0], items[1]);
    assert!(
        laptop.contains(r#"<p class="token-name">laptop</p>"#),
        "{laptop}"
    );
    assert!(laptop.contains("<dt>Access</dt><dd>write</dd>"), "{laptop}");
    assert!(
        laptop.contains("<dt>Expires</dt><dd>never</dd>"),
        "{laptop}"
    );
    assert!(
        laptop.contains("<dt>Last used</dt><dd>never used</dd>"),
        "{laptop}"
    );
    assert!(!ci.contains("<deploy>"), "escaped: {ci}");
    assert!(
        ci.contains("ci &#60;deploy&#62;") || ci.contains("ci &lt;deploy&gt;"),
        "{ci}"
    );
    assert!(ci.contains("<dt>Access</dt><dd>read</dd>"), "{ci}");
    let expires = token_rows(&app)[0].6.expect("an expiry");
    let day =
        actix_web::cookie::time::OffsetDateTime::from_unix_timestamp(expires).expect("a time");
    let written = format!("{} {} {}", day.day(), day.month(), day.year());
    assert!(
        ci.contains(&format!(">{written}</time>")),
        "{written} in {ci}"
    );
    assert!(ci.contains(r#"<time datetime=""#), "{ci}");

    // Each revoke button names its token, and posts with the form's token.
    let (ci_id, laptop_id) = (token_rows(&app)[0].0, token_rows(&app)[1].0);
    for (item, id) in [(ci, ci_id), (laptop, laptop_id)] {
        assert!(
            item.contains(&format!(
                r#"<form method="post" action="/account/tokens/{id}/delete">"#
            )),
            "{item}"
        );
        assert!(item.contains(r#"name="csrf_token""#), "{item}");
    }
    assert!(laptop.contains(r#"Revoke<span class="visually-hidden"> the token “laptop”</span>"#));

    // The form offers the usual expiries and "Never", and proposes 30 days and read.
    for option in [
        r#"<option value="7">7 days</option>"#,
        r#"<option value="30" selected>30 days</option>"#,
        r#"<option value="90">90 days</option>"#,
        r#"<option value="366">366 days</option>"#,
        r#"<option value="">Never</option>"#,
    ] {
        assert!(html.contains(option), "{option}");
    }
    assert!(html.contains(r#"name="scope" value="read" checked"#));
}

#[tokio::test]
async fn every_invalid_field_is_a_422_with_its_message_and_nothing_is_stored() {
    let app = spawn_app().await;
    app.sign_up("frank").await;
    let long = "x".repeat(51);
    let cases: [(&str, &str, &str, &str, &str); 12] = [
        (
            "",
            "read",
            "30",
            "token_name-error",
            "Give the token a name",
        ),
        (
            "   ",
            "read",
            "30",
            "token_name-error",
            "Give the token a name",
        ),
        (
            &long,
            "read",
            "30",
            "token_name-error",
            "at most 50 characters",
        ),
        (
            "bell\u{7}",
            "read",
            "30",
            "token_name-error",
            "visible characters",
        ),
        (
            "two\nlines",
            "read",
            "30",
            "token_name-error",
            "visible characters",
        ),
        (
            "fine",
            "",
            "30",
            "token_scope-error",
            "Choose what the token may do",
        ),
        (
            "fine",
            "admin",
            "30",
            "token_scope-error",
            "Choose what the token may do",
        ),
        (
            "fine",
            "READ",
            "30",
            "token_scope-error",
            "Choose what the token may do",
        ),
        ("fine", "read", "0", "token_expires-error", "1 to 366 days"),
        (
            "fine",
            "read",
            "367",
            "token_expires-error",
            "1 to 366 days",
        ),
        ("fine", "read", "-1", "token_expires-error", "1 to 366 days"),
        (
            "fine",
            "read",
            "soon",
            "token_expires-error",
            "1 to 366 days",
        ),
    ];
    for (name, scope, days, error_id, message) in cases {
        let response = create_token(&app, name, scope, days).await;
        let case = format!("{name:?} {scope:?} {days:?}");
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{case}"
        );
        let html = response.text().await.expect("body");
        assert!(
            html.contains(&format!(r#"id="{error_id}""#)),
            "{case}: {html}"
        );
        assert!(html.contains(message), "{case}: {message}");
        assert!(html.contains(r#"aria-invalid="true""#), "{case}");
        assert_eq!(shown_token(&html), None);
    }
    // A missing field is an empty one.
    let response = app
        .submit("/account", "/account/tokens", &[("scope", "read")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // What was typed comes back, every message at once.
    let response = create_token(&app, "kept name", "nonsense", "45").await;
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"value="kept name""#), "{html}");
    assert!(html.contains(r#"<option value="45" selected>45 days</option>"#));
    let response = create_token(&app, "", "write", "abc").await;
    let html = response.text().await.expect("body");
    assert!(
        html.contains(r#"id="token_name-error""#) && html.contains(r#"id="token_expires-error""#)
    );
    assert!(
        html.contains(r#"name="scope" value="write" checked"#),
        "{html}"
    );
    assert!(token_rows(&app).is_empty());

    // The bounds themselves are fine: 50 characters (not bytes), 1 and 366 days.
    for (name, days) in [(&"字".repeat(50), "1"), (&"x".repeat(50), "366")] {
        let response = create_token(&app, name, "read", days).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name} {days}");
    }
    assert_eq!(token_rows(&app).len(), 2);
}

#[tokio::test]
async fn the_forms_need_their_csrf_token_and_a_login() {
    let app = spawn_app().await;
    let fields = [("name", "x"), ("scope", "read"), ("expires_days", "7")];
    let response = app.post_raw("/account/tokens", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/account");
    let response = app.post_raw("/account/tokens/1/delete", &[]).await;
    assert_eq!(location(&response), "/login?next=/account");

    app.sign_up("grace").await;
    let response = app.post_raw("/account/tokens", &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut forged = vec![("csrf_token", "0".repeat(64))];
    forged.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app.post_raw("/account/tokens", &forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(token_rows(&app).is_empty());
    assert!(set_cookie(&response, "folio_new_token").is_none());

    create_token(&app, "kept", "read", "7").await;
    let id = token_rows(&app)[0].0;
    let path = format!("/account/tokens/{id}/delete");
    assert_eq!(
        app.post_raw(&path, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(token_rows(&app).len(), 1);
}

#[tokio::test]
async fn a_token_can_be_revoked_by_its_owner_only() {
    let app = spawn_app().await;
    app.sign_up("heidi").await;
    let ivan = app.new_browser();
    ivan.sign_up("ivan").await;
    create_token(&app, "heidi's", "write", "90").await;
    create_token(&ivan, "ivan's", "read", "").await;
    let rows = token_rows(&app);
    let (heidi_token, ivan_token) = (rows[0].0, rows[1].0);

    // Ivan cannot revoke Heidi's token, nor one that does not exist.
    for id in [heidi_token.to_string(), "999999".into(), "abc".into()] {
        let response = ivan
            .submit("/account", &format!("/account/tokens/{id}/delete"), &[])
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
        let page = response.text().await.expect("body");
        assert!(page.contains("Page not found"), "{page}");
    }
    assert_eq!(token_rows(&app).len(), 2);

    let response = ivan
        .submit(
            "/account",
            &format!("/account/tokens/{ivan_token}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account");
    let html = ivan.get_html("/account").await;
    assert!(html.contains("Access token revoked"));
    assert!(!html.contains("ivan&#39;s") && !html.contains("ivan's"));
    let left: Vec<String> = token_rows(&app).into_iter().map(|r| r.1).collect();
    assert_eq!(left, ["heidi"]);

    // A second revoke of the same token finds nothing.
    let response = ivan
        .submit(
            "/account",
            &format!("/account/tokens/{ivan_token}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_account_holds_at_most_50_live_tokens() {
    let app = spawn_app().await;
    app.sign_up("judy").await;
    let id = user_id(&app, "judy");
    {
        let mut conn = app.db().conn().expect("conn");
        let name = TokenName::parse("seeded").expect("a name");
        for _ in 0..50 {
            let hash = AccessToken::generate().hash();
            access_tokens::create(&mut conn, id, &name, Scope::Read, None, &hash, 1)
                .expect("a token");
        }
    }
    let response = create_token(&app, "one more", "read", "7").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"id="tokens-error""#), "{html}");
    assert!(html.contains("Revoke one you no longer use"), "{html}");
    assert!(html.contains(r#"value="one more""#));
    assert_eq!(token_rows(&app).len(), 50);

    // An expired token no longer counts.
    let first = token_rows(&app)[0].0;
    app.execute_sql(&format!(
        "UPDATE access_tokens SET expires_at = 2 WHERE id = {first}"
    ));
    let response = create_token(&app, "one more", "read", "7").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_rows(&app).len(), 51);
    let html = app.get_html("/account").await;
    assert!(html.contains("<dt>Expired</dt>"), "the expired one says so");
}

#[tokio::test]
async fn deleting_the_account_deletes_its_tokens() {
    let app = spawn_app().await;
    app.sign_up("karl").await;
    let other = app.new_browser();
    other.sign_up("lena").await;
    create_token(&app, "one", "read", "7").await;
    create_token(&app, "two", "write", "").await;
    create_token(&other, "lena's", "read", "").await;
    assert_eq!(token_rows(&app).len(), 3);
    let response = app
        .submit("/account", "/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let owners: Vec<String> = token_rows(&app).into_iter().map(|r| r.1).collect();
    assert_eq!(owners, ["lena"]);
    // No row is left behind for a missing user either (the join above would hide one).
    let mut conn = app.db().conn().expect("conn");
    let count: i64 = folio::db::schema::access_tokens::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_password_reset_through_the_mailed_link_revokes_every_token() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("mallory").await;
    let other = app.new_browser();
    other.sign_up("nina").await;
    create_token(&app, "one", "read", "7").await;
    create_token(&app, "two", "write", "").await;
    create_token(&other, "nina's", "read", "").await;
    app.logout().await;

    let response = app
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "mallory@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let reset = mail
        .wait_for("mallory@example.com", 2)
        .await
        .into_iter()
        .find(|m| m.subject() == "Reset your Folio password")
        .expect("the reset mail");
    let link = reset.link(&app.public_url("/password/reset/"));
    let path = link
        .strip_prefix(&app.public_url(""))
        .expect("a link to the site");
    let new_password = "another-long-pass-42";
    let response = app
        .submit(
            path,
            path,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let owners: Vec<String> = token_rows(&app).into_iter().map(|r| r.1).collect();
    assert_eq!(owners, ["nina"]);
    assert!(
        app.get_html("/account")
            .await
            .contains("You have no access tokens.")
    );
}

/// The storage functions the API authenticates with, on the app's database.
#[tokio::test]
async fn authenticate_honours_expiry_and_revocation_and_touch_writes_once_a_minute() {
    let app = spawn_app().await;
    seed_members(&app, &[("olivia", None), ("paul", None)]);
    let (olivia, paul) = (user_id(&app, "olivia"), user_id(&app, "paul"));
    let mut conn = app.db().conn().expect("conn");
    let name = TokenName::parse("api").expect("a name");
    let (now, hour) = (1_000_000, 3600);

    let expiring = AccessToken::generate();
    let forever = AccessToken::generate();
    let expiring_id = access_tokens::create(
        &mut conn,
        olivia,
        &name,
        Scope::Read,
        Some(now + hour),
        &expiring.hash(),
        now,
    )
    .expect("a token");
    let forever_id = access_tokens::create(
        &mut conn,
        olivia,
        &name,
        Scope::Write,
        None,
        &forever.hash(),
        now,
    )
    .expect("a token");

    let grant = access_tokens::authenticate(&mut conn, &expiring.hash(), now + hour - 1)
        .expect("query")
        .expect("live until its expiry");
    assert_eq!(
        grant,
        access_tokens::Grant {
            token_id: expiring_id,
            user_id: olivia,
            scope: Scope::Read,
            last_used_at: None,
        }
    );
    assert_eq!(
        access_tokens::authenticate(&mut conn, &expiring.hash(), now + hour).expect("query"),
        None,
        "dead at its expiry"
    );
    let far = now + 10 * 365 * 24 * hour;
    let grant = access_tokens::authenticate(&mut conn, &forever.hash(), far)
        .expect("query")
        .expect("a token without expiry lives on");
    assert_eq!((grant.token_id, grant.scope), (forever_id, Scope::Write));
    assert_eq!(
        access_tokens::authenticate(&mut conn, &AccessToken::generate().hash(), now)
            .expect("query"),
        None,
        "unknown"
    );

    // A use is written when none was, then not again within 60 s.
    let last_used = |conn: &mut folio::db::DbConn| {
        access_tokens::authenticate(conn, &forever.hash(), now)
            .expect("query")
            .expect("live")
            .last_used_at
    };
    assert!(grant.needs_touch(now));
    access_tokens::touch(&mut conn, forever_id, now).expect("touch");
    assert_eq!(last_used(&mut conn), Some(now));
    access_tokens::touch(&mut conn, forever_id, now + 30).expect("touch");
    assert_eq!(
        last_used(&mut conn),
        Some(now),
        "not rewritten within a minute"
    );
    access_tokens::touch(&mut conn, forever_id, now + 60).expect("touch");
    assert_eq!(last_used(&mut conn), Some(now), "not older than 60 s yet");
    access_tokens::touch(&mut conn, forever_id, now + 61).expect("touch");
    assert_eq!(last_used(&mut conn), Some(now + 61));
    let grant = access_tokens::authenticate(&mut conn, &forever.hash(), now + 90)
        .expect("query")
        .expect("live");
    assert!(!grant.needs_touch(now + 90));
    assert!(grant.needs_touch(now + 122));

    // Paul cannot revoke Olivia's token; Olivia can.
    assert!(!access_tokens::revoke(&mut conn, paul, forever_id).expect("revoke"));
    assert!(
        access_tokens::authenticate(&mut conn, &forever.hash(), now)
            .expect("query")
            .is_some()
    );
    assert!(access_tokens::revoke(&mut conn, olivia, forever_id).expect("revoke"));
    assert_eq!(
        access_tokens::authenticate(&mut conn, &forever.hash(), now).expect("query"),
        None,
        "revoked"
    );

    // The list, newest first; the purge takes only expired tokens; revoke_all the rest.
    let later = AccessToken::generate();
    access_tokens::create(
        &mut conn,
        olivia,
        &name,
        Scope::Read,
        None,
        &later.hash(),
        now + 5,
    )
    .expect("a token");
    let listed: Vec<(String, i64)> = access_tokens::list(&mut conn, olivia)
        .expect("list")
        .into_iter()
        .map(|r| (r.scope, r.created_at))
        .collect();
    assert_eq!(listed, [("read".into(), now + 5), ("read".into(), now)]);
    assert!(
        access_tokens::list(&mut conn, paul)
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        access_tokens::purge_expired(&mut conn, now + hour).expect("purge"),
        1
    );
    assert_eq!(
        access_tokens::list(&mut conn, olivia).expect("list").len(),
        1
    );
    assert_eq!(
        access_tokens::revoke_all(&mut conn, olivia).expect("revoke all"),
        1
    );
    assert!(
        access_tokens::list(&mut conn, olivia)
            .expect("list")
            .is_empty()
    );
}
