//! Mail through a real SMTP server on loopback: forgotten passwords, confirmed addresses,
//! changed addresses, and the outbox when the server is down.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;

use crate::helpers::smtp::{MailServer, Received};
use crate::helpers::{PASSWORD, TestApp, location, spawn_app, spawn_app_with, spawn_app_with_mail};

const NEW_PASSWORD: &str = "another-long-pass-42";

/// The path (from the site's root) of the link in `mail` that starts with `prefix`.
fn link_path(app: &TestApp, mail: &Received, prefix: &str) -> String {
    let link = mail.link(&app.public_url(prefix));
    link.strip_prefix(&app.public_url(""))
        .expect("an absolute link to the site")
        .to_owned()
}

/// The newest reset mail to `address`, once it has received `count` mails in all.
async fn reset_mail(mail: &MailServer, address: &str, count: usize) -> Received {
    mail.wait_for(address, count)
        .await
        .into_iter()
        .rev()
        .find(|m| m.subject() == "Reset your Folio password")
        .unwrap_or_else(|| panic!("no reset mail to {address}"))
}

/// Saves `username` and a wished-for address from the account page's form.
async fn ask_for_address(app: &TestApp, username: &str, email: &str) -> reqwest::Response {
    app.submit(
        "/account",
        "/account",
        &[("username", username), ("email", email)],
    )
    .await
}

async fn ask_for_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.submit("/password/forgot", "/password/forgot", &[("email", email)])
        .await
}

async fn choose_password(
    app: &TestApp,
    path: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    app.submit(
        path,
        path,
        &[("password", password), ("password_confirm", confirm)],
    )
    .await
}

fn confirmed(app: &TestApp, name: &str) -> (String, bool) {
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select((email, email_confirmed))
        .first(&mut conn)
        .expect("the user")
}

/// Waits (up to 20 s) until the outbox is empty: every queued mail sent or dropped.
async fn wait_until_sent(app: &TestApp) {
    for _ in 0..200 {
        if outbox_rows(app).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("mails still waiting: {:?}", outbox_rows(app));
}

fn outbox_rows(app: &TestApp) -> Vec<(String, i32, Option<String>)> {
    use folio::db::schema::outbox::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    outbox
        .order(id)
        .select((recipient, attempts, last_error))
        .load(&mut conn)
        .expect("outbox")
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_once() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("alice").await;
    // A second browser logged in to the same account: the reset must end its session.
    let other = app.new_browser();
    other.login("alice", PASSWORD).await;
    assert_eq!(other.get("/account").await.status(), StatusCode::OK);
    app.logout().await;

    let login_page = app.get_html("/login").await;
    assert!(login_page.contains(r#"<a href="/password/forgot">Forgot your password?</a>"#));
    let response = ask_for_reset(&app, "Alice@Example.com").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
    let flash = app.get_html("/login").await;
    assert!(
        flash.contains(
            "If an account uses that address, a link to choose a new password is on its way."
        ),
        "{flash}"
    );

    let mails = mail.wait_for("alice@example.com", 2).await;
    let reset = mails
        .iter()
        .find(|m| m.subject() == "Reset your Folio password")
        .expect("the reset mail");
    let path = link_path(&app, reset, "/password/reset/");
    assert!(
        reset.html().contains(&app.public_url(&path)),
        "the HTML part links too"
    );
    assert_eq!(path.len(), "/password/reset/".len() + 43, "256 random bits");

    // The form checks the new password like every other form.
    let page = app.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let refused = choose_password(&app, &path, "short", "short").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = choose_password(&app, &path, NEW_PASSWORD, "something-else-entirely").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("The two passwords do not match.")
    );

    let done = choose_password(&app, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/account");
    let account = app.get("/account").await;
    assert_eq!(account.status(), StatusCode::OK, "logged in afresh");
    assert!(
        account
            .text()
            .await
            .expect("body")
            .contains("Your new password is saved")
    );
    assert_eq!(
        other.get("/account").await.status(),
        StatusCode::SEE_OTHER,
        "every other session ended"
    );
    assert_eq!(
        confirmed(&app, "alice"),
        ("alice@example.com".into(), true),
        "the reset proved the address"
    );

    // Single use.
    let again = app.get(&path).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body = again.text().await.expect("body");
    assert!(
        body.contains("This link no longer works") && body.contains(r#"href="/password/forgot""#),
        "{body}"
    );
    assert_eq!(
        choose_password(&app, &path, "yet-another-pass-9", "yet-another-pass-9")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );

    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("alice", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login("alice", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_and_no_mail() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("bob").await;
    mail.wait_for("bob@example.com", 1).await; // its confirmation
    app.logout().await;

    let known = ask_for_reset(&app, "bob@example.com").await;
    let known_status = known.status();
    let known_location = location(&known);
    let known_page = app.get_html("/login").await;
    let unknown = ask_for_reset(&app, "nobody@example.com").await;
    assert_eq!(unknown.status(), known_status);
    assert_eq!(location(&unknown), known_location);
    let unknown_page = app.get_html("/login").await;
    let token_free = |page: &str| page.replace(&crate::helpers::csrf_token(page), "");
    assert_eq!(
        token_free(&unknown_page),
        token_free(&known_page),
        "the same words"
    );

    mail.wait_for("bob@example.com", 2).await;
    // The unknown address's request was queued like the known one's, and dropped when its
    // mail was to be written: once the outbox is empty, nothing can still go to it.
    wait_until_sent(&app).await;
    assert!(mail.to("nobody@example.com").is_empty());

    // A malformed address is the form's own error, not a different answer about accounts.
    let bad = ask_for_reset(&app, "not-an-address").await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_newer_link_voids_the_older_and_changed_links_are_refused() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("carol").await;
    app.logout().await;
    ask_for_reset(&app, "carol@example.com").await;
    let first = mail.wait_for("carol@example.com", 2).await;
    ask_for_reset(&app, "carol@example.com").await;
    let all = mail.wait_for("carol@example.com", 3).await;
    let resets: Vec<_> = all
        .iter()
        .filter(|m| m.subject() == "Reset your Folio password")
        .collect();
    assert_eq!(resets.len(), 2);
    assert_eq!(first.len(), 2, "the welcome and the first reset");
    let older = link_path(&app, resets[0], "/password/reset/");
    let newer = link_path(&app, resets[1], "/password/reset/");
    assert_ne!(older, newer);
    assert_eq!(app.get(&older).await.status(), StatusCode::BAD_REQUEST);

    // Tampered with (every position of the token, one character changed), cut short, or junk.
    let token = newer.trim_start_matches("/password/reset/");
    for i in 0..token.len() {
        let mut changed: Vec<char> = token.chars().collect();
        changed[i] = if changed[i] == 'A' { 'B' } else { 'A' };
        let changed: String = changed.into_iter().collect();
        let response = app.get(&format!("/password/reset/{changed}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "position {i}");
    }
    for junk in ["x", "..%2F..%2Fetc", &token[..42], &format!("{token}A")] {
        let response = app.get(&format!("/password/reset/{junk}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{junk}");
    }
    assert_eq!(
        app.get(&newer).await.status(),
        StatusCode::OK,
        "the newest still works"
    );

    // Expired: the row aged past its hour.
    app.execute_sql("UPDATE email_tokens SET expires_at = created_at - 1");
    assert_eq!(app.get(&newer).await.status(), StatusCode::BAD_REQUEST);
    // The form itself may still be open in a tab: its post is refused too.
    let token = app.token_from("/password/forgot").await;
    let late = app
        .post_raw(
            &newer,
            &[
                ("csrf_token", token.as_str()),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(late.status(), StatusCode::BAD_REQUEST);
    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("carol", PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "password unchanged"
    );
}

#[tokio::test]
async fn reset_requests_are_throttled_per_address_whether_or_not_it_is_an_account() {
    let app = spawn_app().await;
    for address in ["dave@example.com", "nobody-here@example.com"] {
        for _ in 0..5 {
            assert_eq!(
                ask_for_reset(&app, address).await.status(),
                StatusCode::SEE_OTHER
            );
        }
        let refused = ask_for_reset(&app, address).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{address}");
        let body = refused.text().await.expect("body");
        assert!(
            body.contains(
                "Too many links were asked for in the last hour. Try again in 60 minutes."
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn registration_mails_a_link_that_confirms_the_address() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("erin").await;
    let account = app.get_html("/account").await;
    assert!(
        account.contains("A link to confirm your address is on its way to erin@example.com."),
        "{account}"
    );
    assert!(account.contains("Not confirmed yet."), "{account}");
    assert!(account.contains(r#"action="/account/email/confirm""#));
    assert_eq!(confirmed(&app, "erin"), ("erin@example.com".into(), false));

    let welcome = mail.wait_for("erin@example.com", 1).await.remove(0);
    assert_eq!(welcome.subject(), "Confirm your email address for Folio");
    let first = link_path(&app, &welcome, "/email/confirm/");

    // Sending it again voids the first link.
    let resent = app.submit("/account", "/account/email/confirm", &[]).await;
    assert_eq!(resent.status(), StatusCode::SEE_OTHER);
    assert!(
        app.get_html("/account")
            .await
            .contains("A new link is on its way to erin@example.com.")
    );
    let second = link_path(
        &app,
        &mail.wait_for("erin@example.com", 2).await[1],
        "/email/confirm/",
    );
    let dead = app.get(&first).await;
    assert_eq!(dead.status(), StatusCode::BAD_REQUEST);
    assert!(
        dead.text()
            .await
            .expect("body")
            .contains("This link no longer works")
    );

    // A link checker's HEAD answers as the GET would, and leaves the link unused.
    let head = app
        .client
        .head(app.url(&second))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed(&app, "erin"), ("erin@example.com".into(), false));
    // The link works without a session too (opened in another browser or on a phone).
    let phone = app.new_browser();
    let done = phone.get(&second).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed(&app, "erin"), ("erin@example.com".into(), true));
    let account = app.get_html("/account").await;
    assert!(account.contains("Confirmed."), "{account}");
    assert!(!account.contains(r#"action="/account/email/confirm""#));
    assert_eq!(
        app.get(&second).await.status(),
        StatusCode::BAD_REQUEST,
        "single use"
    );
}

#[tokio::test]
async fn a_new_address_takes_effect_only_through_its_link_and_the_old_one_is_told() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("frank").await;
    mail.wait_for("frank@example.com", 1).await;
    let changed = ask_for_address(&app, "frank", "frank.new@example.org").await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    let account = app.get_html("/account").await;
    assert!(
        account.contains("until then your address stays frank@example.com"),
        "{account}"
    );
    assert!(
        account.contains("Waiting for <strong>frank.new@example.org</strong> to be confirmed"),
        "{account}"
    );
    assert_eq!(confirmed(&app, "frank").0, "frank@example.com", "not yet");
    let other = app.new_browser();
    assert_eq!(
        other
            .login("frank.new@example.org", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let confirm = mail.wait_for("frank.new@example.org", 1).await.remove(0);
    assert_eq!(
        confirm.subject(),
        "Confirm your new email address for Folio"
    );
    // A reset link sent to the old address before the change stops working after it.
    ask_for_reset(&other, "frank@example.com").await;
    let old_reset = reset_mail(&mail, "frank@example.com", 2).await;
    let old_reset = link_path(&app, &old_reset, "/password/reset/");

    let done = app.get(&link_path(&app, &confirm, "/email/confirm/")).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        confirmed(&app, "frank"),
        ("frank.new@example.org".into(), true)
    );
    assert!(
        app.get_html("/account")
            .await
            .contains("Your email address is changed and confirmed.")
    );

    let notice = mail
        .wait_for("frank@example.com", 3)
        .await
        .into_iter()
        .find(|m| m.subject() == "The email address of your Folio account was changed")
        .expect("the notice to the old address");
    assert!(
        notice.text().contains("f***@example.org"),
        "{}",
        notice.text()
    );
    assert!(
        !notice.text().contains("frank.new@"),
        "the new address is not handed to the old mailbox"
    );
    assert_eq!(app.get(&old_reset).await.status(), StatusCode::BAD_REQUEST);

    let other = app.new_browser();
    assert_eq!(
        other
            .login("frank.new@example.org", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_address_taken_before_its_link_is_used_is_not_taken_twice() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("gina").await;
    ask_for_address(&app, "gina", "shared@example.org").await;
    let confirm = mail.wait_for("shared@example.org", 1).await.remove(0);
    // Meanwhile someone registers with that address.
    let rival = app.new_browser();
    assert_eq!(
        rival
            .register("hank", "shared@example.org", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let refused = app.get(&link_path(&app, &confirm, "/email/confirm/")).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("your address has not changed")
    );
    assert_eq!(confirmed(&app, "gina").0, "gina@example.com");
    // Asking for a taken address is refused at once.
    let taken = ask_for_address(&app, "gina", "SHARED@example.org").await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn markup_in_a_name_is_escaped_in_the_html_part() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("ivy").await;
    let saved = app
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "<img src=x onerror=alert(1)> & \"Ivy\""),
                ("bio", ""),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    // The name is mailed only once the address is known to be the account's own.
    let welcome = mail.wait_for("ivy@example.com", 1).await.remove(0);
    assert_eq!(welcome.text().lines().next(), Some("Hello,"));
    assert!(!welcome.html().contains("onerror"));
    app.get(&link_path(&app, &welcome, "/email/confirm/")).await;
    app.logout().await;
    ask_for_reset(&app, "ivy@example.com").await;
    let reset = reset_mail(&mail, "ivy@example.com", 2).await;
    let html = reset.html();
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62; &#38; &#34;Ivy&#34;"),
        "{html}"
    );
    assert!(
        reset
            .text()
            .contains("Hello <img src=x onerror=alert(1)> & \"Ivy\","),
        "plain text is plain"
    );
}

#[tokio::test]
async fn without_a_mail_server_mails_are_written_as_files() {
    let app = spawn_app().await;
    app.sign_up("jack").await;
    let dir = app.settings.mail.dir.clone();
    let mut found = None;
    for _ in 0..100 {
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(file) = files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "eml"))
        {
            found = Some(std::fs::read(file).expect("the mail"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let raw = found.expect("an .eml file in FOLIO_MAIL_DIR");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a mail");
    assert_eq!(
        parsed.subject(),
        Some("Confirm your email address for Folio")
    );
    let text = parsed.body_text(0).expect("text").into_owned();
    assert!(text.contains(&app.public_url("/email/confirm/")), "{text}");
    assert!(outbox_rows(&app).is_empty(), "sent, so no longer waiting");
}

#[tokio::test]
async fn a_mail_server_that_is_down_holds_nothing_up_and_gets_the_mail_once_back() {
    let port = MailServer::unused_port();
    let url = folio::mail::SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
    let app = spawn_app_with(|s| s.mail.smtp = Some(url)).await;
    app.sign_up("kate").await;
    app.logout().await;
    let response = ask_for_reset(&app, "kate@example.com").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the page answers");
    // Both mails wait in the outbox, each tried and to be tried again.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = outbox_rows(&app);
        // Tried and given up on for now: a claimed row gets its error only after the attempt.
        if rows.len() == 2
            && rows
                .iter()
                .all(|(_, attempts, error)| *attempts >= 1 && error.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|(to, attempts, error)| to == "kate@example.com"
                && *attempts >= 1
                && error.is_some()),
        "{rows:?}"
    );

    let server = MailServer::start_on(port);
    let mails = server.wait_for("kate@example.com", 2).await;
    let subjects: Vec<String> = mails.iter().map(Received::subject).collect();
    assert!(
        subjects.contains(&"Reset your Folio password".to_owned()),
        "{subjects:?}"
    );
    // A row goes only once the server has taken its mail, and no two senders hold one row:
    // with the outbox empty, nothing more can arrive.
    wait_until_sent(&app).await;
    assert_eq!(
        server.to("kate@example.com").len(),
        2,
        "each mail exactly once"
    );
    assert!(outbox_rows(&app).is_empty());
    // The link still works: it was made when the page was asked for.
    let reset = mails
        .iter()
        .find(|m| m.subject() == "Reset your Folio password")
        .expect("reset");
    assert_eq!(
        app.get(&link_path(&app, reset, "/password/reset/"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn saving_the_old_address_again_withdraws_a_waiting_change() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("lena").await;
    ask_for_address(&app, "lena", "lena@elsewhere.org").await;
    let confirm = mail.wait_for("lena@elsewhere.org", 1).await.remove(0);
    assert!(app.get_html("/account").await.contains("Waiting for"));
    let kept = ask_for_address(&app, "lena", "lena@example.com").await;
    assert_eq!(kept.status(), StatusCode::SEE_OTHER);
    let account = app.get_html("/account").await;
    assert!(!account.contains("Waiting for"), "{account}");
    assert!(
        account.contains("Not confirmed yet."),
        "the own address still needs its link"
    );
    let link = link_path(&app, &confirm, "/email/confirm/");
    assert_eq!(app.get(&link).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(confirmed(&app, "lena").0, "lena@example.com");
}

#[tokio::test]
async fn the_new_forms_need_their_token() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("mona").await;
    let welcome = mail.wait_for("mona@example.com", 1).await.remove(0);
    app.logout().await;
    ask_for_reset(&app, "mona@example.com").await;
    let reset = reset_mail(&mail, "mona@example.com", 2).await;
    let reset = link_path(&app, &reset, "/password/reset/");
    for (path, fields) in [
        ("/password/forgot", vec![("email", "mona@example.com")]),
        (
            reset.as_str(),
            vec![
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        ),
    ] {
        let refused = app.post_raw(path, &fields).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
    }
    app.login("mona", PASSWORD).await;
    let refused = app.post_raw("/account/email/confirm", &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Nothing happened: the reset link still works, the first confirmation link too.
    assert_eq!(app.get(&reset).await.status(), StatusCode::OK);
    let confirm = link_path(&app, &welcome, "/email/confirm/");
    assert_eq!(app.get(&confirm).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn confirmation_links_that_are_changed_or_expired_are_refused() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("nina").await;
    let welcome = mail.wait_for("nina@example.com", 1).await.remove(0);
    let link = link_path(&app, &welcome, "/email/confirm/");
    let token = link.trim_start_matches("/email/confirm/").to_owned();
    for i in [0, 20, 42] {
        let mut changed: Vec<char> = token.chars().collect();
        changed[i] = if changed[i] == 'A' { 'B' } else { 'A' };
        let changed: String = changed.into_iter().collect();
        let response = app.get(&format!("/email/confirm/{changed}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "position {i}");
        assert!(
            response
                .text()
                .await
                .expect("body")
                .contains("This link no longer works")
        );
    }
    app.execute_sql("UPDATE email_tokens SET expires_at = created_at - 1");
    assert_eq!(app.get(&link).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(confirmed(&app, "nina"), ("nina@example.com".into(), false));
}

#[tokio::test]
async fn a_reset_starts_a_new_session_and_forgives_failed_logins() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("olga").await;
    app.logout().await;
    // Ten wrong passwords lock the account for a while (tests/api/auth.rs).
    let guesser = app.new_browser();
    for _ in 0..10 {
        guesser.login("olga", "not-her-password").await;
    }
    assert_eq!(
        guesser.login("olga", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    ask_for_reset(&app, "olga@example.com").await;
    let reset = reset_mail(&mail, "olga@example.com", 2).await;
    let path = link_path(&app, &reset, "/password/reset/");
    let form = app.get_html(&path).await;
    assert!(
        form.contains("@olga"),
        "the form says whose password: {form}"
    );
    let before = app.session_cookie().expect("a session for the form");
    choose_password(&app, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    let after = app.session_cookie().expect("the new session");
    assert_ne!(before, after, "a fresh session id");
    let fresh = app.new_browser();
    assert_eq!(
        fresh.login("olga", NEW_PASSWORD).await.status(),
        StatusCode::SEE_OTHER,
        "the reset forgave the failed logins"
    );
}

#[tokio::test]
async fn a_reset_withdraws_a_change_of_address_someone_else_asked_for() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("pia").await;
    // Someone with Pia's session asks for their own address.
    ask_for_address(&app, "pia", "thief@evil.example").await;
    let stolen = mail.wait_for("thief@evil.example", 1).await.remove(0);
    // Pia resets her password.
    let pia = app.new_browser();
    ask_for_reset(&pia, "pia@example.com").await;
    let reset = reset_mail(&mail, "pia@example.com", 2).await;
    let path = link_path(&pia, &reset, "/password/reset/");
    choose_password(&pia, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    let refused = pia.get(&link_path(&app, &stolen, "/email/confirm/")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(confirmed(&app, "pia"), ("pia@example.com".into(), true));
}

#[tokio::test]
async fn a_dead_reset_link_is_refused_before_the_password_is_looked_at() {
    let app = spawn_app().await;
    let token = app.token_from("/password/forgot").await;
    let made_up = format!("/password/reset/{}", "A".repeat(43));
    for password in ["short", NEW_PASSWORD] {
        let response = app
            .post_raw(
                &made_up,
                &[
                    ("csrf_token", token.as_str()),
                    ("password", password),
                    ("password_confirm", password),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{password}");
    }
}

#[tokio::test]
async fn a_mail_server_that_never_answers_holds_no_page_up() {
    // Accepts connections (the kernel does) and never says a word: a send would wait for
    // lettre's 30 s timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = silent.local_addr().expect("bound").port();
    let url = folio::mail::SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
    let app = spawn_app_with(|s| s.mail.smtp = Some(url)).await;
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        app.sign_up("quinn").await;
        app.logout().await;
        ask_for_reset(&app, "quinn@example.com").await
    })
    .await
    .expect("the pages answer while the mail server hangs");
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    drop(silent);
}

#[tokio::test]
async fn one_client_cannot_ask_for_links_to_many_addresses() {
    let app = spawn_app().await;
    for i in 0..20 {
        let address = format!("someone{i}@example.com");
        assert_eq!(
            ask_for_reset(&app, &address).await.status(),
            StatusCode::SEE_OTHER,
            "{address}"
        );
    }
    let refused = ask_for_reset(&app, "one-more@example.com").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_change_of_case_is_no_change_of_address() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("max").await;
    let welcome = mail.wait_for("max@example.com", 1).await.remove(0);
    let saved = ask_for_address(&app, "max", "Max@Example.com").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let account = app.get_html("/account").await;
    assert!(account.contains("Profile updated"), "{account}");
    assert!(!account.contains("Waiting for"), "{account}");
    // The welcome link still confirms the one mailbox.
    let done = app.get(&link_path(&app, &welcome, "/email/confirm/")).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(confirmed(&app, "max"), ("Max@Example.com".into(), true));
}
