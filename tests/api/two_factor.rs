//! Two-factor sign-in and the sessions list (`/account/security`): setting up an
//! authenticator app, the login's code step, recovery codes, turning it off, a reset through
//! the mailed link, the throttle, the sessions a person sees and ends, and the notices mailed.
//!
//! Codes are computed here as an authenticator app would, from the secret the page shows. A
//! code is taken once per 30 s step, so each one given is for the step after the last one
//! taken (read from the database), waiting for the clock when that step is not yet accepted.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::time::OffsetDateTime;
use diesel::prelude::*;
use folio::domain::TotpSecret;
use reqwest::{Response, StatusCode};

use crate::helpers::{
    PASSWORD, TestApp, link_by_id, location, shown_token, spawn_app, spawn_app_with_mail,
};

const PAGE: &str = "/account/security";
const CODE_PAGE: &str = "/login/two-factor";
const STEP_SECS: u64 = 30;
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The text of `<code id="{id}" …>…</code>`.
fn code_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!(r#"<code id="{id}""#))?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(text[..text.find("</code>")?].trim().to_owned())
}

/// The secret as the page shows it (base32 in groups), and the secret itself.
fn shown_secret(html: &str) -> (String, TotpSecret) {
    let text = code_text(html, "totp-secret").expect("the page shows the secret");
    let bytes = base32::decode(
        base32::Alphabet::Rfc4648 { padding: false },
        &text.replace(' ', ""),
    )
    .expect("base32");
    let secret = TotpSecret::from_bytes(bytes).expect("a 160-bit secret");
    (text, secret)
}

/// The codes of `<ol id="recovery-codes">`, one per `<li>`; empty when it is not shown.
fn recovery_codes(html: &str) -> Vec<String> {
    let Some(start) = html.find(r#"<ol id="recovery-codes""#) else {
        return Vec::new();
    };
    let list = &html[start..];
    let list = &list[..list.find("</ol>").expect("the list ends")];
    list.split("<li>")
        .skip(1)
        .map(|item| {
            item.split("</li>")
                .next()
                .unwrap_or_default()
                .replace("<code>", "")
                .replace("</code>", "")
                .trim()
                .to_owned()
        })
        .collect()
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

/// (totp_secret, totp_pending, totp_last_step) as stored.
fn stored_totp(app: &TestApp, name: &str) -> (Option<String>, Option<String>, Option<i64>) {
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select((totp_secret, totp_pending, totp_last_step))
        .first(&mut conn)
        .expect("the user")
}

/// A code the authenticator app would show, for a step after the last one taken: now's, or
/// the next one's (accepted a step early), waiting for the clock if even that was taken.
pub async fn next_code(app: &TestApp, username: &str, secret: &TotpSecret) -> String {
    let last = stored_totp(app, username).2;
    loop {
        let now = now_secs();
        let step = now / STEP_SECS;
        let wanted = last.map_or(step, |l| u64::try_from(l + 1).expect("a step").max(step));
        if wanted <= step + 1 {
            return secret.code_at_step(wanted);
        }
        tokio::time::sleep(
            Duration::from_secs(STEP_SECS - now % STEP_SECS) + Duration::from_millis(50),
        )
        .await;
    }
}

/// Six digits that are no code of any step the app accepts now.
fn wrong_code(secret: &TotpSecret) -> String {
    let step = now_secs() / STEP_SECS;
    let near: Vec<String> = (step.saturating_sub(2)..=step + 2)
        .map(|s| secret.code_at_step(s))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919 + 13) % 1_000_000))
        .find(|c| !near.contains(c))
        .expect("a code that is none of five")
}

/// An account with two-factor sign-in on.
pub struct Enrolled {
    pub secret: TotpSecret,
    pub codes: Vec<String>,
}

/// Turns two-factor sign-in on for the logged-in `username`, as a person with an app would.
pub async fn turn_on(app: &TestApp, username: &str) -> Enrolled {
    let started = app
        .submit(PAGE, "/account/totp/start", &[("password", PASSWORD)])
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER, "set-up started");
    let (_, secret) = shown_secret(&app.get_html(PAGE).await);
    let code = next_code(app, username, &secret).await;
    let confirmed = app
        .submit(PAGE, "/account/totp/confirm", &[("code", &code)])
        .await;
    assert_eq!(
        confirmed.status(),
        StatusCode::SEE_OTHER,
        "set-up confirmed"
    );
    let codes = recovery_codes(&app.get_html(PAGE).await);
    assert_eq!(codes.len(), 10, "ten recovery codes shown");
    Enrolled { secret, codes }
}

/// The password step: it must lead to the code's page.
async fn password_step(app: &TestApp, username: &str) {
    let response = app.login(username, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "password step");
    assert_eq!(location(&response), CODE_PAGE);
}

async fn give_code(app: &TestApp, code: &str) -> Response {
    app.submit(CODE_PAGE, CODE_PAGE, &[("code", code)]).await
}

async fn logged_in(app: &TestApp) -> bool {
    app.get("/account").await.status() == StatusCode::OK
}

/// The handles in the page's "End" forms, in order.
fn end_handles(html: &str) -> Vec<String> {
    html.split(r#"action="/account/sessions/"#)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|path| path.strip_suffix("/delete"))
        .filter(|handle| *handle != "delete-others")
        .map(str::to_owned)
        .collect()
}

/// The sessions list's items.
fn session_items(html: &str) -> Vec<String> {
    html.split(r#"<li class="token-item session-item">"#)
        .skip(1)
        .map(|rest| rest.split("</li>").next().unwrap_or_default().to_owned())
        .collect()
}

/// As the page writes a time: "2026-12-04 21:07 UTC".
fn as_shown(secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(secs).expect("a time");
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// (id, handle, user_agent, client, created_at, last_used_at) of the user's sessions.
type SessionRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

fn session_rows(app: &TestApp, user: i64) -> Vec<SessionRow> {
    use folio::db::schema::sessions::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    sessions
        .filter(user_id.eq(user))
        .order(created_at)
        .select((id, handle, user_agent, client, created_at, last_used_at))
        .load(&mut conn)
        .expect("sessions")
}

#[tokio::test]
async fn setting_up_an_app_shows_the_secret_three_ways_and_stores_it_sealed() {
    let app = spawn_app().await;
    app.sign_up("alice").await;
    let page = app.get_html(PAGE).await;
    assert!(page.contains(r#"<p class="status">Off."#), "{page}");
    assert!(page.contains(r#"action="/account/totp/start""#));
    assert!(!page.contains("totp-secret"));

    let refused = app
        .submit(
            PAGE,
            "/account/totp/start",
            &[("password", "not-the-password")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = refused.text().await.expect("body");
    assert!(
        body.contains("That is not your current password."),
        "{body}"
    );
    assert!(!body.contains("totp-secret"));

    let started = app
        .submit(PAGE, "/account/totp/start", &[("password", PASSWORD)])
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let page = app.get_html(PAGE).await;
    let (text, secret) = shown_secret(&page);
    let compact = text.replace(' ', "");
    assert_eq!(compact.len(), 32, "160 bits in base32: {text}");
    let link = link_by_id(&page, "totp-link").expect("the otpauth link");
    assert!(link.starts_with("otpauth://totp/"), "{link}");
    assert!(link.contains("alice"), "names the account: {link}");
    assert!(link.contains(&format!("secret={compact}")), "{link}");
    assert!(page.contains("<svg"), "an inline QR code");
    assert!(!page.contains("<?xml"));

    // Nothing is on until the app's first code.
    let hex: String = secret.bytes().iter().map(|b| format!("{b:02x}")).collect();
    let plain = [compact.clone(), compact.to_lowercase(), hex];
    let (on, pending, _) = stored_totp(&app, "alice");
    assert_eq!(on, None);
    let pending = pending.expect("the secret waits sealed");
    for form in &plain {
        assert!(!pending.contains(form.as_str()), "sealed while waiting");
    }
    let wrong = app
        .submit(
            PAGE,
            "/account/totp/confirm",
            &[("code", &wrong_code(&secret))],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = wrong.text().await.expect("body");
    assert!(
        body.contains(r#"aria-describedby="confirm-code-error""#),
        "{body}"
    );
    assert_eq!(
        code_text(&body, "totp-secret").as_deref(),
        Some(text.as_str())
    );
    assert_eq!(stored_totp(&app, "alice").0, None, "still off");

    let code = next_code(&app, "alice", &secret).await;
    let confirmed = app
        .submit(PAGE, "/account/totp/confirm", &[("code", &code)])
        .await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let page = app.get_html(PAGE).await;
    let codes = recovery_codes(&page);
    assert_eq!(codes.len(), 10, "{page}");
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    assert!(page.contains("10 recovery codes left"), "{page}");
    assert!(
        !page.contains("totp-secret"),
        "the secret is not shown again"
    );
    let again = app.get_html(PAGE).await;
    assert!(recovery_codes(&again).is_empty(), "shown once");
    assert!(!again.contains(&codes[0]));

    let (on, pending, _) = stored_totp(&app, "alice");
    let on = on.expect("two-factor is on");
    assert_eq!(pending, None);
    for form in &plain {
        assert!(!on.contains(form.as_str()), "the secret is sealed: {on}");
    }
    use folio::db::schema::recovery_codes::dsl as rc;
    let mut conn = app.db().conn().expect("conn");
    let hashes: Vec<String> = rc::recovery_codes
        .filter(rc::user_id.eq(user_id(&app, "alice")))
        .select(rc::code_hash)
        .load(&mut conn)
        .expect("codes");
    assert_eq!(hashes.len(), 10);
    for code in &codes {
        let bare = code.replace('-', "");
        assert!(
            hashes
                .iter()
                .all(|h| !h.contains(code.as_str()) && !h.contains(&bare)),
            "recovery codes are kept hashed"
        );
    }
}

#[tokio::test]
async fn a_login_waits_for_the_code_logged_in_to_nothing_and_a_code_works_once() {
    let app = spawn_app().await;
    app.sign_up("bob").await;
    let enrolled = turn_on(&app, "bob").await;
    app.logout().await;

    let token = app.token_from("/login").await;
    let response = app
        .post_raw(
            "/login",
            &[
                ("csrf_token", token.as_str()),
                ("username", "bob"),
                ("password", PASSWORD),
                ("next", PAGE),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), CODE_PAGE);
    let waiting_cookie = app.session_cookie().expect("a session");
    for path in ["/account", PAGE] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/login"), "{path}");
    }
    for path in ["/", "/users"] {
        let html = app.get_html(path).await;
        assert!(
            !html.contains(r#"action="/logout""#),
            "{path} is a visitor's"
        );
        assert!(html.contains(r#"href="/login""#), "{path}");
    }
    let form = app.get(CODE_PAGE).await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(form.text().await.expect("body").contains("@bob"));

    let wrong = give_code(&app, &wrong_code(&enrolled.secret)).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = wrong.text().await.expect("body");
    assert!(body.contains(r#"id="code-error""#), "{body}");
    assert!(!logged_in(&app).await);

    let code = next_code(&app, "bob", &enrolled.secret).await;
    let done = give_code(&app, &code).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), PAGE, "on to where the login was going");
    assert!(logged_in(&app).await);
    assert_ne!(
        app.session_cookie().expect("a session"),
        waiting_cookie,
        "a fresh session id once logged in"
    );

    // The same code, from a browser that knows the password too: refused.
    let thief = app.new_browser();
    password_step(&thief, "bob").await;
    let replay = give_code(&thief, &code).await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!logged_in(&thief).await);
    assert_eq!(
        thief.get(CODE_PAGE).await.status(),
        StatusCode::OK,
        "still waiting"
    );
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_ever() {
    let app = spawn_app().await;
    app.sign_up("carol").await;
    let enrolled = turn_on(&app, "carol").await;
    app.logout().await;

    password_step(&app, "carol").await;
    // As typed by hand: upper case, spaces for dashes.
    let typed = enrolled.codes[3].to_uppercase().replace('-', " ");
    let done = give_code(&app, &typed).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/");
    assert!(logged_in(&app).await);
    assert!(app.get_html(PAGE).await.contains("9 recovery codes left"));

    let other = app.new_browser();
    password_step(&other, "carol").await;
    let again = give_code(&other, &enrolled.codes[3]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!logged_in(&other).await);
    let another = give_code(&other, &enrolled.codes[4]).await;
    assert_eq!(another.status(), StatusCode::SEE_OTHER);
    assert!(logged_in(&other).await);
}

#[tokio::test]
async fn the_code_step_ends_after_five_minutes() {
    let app = spawn_app().await;
    app.sign_up("dave").await;
    let enrolled = turn_on(&app, "dave").await;
    app.logout().await;
    password_step(&app, "dave").await;

    // Five minutes and a second later, as the session state has it.
    {
        use folio::db::schema::sessions::dsl::*;
        let mut conn = app.db().conn().expect("conn");
        let rows: Vec<(String, String)> = sessions
            .filter(user_id.is_null())
            .select((id, state))
            .load(&mut conn)
            .expect("sessions");
        let mut aged = 0;
        for (key, json) in rows {
            let mut values: HashMap<String, String> =
                serde_json::from_str(&json).expect("a session state");
            let Some(since) = values.get("pending_since") else {
                continue;
            };
            let since: i64 = since.parse().expect("a time");
            values.insert("pending_since".into(), (since - 301).to_string());
            diesel::update(sessions.find(key))
                .set(state.eq(serde_json::to_string(&values).expect("json")))
                .execute(&mut conn)
                .expect("aged");
            aged += 1;
        }
        assert_eq!(aged, 1, "one login waits for its code");
    }

    let form = app.get(CODE_PAGE).await;
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&form), "/login");
    let login = app.get_html("/login").await;
    assert!(login.contains("waited too long for its code"), "{login}");
    // A form left open in a tab: its post is turned away too.
    let late = app
        .submit("/login", CODE_PAGE, &[("code", &enrolled.codes[0])])
        .await;
    assert_eq!(late.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&late), "/login");
    assert!(!logged_in(&app).await);
    // The recovery code was not spent on the expired step.
    password_step(&app, "dave").await;
    assert_eq!(
        give_code(&app, &enrolled.codes[0]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(logged_in(&app).await);
}

#[tokio::test]
async fn wrong_codes_count_like_wrong_passwords() {
    let app = spawn_app().await;
    app.sign_up("erin").await;
    let enrolled = turn_on(&app, "erin").await;
    app.logout().await;
    password_step(&app, "erin").await;
    let wrong = wrong_code(&enrolled.secret);
    for n in 0..folio::db::throttle::MAX_PER_ACCOUNT {
        let response = give_code(&app, &wrong).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "try {n}"
        );
    }
    let refused = give_code(&app, &enrolled.codes[0]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = refused.text().await.expect("body");
    assert!(body.contains("Too many failed attempts"), "{body}");
    assert!(!logged_in(&app).await);
    // The account is locked for its password step too, from any browser.
    let other = app.new_browser();
    let login = other.login("erin", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS);
    // The refused right code was not used up.
    app.execute_sql("DELETE FROM login_failures");
    password_step(&other, "erin").await;
    assert_eq!(
        give_code(&other, &enrolled.codes[0]).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_password_step_again_does_not_forgive_wrong_codes() {
    // Someone who has the password must not get a fresh allowance of code guesses by giving
    // it again: only a whole login (password and code) forgives the account's failures.
    let app = spawn_app().await;
    app.sign_up("olga").await;
    let enrolled = turn_on(&app, "olga").await;
    app.logout().await;
    let wrong = wrong_code(&enrolled.secret);
    let max = folio::db::throttle::MAX_PER_ACCOUNT;
    password_step(&app, "olga").await;
    for _ in 0..max / 2 {
        assert_eq!(
            give_code(&app, &wrong).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    password_step(&app, "olga").await;
    for _ in max / 2..max {
        assert_eq!(
            give_code(&app, &wrong).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let after = give_code(&app, &enrolled.codes[0]).await;
    assert_eq!(
        after.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "{max} wrong codes for one account, with the password given again halfway"
    );
    assert!(!logged_in(&app).await);
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    app.sign_up("frank").await;
    let enrolled = turn_on(&app, "frank").await;
    let wrong = wrong_code(&enrolled.secret);
    let code = next_code(&app, "frank", &enrolled.secret).await;

    let no_password = app
        .submit(
            PAGE,
            "/account/totp/disable",
            &[("password", "not-the-password"), ("code", &code)],
        )
        .await;
    assert_eq!(no_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = no_password.text().await.expect("body");
    assert!(body.contains(r#"id="disable-password-error""#), "{body}");
    let no_code = app
        .submit(
            PAGE,
            "/account/totp/disable",
            &[("password", PASSWORD), ("code", &wrong)],
        )
        .await;
    assert_eq!(no_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = no_code.text().await.expect("body");
    assert!(body.contains(r#"id="disable-code-error""#), "{body}");
    assert!(stored_totp(&app, "frank").0.is_some(), "still on");

    let off = app
        .submit(
            PAGE,
            "/account/totp/disable",
            &[("password", PASSWORD), ("code", &code)],
        )
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let page = app.get_html(PAGE).await;
    assert!(page.contains("Two-factor sign-in is off."), "{page}");
    assert!(page.contains(r#"action="/account/totp/start""#));
    assert_eq!(stored_totp(&app, "frank"), (None, None, None));

    app.logout().await;
    let login = app.login("frank", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/", "no code asked for");
    assert!(logged_in(&app).await);
}

#[tokio::test]
async fn new_recovery_codes_void_the_old_ones() {
    let app = spawn_app().await;
    app.sign_up("gina").await;
    let enrolled = turn_on(&app, "gina").await;
    let refused = app
        .submit(
            PAGE,
            "/account/recovery-codes",
            &[
                ("password", "not-the-password"),
                ("code", &enrolled.codes[0]),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = app
        .submit(
            PAGE,
            "/account/recovery-codes",
            &[
                ("password", PASSWORD),
                ("code", &wrong_code(&enrolled.secret)),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(recovery_codes(&refused.text().await.expect("body")).is_empty());

    let made = app
        .submit(
            PAGE,
            "/account/recovery-codes",
            &[("password", PASSWORD), ("code", &enrolled.codes[0])],
        )
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let page = app.get_html(PAGE).await;
    let fresh = recovery_codes(&page);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !enrolled.codes.contains(c)));
    assert!(page.contains("10 recovery codes left"), "{page}");
    assert!(
        recovery_codes(&app.get_html(PAGE).await).is_empty(),
        "shown once"
    );

    app.logout().await;
    password_step(&app, "gina").await;
    let old = give_code(&app, &enrolled.codes[1]).await;
    assert_eq!(
        old.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "the old set is void"
    );
    let new = give_code(&app, &fresh[0]).await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
    assert!(logged_in(&app).await);
}

/// The path (from the site's root) of the reset link in the newest reset mail.
async fn reset_link(
    app: &TestApp,
    mail: &crate::helpers::smtp::MailServer,
    address: &str,
    count: usize,
) -> String {
    let mails = mail.wait_for(address, count).await;
    let reset = mails
        .iter()
        .rev()
        .find(|m| m.subject() == "Reset your Folio password")
        .expect("the reset mail");
    let link = reset.link(&app.public_url("/password/reset/"));
    link.strip_prefix(&app.public_url(""))
        .expect("a link to the site")
        .to_owned()
}

#[tokio::test]
async fn a_reset_through_the_mailed_link_still_asks_for_the_code() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("hank").await;
    let enrolled = turn_on(&app, "hank").await;
    app.logout().await;
    // The welcome and the notice of two-factor.
    mail.wait_for("hank@example.com", 2).await;

    let asked = app
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "hank@example.com")],
        )
        .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let path = reset_link(&app, &mail, "hank@example.com", 3).await;
    let new_password = "another-long-pass-42";
    let done = app
        .submit(
            &path,
            &path,
            &[
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), CODE_PAGE);
    assert!(!logged_in(&app).await, "not logged in by the link alone");
    let form = app.get_html(CODE_PAGE).await;
    assert!(form.contains("Your new password is saved"), "{form}");

    let code = next_code(&app, "hank", &enrolled.secret).await;
    let finished = give_code(&app, &code).await;
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&finished), "/account");
    assert!(logged_in(&app).await);
    assert!(
        app.get_html(PAGE)
            .await
            .contains(r#"<span class="ok">On.</span>"#)
    );

    let other = app.new_browser();
    let login = other.login("hank", new_password).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), CODE_PAGE, "two-factor is still on");
}

#[tokio::test]
async fn the_sessions_list_names_each_browser_and_ends_one_or_every_other() {
    let app = spawn_app().await;
    app.sign_up("ivy").await;
    let laptop = app.new_browser_with_agent(FIREFOX);
    let phone = app.new_browser_with_agent(IPHONE);
    for browser in [&laptop, &phone] {
        assert_eq!(
            browser.login("ivy", PASSWORD).await.status(),
            StatusCode::SEE_OTHER
        );
    }

    let page = laptop.get_html(PAGE).await;
    let items = session_items(&page);
    assert_eq!(items.len(), 3, "{page}");
    let rows = session_rows(&app, user_id(&app, "ivy"));
    assert_eq!(rows.len(), 3);
    for (name, agent) in [
        ("An unknown browser", ""),
        ("Firefox on Linux", FIREFOX),
        ("Safari on iPhone", IPHONE),
    ] {
        let row = rows
            .iter()
            .find(|r| r.2.as_deref().unwrap_or_default() == agent)
            .unwrap_or_else(|| panic!("a session of {name}"));
        let item = items
            .iter()
            .find(|i| i.contains(&format!(r#"<p class="token-name">{name}"#)))
            .unwrap_or_else(|| panic!("{name} listed: {page}"));
        assert_eq!(row.3.as_deref(), Some("127.0.0.1"));
        assert!(
            item.contains("<dt>Address</dt><dd>127.0.0.1</dd>"),
            "{item}"
        );
        assert!(
            item.contains(&format!("<dt>Since</dt><dd>{}</dd>", as_shown(row.4))),
            "{item}"
        );
        let last = row.5.expect("a last use");
        assert!(
            item.contains(&format!("<dt>Last used</dt><dd>{}</dd>", as_shown(last))),
            "{item}"
        );
        let handle = row.1.as_deref().expect("a handle");
        let this = agent == FIREFOX;
        assert_eq!(item.contains("this browser"), this, "{item}");
        assert_eq!(
            item.contains(&format!(r#"action="/account/sessions/{handle}/delete""#)),
            !this,
            "{item}"
        );
    }
    // Each session's id is the cookie's secret: never on the page.
    for row in &rows {
        assert!(!page.contains(&row.0), "a session id on the page");
    }
    for browser in [&app, &laptop, &phone] {
        let cookie = browser.session_cookie().expect("a cookie");
        let value = cookie.split_once('=').expect("name=value").1;
        assert!(!page.contains(value), "a cookie on the page");
    }

    // End the phone's session: it is logged out at once.
    let phone_handle = rows
        .iter()
        .find(|r| r.2.as_deref() == Some(IPHONE))
        .and_then(|r| r.1.clone())
        .expect("the phone's handle");
    assert!(end_handles(&page).contains(&phone_handle));
    let ended = laptop
        .submit(
            PAGE,
            &format!("/account/sessions/{phone_handle}/delete"),
            &[],
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ended), PAGE);
    assert!(!logged_in(&phone).await, "the phone is logged out");
    assert!(logged_in(&app).await);
    let page = laptop.get_html(PAGE).await;
    assert!(page.contains("That session is ended"), "{page}");
    assert_eq!(session_items(&page).len(), 2);

    // Log the phone in again; then every other session ends, this one stays.
    assert_eq!(
        phone.login("ivy", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let ended = laptop
        .submit(PAGE, "/account/sessions/delete-others", &[])
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!logged_in(&phone).await);
    assert!(!logged_in(&app).await);
    let page = laptop.get_html(PAGE).await;
    assert!(page.contains("The 2 other sessions are ended."), "{page}");
    let items = session_items(&page);
    assert_eq!(items.len(), 1);
    assert!(items[0].contains("this browser"));
}

#[tokio::test]
async fn another_accounts_session_is_not_found_and_a_form_without_its_token_is_forbidden() {
    let app = spawn_app().await;
    app.sign_up("jack").await;
    let other_person = app.new_browser();
    other_person.sign_up("kate").await;
    let jacks_phone = app.new_browser();
    jacks_phone.login("jack", PASSWORD).await;

    let kates = session_rows(&app, user_id(&app, "kate"));
    let kates_handle = kates[0].1.clone().expect("a handle");
    let response = app
        .submit(
            PAGE,
            &format!("/account/sessions/{kates_handle}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(logged_in(&other_person).await, "kate is still logged in");

    let page = app.get_html(PAGE).await;
    let handle = end_handles(&page).pop().expect("the phone's End form");
    for path in [
        format!("/account/sessions/{handle}/delete"),
        "/account/sessions/delete-others".to_owned(),
    ] {
        let response = app.post_raw(&path, &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let response = app
            .post_raw(&path, &[("csrf_token", "0123456789abcdef")])
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(logged_in(&jacks_phone).await, "nothing ended");
    // Not logged in: the login page, and nothing ended either.
    let visitor = app.new_browser();
    let token = visitor.token_from("/login").await;
    let response = visitor
        .post_raw(
            &format!("/account/sessions/{handle}/delete"),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location(&response).starts_with("/login"));
    assert!(logged_in(&jacks_phone).await);
}

#[tokio::test]
async fn page_views_do_not_write_the_last_use_each_time() {
    let app = spawn_app().await;
    app.sign_up("liam").await;
    let user = user_id(&app, "liam");
    app.get_html(PAGE).await; // takes the welcome message, a real change
    app.execute_sql(&format!(
        "UPDATE sessions SET last_used_at = 1000000 WHERE user_id = {user}"
    ));
    for path in [PAGE, "/account", PAGE] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK);
    }
    assert_eq!(
        session_rows(&app, user)[0].5,
        Some(1_000_000),
        "no write per view"
    );
    assert!(app.get_html(PAGE).await.contains(&as_shown(1_000_000)));

    // Once the idle expiry is due to move, the last use moves with it.
    app.execute_sql(&format!(
        "UPDATE sessions SET expires_at = expires_at - 3600 WHERE user_id = {user}"
    ));
    let before = i64::try_from(now_secs()).expect("now");
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);
    let last = session_rows(&app, user)[0].5.expect("a last use");
    assert!(last >= before, "{last} < {before}");
}

#[tokio::test]
async fn each_change_to_how_one_signs_in_is_mailed() {
    let (app, mail) = spawn_app_with_mail().await;
    let address = "mona@example.com";
    app.sign_up("mona").await;
    let enrolled = turn_on(&app, "mona").await;
    let made = app
        .submit(
            PAGE,
            "/account/recovery-codes",
            &[("password", PASSWORD), ("code", &enrolled.codes[0])],
        )
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let codes = recovery_codes(&app.get_html(PAGE).await);
    let off = app
        .submit(
            PAGE,
            "/account/totp/disable",
            &[("password", PASSWORD), ("code", &codes[0])],
        )
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let changed_password = "a-changed-long-pass-7";
    let changed = app.change_password(PASSWORD, changed_password).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    app.logout().await;
    app.submit(
        "/password/forgot",
        "/password/forgot",
        &[("email", address)],
    )
    .await;
    // Welcome, on, codes, off, changed, and the reset link.
    let path = reset_link(&app, &mail, address, 6).await;
    let reset_password = "a-reset-long-pass-8";
    let done = app
        .submit(
            &path,
            &path,
            &[
                ("password", reset_password),
                ("password_confirm", reset_password),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    let mails = mail.wait_for(address, 7).await;
    let expected = [
        (
            "Two-factor sign-in is on for your Folio account",
            "Two-factor sign-in was turned on",
        ),
        (
            "New recovery codes for your Folio account",
            "A new set of recovery codes was made",
        ),
        (
            "Two-factor sign-in is off for your Folio account",
            "Two-factor sign-in was turned off",
        ),
        (
            "The password of your Folio account was changed",
            "The password was changed",
        ),
        (
            "The password of your Folio account was reset",
            "The password was reset",
        ),
    ];
    for (subject, says) in expected {
        let found: Vec<_> = mails.iter().filter(|m| m.subject() == subject).collect();
        assert_eq!(found.len(), 1, "one mail {subject:?}");
        assert_eq!(found[0].to, vec![address.to_owned()]);
        assert!(found[0].text().contains(says), "{}", found[0].text());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mail.to(address).len(), 7, "nothing else");
}

#[tokio::test]
async fn making_an_access_token_asks_for_a_code_once_two_factor_is_on() {
    let app = spawn_app().await;
    app.sign_up("tess").await;
    // Off: the form has no code field, and a token is made as before.
    assert!(!app.get_html("/account").await.contains(r#"name="code""#));
    app.make_token("read").await;
    let enrolled = turn_on(&app, "tess").await;
    let count = || {
        let mut conn = app.db().conn().expect("a connection");
        folio::db::schema::access_tokens::table
            .count()
            .get_result::<i64>(&mut *conn)
            .expect("count tokens")
    };
    let fields = |code: &str| {
        vec![
            ("name", "backup".to_owned()),
            ("scope", "read".to_owned()),
            ("expires_days", "30".to_owned()),
            ("code", code.to_owned()),
        ]
    };
    let page = app.get_html("/account").await;
    assert!(
        page.contains(r#"id="token_code""#),
        "the form asks for a code"
    );
    for code in ["", &wrong_code(&enrolled.secret)] {
        let f = fields(code);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = app.submit("/account", "/account/tokens", &f).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code:?}"
        );
        let html = refused.text().await.expect("a page");
        assert!(html.contains(r#"id="token_code-error""#), "{html}");
        assert!(shown_token(&html).is_none());
    }
    assert_eq!(count(), 1, "no token made without a code");
    let code = next_code(&app, "tess", &enrolled.secret).await;
    let f = fields(&code);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let made = app.submit("/account", "/account/tokens", &f).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert!(shown_token(&app.get_html("/account").await).is_some());
    assert_eq!(count(), 2);
}
