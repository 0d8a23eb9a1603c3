//! Passkeys as far as a program without an authenticator can see them: who may begin a
//! ceremony, that a ceremony is finished once at most, that made-up credentials are refused,
//! the security page's card (listing, removing, the mail), and a site reached by an IP
//! address offering none. The ceremonies themselves, with a (virtual) authenticator, are in
//! tests/browser/tests/passkeys.test.js.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const NEEDS_A_NAME: &str =
    "Passkeys need the site to be reached by a name, not an IP address: set FOLIO_PUBLIC_URL.";

impl TestApp {
    /// POSTs `body` as JSON with `token` in `X-CSRF-Token` (none if `None`), as
    /// static/passkeys.js does; the status and the answer's JSON.
    async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.header("X-CSRF-Token", token);
        }
        let response = request.send().await.expect("POST");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path} answered {status} with no JSON: {text}"));
        (status, json)
    }
}

fn detail(answer: &Value) -> &str {
    answer["detail"].as_str().unwrap_or_default()
}

/// A credential that no authenticator made: well-formed, but signed by nothing.
fn made_up_assertion() -> Value {
    json!({
        "id": "AAECAwQFBgcICQoLDA0ODw",
        "rawId": "AAECAwQFBgcICQoLDA0ODw",
        "type": "public-key",
        "response": {
            "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
            "signature": "MEUCIQDzvh0bZ4Vdzmw5Y3M8h6K4",
            "userHandle": "AAECAwQFBgcICQoLDA0ODw"
        },
        "extensions": {}
    })
}

fn made_up_attestation() -> Value {
    json!({
        "id": "AAECAwQFBgcICQoLDA0ODw",
        "rawId": "AAECAwQFBgcICQoLDA0ODw",
        "type": "public-key",
        "response": {
            "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjF",
            "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0"
        },
        "extensions": {}
    })
}

/// Puts a passkey row straight into the database (no authenticator here): its name, and a
/// credential that no ceremony could use.
fn insert_passkey(app: &TestApp, user_id: i64, name: &str, credential_id: &str) {
    app.execute_sql(&format!(
        "INSERT INTO passkeys (user_id, name, credential_id, credential, created_at) \
         VALUES ({user_id}, '{name}', '{credential_id}', '{{}}', 1767225600)"
    ));
}

#[tokio::test]
async fn adding_a_passkey_asks_for_a_login_the_token_and_the_password() {
    let app = spawn_app().await;
    let body = json!({ "password": PASSWORD, "name": "Laptop" });

    // Not logged in: a problem document, not the login page.
    let token = app.token_from("/login").await;
    let (status, answer) = app
        .post_json("/account/passkeys/options", Some(&token), &body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(detail(&answer).contains("log in again"), "{answer}");

    app.sign_up("pia").await;
    let token = app.token_from("/account/security").await;

    // Without the session's token, or with another one: 403, whatever else is right.
    for sent in [None, Some("0123456789abcdef")] {
        let (status, answer) = app
            .post_json("/account/passkeys/options", sent, &body)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sent:?}: {answer}");
        assert!(detail(&answer).contains("reload the page"), "{answer}");
    }

    // The wrong password: named as the field at fault.
    let (status, answer) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": "not-the-password", "name": "Laptop" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["errors"]["password"], "That is not your current password.",
        "{answer}"
    );

    // A name too long: refused before the password is even checked.
    let (status, answer) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD, "name": "x".repeat(51) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["errors"]["name"].is_string(), "{answer}");

    // The right password: a ceremony for a discoverable, user-verified credential of this
    // site (its name, not the address the test reached it at).
    let (status, answer) = app
        .post_json("/account/passkeys/options", Some(&token), &body)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let challenge = answer["challenge"].as_str().expect("a challenge id");
    assert_eq!(challenge.len(), 32, "{answer}");
    let options = &answer["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost", "{answer}");
    assert_eq!(options["user"]["name"], "pia", "{answer}");
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{answer}");
    assert_eq!(selection["userVerification"], "required", "{answer}");
    assert_eq!(
        options["excludeCredentials"].as_array().map(Vec::len),
        Some(0),
        "{answer}"
    );
}

#[tokio::test]
async fn wrong_passwords_for_a_passkey_count_like_failed_logins() {
    let app = spawn_app().await;
    app.sign_up("quinn").await;
    let token = app.token_from("/account/security").await;
    let wrong = json!({ "password": "not-the-password", "name": "" });
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        let (status, _) = app
            .post_json("/account/passkeys/options", Some(&token), &wrong)
            .await;
        last = status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Past the limit even the right password waits.
    let (status, answer) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert!(detail(&answer).contains("Try again in"), "{answer}");
}

#[tokio::test]
async fn a_ceremony_is_finished_once_and_made_up_credentials_are_refused() {
    let app = spawn_app().await;
    app.sign_up("rosa").await;
    let token = app.token_from("/account/security").await;

    // Adding: a made-up credential is refused, and uses the ceremony up.
    let (_, started) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    let challenge = started["challenge"].as_str().expect("challenge").to_owned();
    let finish =
        json!({ "challenge": challenge, "name": "Laptop", "credential": made_up_attestation() });
    let (status, answer) = app
        .post_json("/account/passkeys", Some(&token), &finish)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("not accepted"), "{answer}");
    let (status, answer) = app
        .post_json("/account/passkeys", Some(&token), &finish)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).contains("expired or was already used"),
        "{answer}"
    );
    // Not JSON a credential could be at all: the same refusal, never a 500.
    let (_, started) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    let garbage = json!({ "challenge": started["challenge"], "credential": [1, 2, 3] });
    let (status, answer) = app
        .post_json("/account/passkeys", Some(&token), &garbage)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // An id never handed out.
    let (status, answer) = app
        .post_json(
            "/account/passkeys",
            Some(&token),
            &json!({ "challenge": "../../etc", "credential": made_up_attestation() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("expired"), "{answer}");
    // Nothing was added.
    let html = app.get_html("/account/security").await;
    assert!(html.contains("You have no passkeys yet."));

    // Signing in: the same, from a logged-out browser.
    let visitor = app.new_browser();
    let token = visitor.token_from("/login").await;
    let (status, started) = visitor
        .post_json("/login/passkey/options", Some(&token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost", "{started}");
    assert_eq!(options["userVerification"], "required", "{started}");
    let challenge = started["challenge"].as_str().expect("challenge").to_owned();
    let finish =
        json!({ "challenge": challenge, "credential": made_up_assertion(), "next": "/account" });
    let (status, answer) = visitor
        .post_json("/login/passkey", Some(&token), &finish)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let (status, answer) = visitor
        .post_json("/login/passkey", Some(&token), &finish)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        detail(&answer).contains("expired or was already used"),
        "{answer}"
    );
    assert_eq!(
        visitor.get("/account").await.status(),
        StatusCode::SEE_OTHER
    );

    // A sign-in's ceremony does not finish an addition, nor the other way round.
    let (_, login) = app
        .post_json(
            "/login/passkey/options",
            Some(&app.token_from("/account/security").await),
            &json!({}),
        )
        .await;
    let token = app.token_from("/account/security").await;
    let (status, answer) = app
        .post_json(
            "/account/passkeys",
            Some(&token),
            &json!({ "challenge": login["challenge"], "credential": made_up_attestation() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("expired"), "{answer}");

    // Without the token, no ceremony begins.
    let (status, _) = visitor
        .post_json("/login/passkey/options", None, &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_accounts_ceremony_or_an_expired_one_finishes_nothing() {
    let app = spawn_app().await;
    app.sign_up("sam").await;
    let token = app.token_from("/account/security").await;
    let (_, started) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    let sams = started["challenge"].as_str().expect("challenge").to_owned();

    let other = app.new_browser();
    other.sign_up("tess").await;
    let token = other.token_from("/account/security").await;
    let (status, answer) = other
        .post_json(
            "/account/passkeys",
            Some(&token),
            &json!({ "challenge": sams, "credential": made_up_attestation() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("expired"), "{answer}");

    // A ceremony past its five minutes.
    let expired = "0123456789abcdef0123456789abcdef";
    app.execute_sql(&format!(
        "INSERT INTO webauthn_challenges (id, user_id, purpose, state, expires_at) \
         VALUES ('{expired}', NULL, 'login', '{{}}', 1)"
    ));
    let (status, answer) = other
        .post_json(
            "/login/passkey",
            Some(&token),
            &json!({ "challenge": expired, "credential": made_up_assertion() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(detail(&answer).contains("expired"), "{answer}");

    // folio gc clears the ones never finished, and only those.
    app.execute_sql(
        "INSERT INTO webauthn_challenges (id, user_id, purpose, state, expires_at) \
         VALUES ('ffffffffffffffffffffffffffffffff', NULL, 'login', '{}', 2)",
    );
    let mut conn = app.db().conn().expect("conn");
    let purged =
        folio::db::passkeys::purge_expired_challenges(&mut conn, folio::db::now()).expect("purge");
    assert_eq!(purged, 1);
    let left: i64 = {
        use diesel::prelude::*;
        use folio::db::schema::webauthn_challenges::dsl::*;
        webauthn_challenges
            .count()
            .get_result(&mut conn)
            .expect("count")
    };
    assert_eq!(left, 0, "sam's was taken by tess's attempt; none is left");
}

#[tokio::test]
async fn the_card_lists_passkeys_and_removing_one_mails_the_owner() {
    let (app, mail) = spawn_app_with_mail().await;
    app.sign_up("uma").await;
    mail.wait_for("uma@example.com", 1).await;
    let html = app.get_html("/account/security").await;
    assert!(
        html.contains(r#"id="passkeys-heading">Passkeys<"#),
        "{html}"
    );
    assert!(html.contains(r#"id="passkey-add""#));
    assert!(html.contains(&format!(
        r#"src="{}""#,
        folio::static_files::url("passkeys.js")
    )));
    // Hidden until the script finds WebAuthn: without it the page says what it needs.
    assert!(html.contains(r#"id="passkey-add-form" data-csrf="#));
    assert!(html.contains("Adding a passkey needs JavaScript"));

    insert_passkey(&app, 1, "Work laptop", "Y3JlZGVudGlhbC0x");
    insert_passkey(&app, 1, "Phone <b>", "Y3JlZGVudGlhbC0y");
    let html = app.get_html("/account/security").await;
    assert!(html.contains("Work laptop"));
    assert!(
        html.contains("Phone &#60;b&#62;") || html.contains("Phone &lt;b&gt;"),
        "escaped"
    );
    assert!(html.contains("2026-01-01 00:00 UTC"), "when it was added");
    assert!(html.contains("<dd>never</dd>"), "never used yet");
    let ids: Vec<i64> = {
        use diesel::prelude::*;
        use folio::db::schema::passkeys::dsl::*;
        let mut conn = app.db().conn().expect("conn");
        passkeys.order(id).select(id).load(&mut conn).expect("ids")
    };
    assert!(html.contains(&format!(r#"action="/account/passkeys/{}/delete""#, ids[0])));

    // Someone else's passkey is not theirs to remove; nor is one that does not exist.
    let other = app.new_browser();
    other.sign_up("vic").await;
    for path in [
        format!("/account/passkeys/{}/delete", ids[0]),
        "/account/passkeys/999999/delete".to_owned(),
        "/account/passkeys/x/delete".to_owned(),
    ] {
        let response = other.submit("/account/security", &path, &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Without the form's token, nothing happens.
    let response = app
        .post_raw(&format!("/account/passkeys/{}/delete", ids[0]), &[])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = app
        .submit(
            "/account/security",
            &format!("/account/passkeys/{}/delete", ids[0]),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/account/security#passkeys");
    let html = app.get_html("/account/security").await;
    assert!(html.contains("The passkey is removed"), "the flash");
    assert!(!html.contains("Work laptop"));
    assert!(html.contains("Phone"));

    let mails = mail.wait_for("uma@example.com", 2).await;
    let removed = mails
        .iter()
        .find(|m| m.subject() == "A passkey was removed from your Folio account")
        .expect("the removal's mail");
    assert!(
        removed.text().contains("no longer signs in"),
        "{}",
        removed.text()
    );

    // The remaining passkey is excluded from the next registration (it cannot be read as a
    // credential here, so it is skipped, never a 500).
    let token = app.token_from("/account/security").await;
    let (status, answer) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn the_login_page_offers_passkeys_only_with_javascript() {
    let app = spawn_app().await;
    let html = app.get_html("/login").await;
    assert!(html.contains(r#"autocomplete="username webauthn""#));
    assert!(html.contains(r#"id="passkey-login""#));
    assert!(html.contains(r#"id="passkey-login-area""#));
    // The area starts hidden: the script shows it where WebAuthn is.
    let area = &html[html.find(r#"id="passkey-login-area""#).expect("area")..];
    assert!(area[..area.find('>').expect("tag end")].contains("hidden"));
    let src = folio::static_files::url("passkeys.js");
    assert!(html.contains(&format!(r#"src="{src}""#)));
    let script = app.get(src).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(header(script.headers(), "content-type").starts_with("text/javascript"));
}

#[tokio::test]
async fn a_site_reached_by_an_ip_address_offers_no_passkeys_and_says_why() {
    let app = spawn_app_with(|s| s.public_url = Some("http://127.0.0.1:8080".into())).await;
    let html = app.get_html("/login").await;
    assert!(html.contains(NEEDS_A_NAME), "{html}");
    assert!(!html.contains(r#"id="passkey-login""#));
    assert!(!html.contains("webauthn"));
    assert!(!html.contains("passkeys.js"));
    let token = csrf_token(&html);
    let (status, answer) = app
        .post_json("/login/passkey/options", Some(&token), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(detail(&answer), NEEDS_A_NAME);
    let (status, answer) = app
        .post_json("/login/passkey", Some(&token), &json!({ "challenge": "x" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    app.sign_up("wren").await;
    let html = app.get_html("/account/security").await;
    assert!(html.contains(NEEDS_A_NAME), "{html}");
    assert!(!html.contains(r#"id="passkey-add""#));
    assert!(!html.contains("passkeys.js"));
    let token = csrf_token(&html);
    let (status, answer) = app
        .post_json(
            "/account/passkeys/options",
            Some(&token),
            &json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(detail(&answer), NEEDS_A_NAME);
    // The password login is as ever.
    app.logout().await;
    assert_eq!(
        app.login("wren", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}
