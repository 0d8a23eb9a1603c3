//! Server-side sessions: fresh ids, ending them, surviving restarts, cookie attributes.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn logging_in_issues_a_fresh_session_id() {
    let app = spawn_app().await;
    app.sign_up("judy").await;
    app.logout().await;
    app.token_from("/login").await;
    let before = app
        .session_cookie()
        .expect("the login form starts a session");
    let response = app.login("judy", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let after = app.session_cookie().expect("logged-in session");
    assert_ne!(before, after);

    // The pre-login cookie is not logged in (no session fixation).
    let (old, _) = app.other_browser(Some(&before));
    let response = old.get(app.url("/account")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_old_cookie_replayed_after_logout_is_anonymous() {
    let app = spawn_app().await;
    app.sign_up("ken").await;
    let cookie = app.session_cookie().expect("cookie");
    app.logout().await;
    let (replay, _) = app.other_browser(Some(&cookie));
    let response = replay.get(app.url("/account")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/account");
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_but_not_this_one() {
    let app = spawn_app().await;
    app.sign_up("laura").await;
    let laptop = app.new_browser();
    assert_eq!(
        laptop.login("laura", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(laptop.get("/account").await.status(), StatusCode::OK);
    let laptop_cookie = laptop.session_cookie().expect("cookie");

    let new_password = "another-long-password";
    let response = app.change_password(PASSWORD, new_password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.get_html("/account").await.contains("Password changed"));

    assert_eq!(laptop.get("/account").await.status(), StatusCode::SEE_OTHER);
    let (replay, _) = app.other_browser(Some(&laptop_cookie));
    let response = replay.get(app.url("/account")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let user_id: i64 = 1;
    let mut conn = app.db().conn().expect("conn");
    let left = folio::db::sessions::count_for_user(&mut conn, user_id).expect("count");
    assert_eq!(
        left, 1,
        "only the session that changed the password remains"
    );
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let app = spawn_app().await;
    app.sign_up("mike").await;
    let app = app.restart().await;
    let response = app.get("/account").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains(r#"value="mike""#)
    );
}

#[tokio::test]
async fn a_tampered_cookie_is_just_an_anonymous_visitor() {
    let app = spawn_app().await;
    app.sign_up("nina").await;
    let cookie = app.session_cookie().expect("cookie");
    let (name, value) = cookie.split_once('=').expect("pair");
    let mut bytes = value.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(bytes).expect("ascii"));
    for cookie in [tampered.as_str(), "folio_session=garbage", "folio_session="] {
        let (client, _) = app.other_browser(Some(cookie));
        let response = client.get(app.url("/")).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{cookie}");
        assert!(response.text().await.expect("body").contains("Log in"));
        let response = client.get(app.url("/account")).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn cookies_are_httponly_and_lax_and_not_secure_by_default() {
    let app = spawn_app().await;
    let response = app.get("/register").await;
    let cookie = header(response.headers(), "set-cookie");
    assert!(cookie.starts_with("folio_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;
    let response = app.get("/register").await;
    let cookie = header(response.headers(), "set-cookie");
    assert!(cookie.starts_with("__Host-folio_session="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn expired_sessions_are_anonymous() {
    let app = spawn_app().await;
    app.sign_up("oscar").await;
    // Past the idle expiry...
    app.execute_sql("UPDATE sessions SET expires_at = 1");
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);

    app.login("oscar", PASSWORD).await;
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);
    // ...or past the absolute lifetime, however recently used.
    app.execute_sql("UPDATE sessions SET created_at = created_at - 31 * 24 * 3600");
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn page_views_do_not_rewrite_the_session() {
    let app = spawn_app().await;
    app.sign_up("petra").await;
    app.get("/account").await; // shows and clears the welcome message
    app.execute_sql("CREATE TABLE session_writes (n INTEGER)");
    app.execute_sql_for(
        "CREATE TRIGGER count_session_writes AFTER UPDATE OF state ON sessions \
         BEGIN INSERT INTO session_writes VALUES (1); END",
        "CREATE FUNCTION count_session_writes() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN INSERT INTO session_writes VALUES (1); RETURN NEW; END $$; \
         CREATE TRIGGER count_session_writes AFTER UPDATE OF state ON sessions \
         FOR EACH ROW EXECUTE FUNCTION count_session_writes();",
    );
    for path in ["/", "/account", "/users/petra", "/account"] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
    }
    let mut conn = app.db().conn().expect("conn");
    let writes: i64 = {
        use diesel::prelude::*;
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM session_writes")
            .get_result(&mut conn)
            .expect("count")
    };
    assert_eq!(writes, 0, "a plain page view must not write the session");
}
