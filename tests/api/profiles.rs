//! What people say about themselves: display name, bio and website, shown on the profile,
//! in the directory and in link previews; and the registration throttle.

use reqwest::StatusCode;

use crate::helpers::*;

/// (display_name, bio, website) as stored.
fn about_of(app: &TestApp, name: &str) -> (Option<String>, Option<String>, Option<String>) {
    use diesel::prelude::*;
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select((display_name, bio, website))
        .first(&mut conn)
        .expect("user exists")
}

async fn save_about(
    app: &TestApp,
    display_name: &str,
    bio: &str,
    website: &str,
) -> reqwest::Response {
    app.submit(
        "/account",
        "/account/profile",
        &[
            ("display_name", display_name),
            ("bio", bio),
            ("website", website),
        ],
    )
    .await
}

#[tokio::test]
async fn the_public_profile_is_saved_and_shown() {
    let app = spawn_app().await;
    app.sign_up("ada").await;
    let response = save_about(
        &app,
        "  Ada   Lovelace ",
        "Mathematician.\r\n\r\nWrote the first program.",
        "example.org/ada",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account");
    let account = app.get_html("/account").await;
    assert!(account.contains("Public profile updated"));
    assert!(account.contains(r#"value="Ada Lovelace""#));
    assert!(account.contains("Mathematician.\n\nWrote the first program.</textarea>"));
    assert!(account.contains(r#"value="https://example.org/ada""#));
    assert_eq!(
        about_of(&app, "ada"),
        (
            Some("Ada Lovelace".into()),
            Some("Mathematician.\n\nWrote the first program.".into()),
            Some("https://example.org/ada".into())
        )
    );

    // Anyone sees it, the name above the handle.
    let html = app.new_browser().get_html("/users/ada").await;
    let name_at = html
        .find(r#"<h1 id="display-name">Ada Lovelace</h1>"#)
        .expect("the name");
    let handle_at = html.find("@ada</p>").expect("the handle");
    assert!(name_at < handle_at);
    assert!(html.contains("Mathematician.\n\nWrote the first program.</p>"));
    assert!(html.contains(
        r#"<a id="website" href="https://example.org/ada" rel="nofollow ugc noopener">example.org/ada</a>"#
    ));
    let year = html
        .split(r#"<time datetime=""#)
        .nth(1)
        .and_then(|rest| rest.get(..4))
        .expect("member since");
    assert!(year.parse::<u32>().is_ok_and(|y| y >= 2026), "{year}");
    assert!(html.contains("<title>Ada Lovelace (@ada) · Folio</title>"));

    // The directory and the home page use the name too.
    let directory = app.get_html("/users").await;
    assert!(directory.contains(r#"<span class="member-name">Ada Lovelace</span>"#));
    assert!(
        app.get_html("/")
            .await
            .contains(r#"<span class="member-name">Ada Lovelace</span>"#)
    );

    // Empty fields clear them.
    let response = save_about(&app, "", " ", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(about_of(&app, "ada"), (None, None, None));
    let html = app.get_html("/users/ada").await;
    assert!(html.contains(r#"<h1 id="display-name">ada</h1>"#));
    assert!(!html.contains(r#"id="website""#));
    assert!(!html.contains(r#"id="bio""#));
}

#[tokio::test]
async fn each_bad_value_is_refused_with_its_message_and_nothing_is_saved() {
    let app = spawn_app().await;
    app.sign_up("grace").await;
    let saved = save_about(&app, "Grace", "Admiral.", "https://grace.example").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let before = about_of(&app, "grace");
    let long_name = "x".repeat(51);
    let long_bio = "y".repeat(301);
    let long_site = format!("https://example.org/{}", "z".repeat(190));

    let cases: [(&str, &str, &str, &str, &str); 12] = [
        (
            &long_name,
            "",
            "",
            "display_name-error",
            "at most 50 characters",
        ),
        (
            "evil\u{202E}gnp.exe",
            "",
            "",
            "display_name-error",
            "visible characters",
        ),
        (
            "zero\u{200B}width",
            "",
            "",
            "display_name-error",
            "visible characters",
        ),
        (
            "two\nlines",
            "",
            "",
            "display_name-error",
            "visible characters",
        ),
        ("", &long_bio, "", "bio-error", "at most 300 characters"),
        (
            "",
            "right\u{202E}left",
            "",
            "bio-error",
            "visible characters",
        ),
        (
            "",
            "",
            "javascript:alert(1)",
            "website-error",
            "http:// or https://",
        ),
        (
            "",
            "",
            "data:text/html,hi",
            "website-error",
            "http:// or https://",
        ),
        (
            "",
            "",
            "ftp://example.org",
            "website-error",
            "http:// or https://",
        ),
        (
            "",
            "",
            &long_site,
            "website-error",
            "at most 200 characters",
        ),
        (
            "",
            "",
            "https://bank.example@evil.example",
            "website-error",
            "user name and password",
        ),
        (
            "",
            "",
            "https://exa mple.org",
            "website-error",
            "not a web address",
        ),
    ];
    for (display_name, bio, website, error_id, words) in cases {
        let response = save_about(&app, display_name, bio, website).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{error_id}: {words}"
        );
        let html = response.text().await.expect("body");
        let message = html
            .split(&format!(r#"id="{error_id}">"#))
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_else(|| panic!("{error_id} in {html}"));
        assert!(message.contains(words), "{message}");
        assert!(html.contains(r#"aria-invalid="true""#));
        // What was typed is kept (escaped), for the person to fix.
        if !website.is_empty() {
            assert!(
                html.contains(&format!(r#"value="{}""#, website.replace('&', "&#38;"))),
                "{website}"
            );
        }
        assert_eq!(
            about_of(&app, "grace"),
            before,
            "nothing saved for {error_id}"
        );
    }

    // Every field is judged at once: two errors, two messages.
    let response = save_about(&app, &long_name, "", "javascript:x").await;
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"id="display_name-error""#) && html.contains(r#"id="website-error""#));
}

#[tokio::test]
async fn the_profile_form_needs_a_login_and_its_token() {
    let app = spawn_app().await;
    let response = app
        .post_raw("/account/profile", &[("display_name", "X")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));
    app.sign_up("mallory").await;
    let response = app
        .post_raw(
            "/account/profile",
            &[("csrf_token", "forged"), ("display_name", "X")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(about_of(&app, "mallory").0, None);
}

#[tokio::test]
async fn markup_in_every_field_is_escaped_everywhere() {
    let app = spawn_app_with(|s| s.public_url = Some("https://folio.example".into())).await;
    app.sign_up("eve").await;
    let name = r#"<script>alert("n")</script>'&"#;
    let bio = "<img src=x onerror=alert(1)>\n</p><b>bold</b>";
    let site = r#"https://example.org/?q=<b>"x"'"#;
    let response = save_about(&app, name, bio, site).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (stored_name, _, stored_site) = about_of(&app, "eve");
    assert_eq!(stored_name.as_deref(), Some(name));
    // The address is stored as browsers send it: the markup percent-encoded.
    let stored_site = stored_site.expect("a website");
    assert!(!stored_site.contains(['<', '"']), "{stored_site}");

    let escaped_name = "&#60;script&#62;alert(&#34;n&#34;)&#60;/script&#62;&#39;&#38;";
    for path in ["/users/eve", "/users", "/users?q=%3Cscr", "/", "/account"] {
        let html = app.get_html(path).await;
        for raw in ["<script>alert", "<img src=x", "<b>bold", r#""x""#] {
            assert!(!html.contains(raw), "{path} has {raw}");
        }
        assert!(html.contains(escaped_name), "{path}");
    }
    let html = app.get_html("/users/eve").await;
    assert!(
        html.contains(
            "&#60;img src=x onerror=alert(1)&#62;\n&#60;/p&#62;&#60;b&#62;bold&#60;/b&#62;"
        )
    );
    assert!(html.contains(&format!("<title>{escaped_name} (@eve) · Folio</title>")));
    assert_eq!(
        meta(&html, "og:title").as_deref(),
        Some(format!("{escaped_name} (@eve)").as_str())
    );
    let description = meta(&html, "og:description").expect("a description");
    assert!(description.starts_with("&#60;img src=x"), "{description}");
    assert_eq!(meta(&html, "description"), Some(description));

    // Direction overrides never reach a page, in any field.
    for (display_name, bio) in [("a\u{202E}b", ""), ("", "a\u{2066}b")] {
        let response = save_about(&app, display_name, bio, "").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = save_about(&app, "", "", "https://example.org/\u{202E}gpj").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = app.get_html("/users/eve").await;
    assert!(!html.contains('\u{202E}'));
    assert!(html.contains("%E2%80%AEgpj"));
    let response = save_about(&app, "", "", "javascript:alert(1)//https://x").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!app.get_html("/users/eve").await.contains("javascript:"));
}

#[tokio::test]
async fn a_profile_link_previews_with_the_face_and_name() {
    let app = spawn_app_with(|s| s.public_url = Some("https://folio.example".into())).await;
    app.sign_up("linus").await;
    save_about(&app, "Linus", "Kernel hacker.", "").await;
    let html = app.new_browser().get_html("/users/linus").await;
    assert_eq!(meta(&html, "og:type").as_deref(), Some("profile"));
    assert_eq!(meta(&html, "og:title").as_deref(), Some("Linus (@linus)"));
    assert_eq!(
        meta(&html, "og:description").as_deref(),
        Some("Kernel hacker.")
    );
    assert_eq!(
        meta(&html, "og:url").as_deref(),
        Some("https://folio.example/users/linus")
    );
    assert_eq!(
        meta(&html, "og:image").as_deref(),
        Some("https://folio.example/avatars/linus.svg")
    );

    let upload = app
        .upload_picture(solid_png(400, 300, [200, 30, 30]), "me.png", "image/png")
        .await;
    assert_eq!(upload.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("linus").expect("a picture");
    let html = app.new_browser().get_html("/users/linus").await;
    let image = meta(&html, "og:image").expect("og:image");
    assert_eq!(
        image,
        format!("https://folio.example/media/profile_pics/{picture}")
    );
    // The image is really there, at the path the absolute address names.
    let path = image
        .strip_prefix("https://folio.example")
        .expect("absolute");
    let served = app.get(path).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(header(served.headers(), "content-type"), "image/jpeg");

    // Without FOLIO_PUBLIC_URL, the address the server listens on, named localhost on the
    // loopback bind (browsers offer passkeys on a name, never on an IP address).
    let plain = spawn_app().await;
    plain.sign_up("plain").await;
    let html = plain.get_html("/users/plain").await;
    assert_eq!(
        meta(&html, "og:image"),
        Some(plain.public_url("/avatars/plain.svg"))
    );
    assert!(plain.public_url("").starts_with("http://localhost:"));
    assert_eq!(
        meta(&html, "description").as_deref(),
        Some("plain (@plain) on Folio.")
    );
}

#[tokio::test]
async fn registration_is_throttled_per_client_address() {
    let app = spawn_app_with(|s| {
        s.signups_per_hour = 2;
        s.trusted_proxies = folio::proxy::TrustedProxies::parse("127.0.0.1").expect("proxies");
    })
    .await;
    for name in ["first", "second"] {
        let browser = app.new_browser();
        assert_eq!(
            browser
                .register(name, &format!("{name}@example.com"), PASSWORD)
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
    }
    let third = app.new_browser();
    let response = third.register("third", "third@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = response.text().await.expect("body");
    assert!(html.contains("Too many new accounts"), "{html}");
    assert!(html.contains(r#"action="/register""#), "the form again");
    assert!(html.contains(r#"value="third""#), "with what was typed");
    assert_eq!(app.users().len(), 2);

    // Deleting an account does not give the address another.
    app.execute_sql("DELETE FROM users WHERE username = 'second'");
    let response = third.register("third", "third@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    // Another client behind the trusted proxy has its own count.
    let token = third.token_from("/register").await;
    let response = third
        .client
        .post(third.url("/register"))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", "third"),
            ("email", "third@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The count is an hour's: once the sign-ups age out, the address may sign up again.
    app.execute_sql("UPDATE signups SET created_at = created_at - 3601");
    let response = app
        .new_browser()
        .register("fourth", "fourth@example.com", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
