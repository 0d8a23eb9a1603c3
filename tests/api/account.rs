//! The account page: profile, password and deletion; the public profile page.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn anonymous_visitors_are_sent_to_log_in() {
    let app = spawn_app().await;
    let response = app.get("/account").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/account");
    for path in [
        "/account",
        "/account/password",
        "/account/delete",
        "/account/picture/delete",
    ] {
        let response = app.post_raw(path, &[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/login"), "{path}");
    }
}

#[tokio::test]
async fn the_profile_can_be_changed_and_other_fields_are_ignored() {
    let app = spawn_app().await;
    app.sign_up("peggy").await;
    let response = app
        .submit(
            "/account",
            "/account",
            &[
                ("username", "Peggy.S"),
                ("email", "peggy@new.example"),
                ("image_file", "../../etc/passwd"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account");
    let html = app.get_html("/account").await;
    // The new name at once; the new address once its link is used (tests/api/mail.rs).
    assert!(html.contains("Saved. To use peggy@new.example, open the link just mailed there"));
    assert!(html.contains(r#"value="Peggy.S""#));
    let (name, email, _, picture) = app.users().remove(0);
    assert_eq!(
        (name.as_str(), email.as_str()),
        ("Peggy.S", "peggy@example.com")
    );
    assert!(picture.is_none());
    assert_eq!(app.get("/users/peggy.s").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/users/peggy").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn profile_errors_re_render_the_form() {
    let app = spawn_app().await;
    app.sign_up("quinn").await;
    app.new_browser().sign_up("rupert").await;

    let response = app
        .submit(
            "/account",
            "/account",
            &[("username", "x"), ("email", "bad")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"id="username-error""#) && html.contains(r#"id="email-error""#));
    assert!(html.contains(r#"value="x""#) && html.contains(r#"value="bad""#));

    let response = app
        .submit(
            "/account",
            "/account",
            &[("username", "RUPERT"), ("email", "quinn@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("already taken")
    );
    let response = app
        .submit(
            "/account",
            "/account",
            &[("username", "quinn"), ("email", "Rupert@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    // Keeping one's own name (in another case) is not a conflict.
    let response = app
        .submit(
            "/account",
            "/account",
            &[("username", "QUINN"), ("email", "quinn@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let names: Vec<String> = app.users().into_iter().map(|u| u.0).collect();
    assert_eq!(names, ["QUINN", "rupert"]);
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one() {
    let app = spawn_app().await;
    app.sign_up("sybil").await;
    let new_password = "a-brand-new-secret";
    let cases = [
        (
            "wrong-current-pw",
            new_password,
            new_password,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not your current password",
        ),
        (
            PASSWORD,
            "short",
            "short",
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least 8",
        ),
        (
            PASSWORD,
            new_password,
            "different-one!",
            StatusCode::UNPROCESSABLE_ENTITY,
            "do not match",
        ),
    ];
    for (current, password, confirm, status, message) in cases {
        let response = app
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", current),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await;
        assert_eq!(response.status(), status);
        let html = response.text().await.expect("body");
        assert!(html.contains(message), "{message}");
        assert!(
            !html.contains(current) && !html.contains(password),
            "passwords are never echoed"
        );
    }
    let hash_before = app.users()[0].2.clone();
    let response = app.change_password(PASSWORD, new_password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_ne!(app.users()[0].2, hash_before);
    assert!(app.users()[0].2.starts_with("$argon2id$"));

    app.logout().await;
    assert_eq!(
        app.login("sybil", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("sybil", new_password).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn deleting_the_account_asks_for_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    app.sign_up("trudy").await;
    let phone = app.new_browser();
    phone.login("trudy", PASSWORD).await;

    let response = app
        .submit(
            "/account",
            "/account/delete",
            &[("password", "not-my-password")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains(r#"id="delete_password-error""#)
    );
    assert_eq!(app.users().len(), 1);

    let response = app
        .submit("/account", "/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert!(
        app.get_html("/")
            .await
            .contains("Your account has been deleted.")
    );
    assert!(app.users().is_empty());
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/account").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/users/trudy").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.login("trudy", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let mut conn = app.db().conn().expect("conn");
    assert_eq!(
        folio::db::sessions::count_for_user(&mut conn, 1).expect("count"),
        0
    );
}

#[tokio::test]
async fn user_ids_are_never_reused() {
    let app = spawn_app().await;
    app.sign_up("ursula").await;
    let old_cookie = app.session_cookie().expect("cookie");
    app.submit("/account", "/account/delete", &[("password", PASSWORD)])
        .await;

    let other = app.new_browser();
    other.sign_up("victoria").await;
    let mut conn = app.db().conn().expect("conn");
    let victoria = folio::db::users::find_by_username(&mut conn, "victoria")
        .expect("query")
        .expect("exists");
    assert_eq!(victoria.id, 2);
    // The deleted account's cookie does not become Victoria.
    let (replay, _) = app.other_browser(Some(&old_cookie));
    let response = replay.get(app.url("/account")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_public_profile_shows_the_avatar_with_its_size() {
    let app = spawn_app().await;
    app.sign_up("walter").await;
    let visitor = app.new_browser();
    let html = visitor.get_html("/users/Walter").await;
    assert!(html.contains(r#"<img id="avatar" class="avatar-lg" src="/avatars/walter.svg" alt="Profile picture of walter" width="344" height="344">"#), "{html}");
    let initials = visitor.get("/avatars/walter.svg").await;
    assert_eq!(initials.status(), StatusCode::OK);
    assert_eq!(header(initials.headers(), "content-type"), "image/svg+xml");
    assert!(
        !html.contains("Change your picture"),
        "only the owner sees the edit link"
    );
    assert!(
        app.get_html("/users/walter")
            .await
            .contains("Change your picture")
    );
}
