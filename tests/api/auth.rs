//! Registration, login, logout, CSRF and throttling.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn registering_logs_in_and_stores_an_argon2id_hash() {
    let app = spawn_app().await;
    let response = app.register("alice", "alice@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account");

    let users = app.users();
    assert_eq!(users.len(), 1);
    let (name, email, hash, picture) = &users[0];
    assert_eq!(
        (name.as_str(), email.as_str()),
        ("alice", "alice@example.com")
    );
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
    assert!(picture.is_none());

    let html = app.get_html("/account").await;
    assert!(
        html.contains("Welcome to Folio, alice!"),
        "one-time message shown"
    );
    let again = app.get_html("/account").await;
    assert!(!again.contains("Welcome to Folio"), "and only once");
    let home = app.get_html("/").await;
    assert!(home.contains("Welcome back, alice"));
    assert!(
        home.contains(r#"src="/avatars/alice.svg""#),
        "initials avatar until a picture"
    );
}

#[tokio::test]
async fn invalid_registrations_answer_422_with_the_values_kept_but_never_the_password() {
    let app = spawn_app().await;
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "ab",
            "a@example.com",
            PASSWORD,
            PASSWORD,
            "at least 3 characters",
        ),
        (
            "has space",
            "a@example.com",
            PASSWORD,
            PASSWORD,
            "Use only letters",
        ),
        (
            "alice",
            "not-an-email",
            PASSWORD,
            PASSWORD,
            "valid email address",
        ),
        (
            "alice",
            "a@example.com",
            "short",
            "short",
            "at least 8 characters",
        ),
        (
            "alice",
            "a@example.com",
            "password1",
            "password1",
            "most common",
        ),
        (
            "alice",
            "a@example.com",
            PASSWORD,
            "something-else",
            "do not match",
        ),
    ];
    for (username, email, password, confirm, message) in cases {
        let response = app
            .submit(
                "/register",
                "/register",
                &[
                    ("username", username),
                    ("email", email),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username} {email}"
        );
        let html = response.text().await.expect("body");
        assert!(html.contains(message), "expected {message:?}");
        assert!(html.contains(&format!(r#"value="{email}""#)), "email kept");
        assert!(!html.contains(password), "the password is never echoed");
    }
    assert!(app.users().is_empty());
}

#[tokio::test]
async fn html_typed_into_a_form_is_escaped_when_shown_again() {
    let app = spawn_app().await;
    let evil = r#"<script>alert("x")</script>"#;
    let response = app
        .submit(
            "/register",
            "/register",
            &[
                ("username", evil),
                ("email", evil),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("body");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "shown, escaped"
    );

    let response = app
        .submit(
            "/login",
            "/login",
            &[("username", evil), ("password", "whatever-at-all")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.expect("body");
    assert!(!html.contains("<script>alert"));
}

#[tokio::test]
async fn usernames_and_emails_are_unique_ignoring_case() {
    let app = spawn_app().await;
    app.sign_up("Alice").await;
    let other = app.new_browser();

    let response = other
        .register("aLICE", "second@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let html = response.text().await.expect("body");
    assert!(html.contains("That username is already taken."));
    assert!(html.contains(r#"value="aLICE""#));

    let response = other.register("bob", "ALICE@Example.COM", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("email already exists")
    );
    assert_eq!(app.users().len(), 1);
}

#[tokio::test]
async fn simultaneous_registrations_of_one_name_give_one_account_and_one_form_error() {
    let app = spawn_app().await;
    let a = app.new_browser();
    let b = app.new_browser();
    let (ra, rb) = tokio::join!(
        a.register("racer", "one@example.com", PASSWORD),
        b.register("RACER", "two@example.com", PASSWORD)
    );
    let mut statuses = [ra.status(), rb.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::CONFLICT]);
    assert_eq!(app.users().len(), 1);
}

#[tokio::test]
async fn login_works_with_username_or_email_in_any_case() {
    let app = spawn_app().await;
    app.sign_up("carol").await;
    app.logout().await;
    for login in ["carol", "CAROL", "carol@example.com", "Carol@Example.com"] {
        let other = app.new_browser();
        let response = other.login(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{login}");
        assert_eq!(location(&response), "/");
        assert_eq!(other.get("/account").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = spawn_app().await;
    app.sign_up("dave").await;
    app.logout().await;
    let wrong = app.login("dave", "not-the-password").await;
    let unknown = app.login("nobody-here", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let message = |html: String| {
        let start = html.find(r#"id="login-error""#).expect("error shown");
        html[start..start + 120].to_owned()
    };
    let (wrong, unknown) = (
        message(wrong.text().await.expect("body")),
        message(unknown.text().await.expect("body")),
    );
    assert_eq!(wrong, unknown);
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_returns_to_a_local_next_and_never_leaves_the_site() {
    let app = spawn_app().await;
    app.sign_up("erin").await;
    app.logout().await;

    let response = app.get("/account").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/account");

    let html = app.get_html("/login?next=/account").await;
    assert!(html.contains(r#"name="next" value="/account""#));
    let response = app
        .submit(
            "/login?next=/account",
            "/login",
            &[
                ("username", "erin"),
                ("password", PASSWORD),
                ("next", "/account"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/account");

    for evil in [
        "//elsewhere.example",
        "https://elsewhere.example/",
        "/\\elsewhere.example",
    ] {
        app.logout().await;
        let response = app
            .submit(
                "/login",
                "/login",
                &[("username", "erin"), ("password", PASSWORD), ("next", evil)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/", "{evil}");
    }
}

#[tokio::test]
async fn posts_without_a_valid_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let fields = [
        ("username", "mallory"),
        ("email", "m@example.com"),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ];
    // No token at all, before and after the visitor has a session.
    let response = app.post_raw("/register", &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("body").contains("expired"));
    app.token_from("/register").await;
    let response = app.post_raw("/register", &fields).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A forged one.
    let mut forged = vec![("csrf_token", "0".repeat(64))];
    forged.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        app.post_raw("/register", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    // Another visitor's real token.
    let other = app.new_browser();
    let theirs = other.token_from("/register").await;
    let mut stolen = vec![("csrf_token", theirs.as_str())];
    stolen.extend_from_slice(&fields);
    assert_eq!(
        app.post_raw("/register", &stolen).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(app.users().is_empty());

    // Logged in: profile changes and logout need the token too.
    app.sign_up("trent").await;
    let response = app
        .post_raw(
            "/account",
            &[("username", "hijacked"), ("email", "h@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.post_raw("/logout", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.users()[0].0, "trent");
    assert_eq!(
        app.get("/account").await.status(),
        StatusCode::OK,
        "still logged in"
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_a_token() {
    let app = spawn_app().await;
    app.sign_up("victor").await;
    let token = app.token_from("/account").await;
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "null"),
    ] {
        let response = app
            .client
            .post(app.url("/account"))
            .header(name, value)
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "renamed"),
                ("email", "r@example.com"),
            ])
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    // Same-origin requests with an Origin header are fine.
    let response = app
        .client
        .post(app.url("/account"))
        .header("origin", app.address.as_str())
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "renamed"),
            ("email", "r@example.com"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.users()[0].0, "renamed");
}

#[tokio::test]
async fn ten_failures_lock_the_account_for_a_while_even_for_the_right_password() {
    let app = spawn_app().await;
    app.sign_up("frank").await;
    app.logout().await;
    for _ in 0..10 {
        let response = app.login("frank", "wrong-password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // By username or email: it is the same account.
    for login in ["frank", "frank@example.com"] {
        let response = app.login(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{login}");
        let html = response.text().await.expect("body");
        assert!(html.contains("Too many failed attempts"));
    }
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
    // Another account is not locked by it.
    let other = app.new_browser();
    other.sign_up("grace").await;
    other.logout().await;
    assert_eq!(
        other.login("grace", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn one_address_cannot_guess_freely_across_many_accounts() {
    let app = spawn_app().await;
    app.sign_up("heidi").await;
    app.logout().await;
    // 100 failures spread over names that do not exist, nine per name: no account lock.
    for i in 0..100 {
        let response = app
            .login(&format!("ghost{}", i / 9), "wrong-password!")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let response = app.login("heidi", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.sign_up("ivan").await;
    let response = app.logout().await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert!(
        app.get_html("/")
            .await
            .contains("You have been logged out.")
    );
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
}
