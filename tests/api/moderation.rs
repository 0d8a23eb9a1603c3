//! Moderation: members report each other from profiles; moderators (named from the shell) read
//! the queue, act on members (remove the picture, clear the profile, suspend, lift a suspension,
//! dismiss the reports) and read the append-only log. Everything is driven as a browser form
//! would drive it; the database is read only for what no page shows.

use diesel::prelude::*;
use folio::db::DatabaseUrl;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::helpers::*;

// ----- Helpers -----

/// `name`, registered and logged in, in a browser of their own.
async fn member(app: &TestApp, name: &str) -> TestApp {
    let browser = app.new_browser();
    browser.sign_up(name).await;
    browser
}

/// `name`, registered, logged in and made a moderator in the database (as the shell does).
async fn moderator(app: &TestApp, name: &str) -> TestApp {
    let browser = member(app, name).await;
    app.execute_sql(&format!(
        "UPDATE users SET moderator = TRUE WHERE username = '{name}'"
    ));
    browser
}

/// Sends the report form shown on `name`'s profile.
async fn report(reporter: &TestApp, name: &str, reason: &str, comment: &str) -> Response {
    let profile = format!("/users/{name}");
    reporter
        .submit(
            &profile,
            &format!("{profile}/report"),
            &[("reason", reason), ("comment", comment)],
        )
        .await
}

/// Sends the action form shown on the moderators' page of `name`.
async fn act(moderator: &TestApp, name: &str, action: &str, reason: &str) -> Response {
    let page = format!("/moderation/users/{name}");
    moderator
        .submit(
            &page,
            &format!("{page}/action"),
            &[("action", action), ("reason", reason), ("back", "member")],
        )
        .await
}

async fn body(response: Response) -> String {
    response.text().await.expect("body")
}

/// Whether the database has `name` suspended.
fn suspended(app: &TestApp, name: &str) -> bool {
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select(suspended_at)
        .first::<Option<i64>>(&mut conn)
        .expect("the member")
        .is_some()
}

/// The member's (display name, bio, website) in the database.
fn about(app: &TestApp, name: &str) -> (Option<String>, Option<String>, Option<String>) {
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    users
        .filter(username.eq(name))
        .select((display_name, bio, website))
        .first(&mut conn)
        .expect("the member")
}

fn open_reports(app: &TestApp) -> i64 {
    use folio::db::schema::reports::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    reports
        .filter(closed_at.is_null())
        .count()
        .get_result(&mut conn)
        .expect("count the open reports")
}

/// The log as (moderator, member, action, reason), oldest first.
fn log_rows(app: &TestApp) -> Vec<(String, String, String, String)> {
    use folio::db::schema::moderation_log::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    moderation_log
        .order(id)
        .select((moderator_name, member_name, action, reason))
        .load(&mut conn)
        .expect("the log")
}

/// The reasons a log page shows, in its order.
fn reasons(html: &str) -> Vec<String> {
    html.split(r#"<blockquote class="reason">"#)
        .skip(1)
        .map(|rest| {
            rest.split("</blockquote>")
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// The `href` of the page's `rel="next"` link.
fn next_link(html: &str) -> Option<String> {
    let end = html.find(r#"" rel="next""#)?;
    let start = html[..end].rfind(r#"href=""#)? + r#"href=""#.len();
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// A request from a program: no cookies, `token` as the bearer.
async fn api_get(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    let request = reqwest::Client::new().get(app.url(path));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .expect("API request")
}

/// The usernames `GET /api/v1/users` lists.
async fn api_usernames(app: &TestApp) -> Vec<String> {
    let page: Value = api_get(app, "/api/v1/users", None)
        .await
        .json()
        .await
        .expect("JSON");
    page["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str().map(str::to_owned))
        .collect()
}

const NAV_LINK: &str = r#"<a href="/moderation">Moderation</a>"#;

// ----- Reports -----

#[tokio::test]
async fn a_report_is_thanked_for_and_a_second_open_one_is_refused() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let alice = member(&app, "alice").await;
    assert!(
        alice
            .get_html("/users/bob")
            .await
            .contains(r#"action="/users/bob/report""#),
        "the form is on another member's profile"
    );
    assert!(
        !bob.get_html("/users/bob")
            .await
            .contains("/users/bob/report"),
        "but not on one's own"
    );

    let response = report(&alice, "bob", "spam", "Selling watches.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/users/bob");
    let page = alice.get_html("/users/bob").await;
    assert!(
        page.contains("Thank you. Your report was sent to the moderators"),
        "{page}"
    );
    assert_eq!(open_reports(&app), 1);
    {
        use folio::db::schema::reports::dsl::*;
        let mut conn = app.db().conn().expect("conn");
        let stored: (String, String) = reports
            .select((reason, comment))
            .first(&mut conn)
            .expect("the report");
        assert_eq!(stored, ("spam".to_owned(), "Selling watches.".to_owned()));
    }

    let again = report(&alice, "bob", "abuse", "And rude.").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(body(again).await.contains("You have already reported @bob"));
    assert_eq!(open_reports(&app), 1, "the second is not stored");

    let carol = member(&app, "carol").await;
    let response = report(&carol, "bob", "other", "").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "another reporter");
    assert_eq!(open_reports(&app), 2);
}

#[tokio::test]
async fn reports_that_cannot_be_taken_are_refused_and_not_stored() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;

    let visitor = app.new_browser();
    let response = visitor
        .post_raw("/users/bob/report", &[("reason", "spam"), ("comment", "")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "anonymous");
    assert!(location(&response).starts_with("/login"), "to the login");

    let alice = member(&app, "alice").await;
    let refused = report(&alice, "bob", "boring", "").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(refused).await;
    assert!(html.contains(r#"id="report-error""#), "{html}");
    assert!(html.contains("Choose what is wrong with this profile."));
    assert!(
        html.contains(r#"<details class="card report" open>"#),
        "the form is shown unfolded on the profile"
    );
    let long = "x".repeat(1001);
    let refused = report(&alice, "bob", "spam", &long).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(refused).await;
    assert!(html.contains("1001 characters"), "{html}");
    assert!(html.contains(&long), "what was typed is kept");

    let own = report(&bob, "bob", "spam", "").await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN, "oneself");

    let token = alice.token_from("/account").await;
    let unknown = alice
        .post_raw(
            "/users/nobody/report",
            &[("csrf_token", &token), ("reason", "spam"), ("comment", "")],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    for fields in [
        vec![("reason", "spam"), ("comment", "")],
        vec![
            ("csrf_token", "forged"),
            ("reason", "spam"),
            ("comment", ""),
        ],
    ] {
        let response = alice.post_raw("/users/bob/report", &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    assert_eq!(open_reports(&app), 0, "none of them stored");

    let response = report(&alice, "bob", "other", &"é".repeat(1000)).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "1,000 characters are taken"
    );
    assert_eq!(open_reports(&app), 1);
}

#[tokio::test]
async fn the_eleventh_report_in_an_hour_is_refused_with_retry_after() {
    let app = spawn_app().await;
    let names: Vec<String> = (0..11).map(|i| format!("m{i:02}")).collect();
    let seeds: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    seed_members(&app, &seeds);
    let alice = member(&app, "alice").await;
    let token = alice.token_from("/users/m00").await;
    let send = |name: &str| {
        let path = format!("/users/{name}/report");
        let alice = &alice;
        let token = token.clone();
        async move {
            alice
                .post_raw(
                    &path,
                    &[("csrf_token", &token), ("reason", "spam"), ("comment", "")],
                )
                .await
        }
    };
    for name in &names[..10] {
        assert_eq!(send(name).await.status(), StatusCode::SEE_OTHER, "{name}");
    }
    let refused = send(&names[10]).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(refused.headers(), "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=3600).contains(&wait), "{wait}");
    assert!(body(refused).await.contains("Too many reports"));
    assert_eq!(open_reports(&app), 10);
}

// ----- Who sees the moderators' pages -----

#[tokio::test]
async fn moderation_pages_are_not_found_for_anyone_but_moderators() {
    let app = spawn_app().await;
    let _bob = member(&app, "bob").await;
    let alice = member(&app, "alice").await;
    report(&alice, "bob", "spam", "").await;
    let visitor = app.new_browser();
    let visitor_token = visitor.token_from("/login").await;
    let alice_token = alice.token_from("/account").await;

    for (who, browser, token) in [
        ("a visitor", &visitor, &visitor_token),
        ("a member", &alice, &alice_token),
    ] {
        for path in [
            "/moderation",
            "/moderation/users/bob",
            "/moderation/users/nobody",
            "/moderation/log",
            "/moderation/log?before=abc",
        ] {
            assert_eq!(
                browser.get(path).await.status(),
                StatusCode::NOT_FOUND,
                "{who}: {path}"
            );
        }
        let response = browser
            .post_raw(
                "/moderation/users/bob/action",
                &[
                    ("csrf_token", token),
                    ("action", "suspend"),
                    ("reason", "I do not like him."),
                    ("back", "queue"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{who}: action");
    }
    assert!(!suspended(&app, "bob"), "not suspended");
    assert_eq!(open_reports(&app), 1, "the report is still open");
    assert!(log_rows(&app).is_empty());
    assert!(!alice.get_html("/account").await.contains(NAV_LINK));

    let warden = moderator(&app, "warden").await;
    assert!(warden.get_html("/account").await.contains(NAV_LINK));
    for path in ["/moderation", "/moderation/users/bob", "/moderation/log"] {
        assert_eq!(warden.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

// ----- The queue and the actions -----

#[tokio::test]
async fn the_queue_groups_open_reports_per_member_oldest_first_as_they_are_now() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let uploaded = bob
        .upload_picture(solid_png(40, 40, [200, 30, 30]), "p.png", "image/png")
        .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("bob").expect("a picture");
    let _carol = member(&app, "carol").await;
    let alice = member(&app, "alice").await;
    let dave = member(&app, "dave").await;
    for (reporter, name, reason, comment) in [
        (&alice, "bob", "spam", "Link farm in the bio."),
        (&alice, "carol", "impersonation", "Claims to be the mayor."),
        (&dave, "bob", "abuse", "Rude replies."),
    ] {
        let response = report(reporter, name, reason, comment).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{comment}");
    }
    // Changed after the reports: the queue shows the member as they are now.
    let saved = bob
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Bobby Tables"),
                ("bio", "Now a quiet bio."),
                ("website", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let warden = moderator(&app, "warden").await;
    let html = warden.get_html("/moderation").await;
    assert!(html.contains("3 open reports on 2 members"), "{html}");
    // One section per member, in the queue's order.
    let sections: Vec<&str> = html
        .split(r#"<section class="card" aria-labelledby="member-"#)
        .skip(1)
        .collect();
    assert_eq!(sections.len(), 2, "{html}");
    let (bob_part, carol_part) = (sections[0], sections[1]);
    assert!(
        bob_part.contains(r#"<a href="/moderation/users/bob">Bobby Tables</a>"#),
        "bob first (the longest-waiting), by his display name now: {bob_part}"
    );
    assert!(
        carol_part.contains(r#"<a href="/moderation/users/carol">carol</a>"#),
        "{carol_part}"
    );
    for expected in [
        format!("/media/profile_pics/{picture}"),
        "@bob".to_owned(),
        "Now a quiet bio.".to_owned(),
        "Spam or advertising".to_owned(),
        "Link farm in the bio.".to_owned(),
        "from @alice".to_owned(),
        "Abuse or harassment".to_owned(),
        "Rude replies.".to_owned(),
        "from @dave".to_owned(),
    ] {
        assert!(bob_part.contains(&expected), "{expected} in {bob_part}");
    }
    let first = bob_part.find("Link farm").expect("alice's report");
    let second = bob_part.find("Rude replies").expect("dave's report");
    assert!(first < second, "oldest report first");
    for expected in [
        "/avatars/carol.svg",
        "Pretending to be someone else",
        "Claims to be the mayor.",
        "from @alice",
    ] {
        assert!(carol_part.contains(expected), "{expected} in {carol_part}");
    }
    assert!(!carol_part.contains("Rude replies."));
}

#[tokio::test]
async fn an_action_closes_the_reports_is_logged_and_returns_where_it_was_taken() {
    let app = spawn_app().await;
    let _bob = member(&app, "bob").await;
    let alice = member(&app, "alice").await;
    let dave = member(&app, "dave").await;
    report(&alice, "bob", "spam", "").await;
    report(&dave, "bob", "abuse", "").await;
    let warden = moderator(&app, "warden").await;

    // From the queue: back to the queue.
    let response = warden
        .submit(
            "/moderation",
            "/moderation/users/bob/action",
            &[
                ("action", "dismiss"),
                ("reason", "Satire, within the rules."),
                ("back", "queue"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/moderation");
    let queue = warden.get_html("/moderation").await;
    assert!(
        queue.contains("Done: dismissed the reports of @bob. 2 reports are closed."),
        "{queue}"
    );
    assert!(queue.contains("No open reports"), "{queue}");
    assert!(
        !queue.contains(r#"href="/moderation/users/bob""#),
        "{queue}"
    );
    assert_eq!(open_reports(&app), 0);
    assert_eq!(
        log_rows(&app),
        [(
            "warden".to_owned(),
            "bob".to_owned(),
            "dismiss".to_owned(),
            "Satire, within the rules.".to_owned()
        )]
    );
    let page = warden.get_html("/moderation/users/bob").await;
    assert_eq!(
        page.matches(r#"<span class="muted">closed</span>"#).count(),
        2
    );
    assert!(page.contains("@warden dismissed the reports"), "{page}");
    let log = warden.get_html("/moderation/log").await;
    assert!(
        log.contains(
            r#"@warden dismissed the reports of <a href="/moderation/users/bob">@bob</a>."#
        ),
        "{log}"
    );
    assert!(log.contains("Satire, within the rules."));
    assert!(log.contains("<time datetime=\""));

    // Closed, the report may be sent again; from the member's page, back to it.
    let again = report(&alice, "bob", "spam", "").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let response = act(&warden, "bob", "dismiss", "Still satire.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/moderation/users/bob");
    assert!(
        warden
            .get_html("/moderation/users/bob")
            .await
            .contains("One report is closed.")
    );
    assert_eq!(log_rows(&app).len(), 2);
}

#[tokio::test]
async fn a_missing_or_bad_reason_or_action_changes_nothing() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let alice = member(&app, "alice").await;
    report(&alice, "bob", "spam", "").await;
    let warden = moderator(&app, "warden").await;

    let too_long = "x".repeat(501);
    for (action, reason, says) in [
        ("suspend", "", "Give a reason"),
        ("suspend", "  \r\n  ", "Give a reason"),
        ("suspend", too_long.as_str(), "501 characters"),
        ("obliterate", "Because.", "Choose an action."),
        ("", "Because.", "Choose an action."),
    ] {
        let refused = act(&warden, "bob", action, reason).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{action}: {reason:?}"
        );
        let html = body(refused).await;
        assert!(html.contains(says), "{says} in {html}");
    }
    let token = warden.token_from("/moderation").await;
    for fields in [
        vec![("action", "suspend"), ("reason", "No token.")],
        vec![
            ("csrf_token", "forged"),
            ("action", "suspend"),
            ("reason", "Forged token."),
        ],
    ] {
        let response = warden
            .post_raw("/moderation/users/bob/action", &fields)
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    let unknown = warden
        .post_raw(
            "/moderation/users/nobody/action",
            &[
                ("csrf_token", &token),
                ("action", "suspend"),
                ("reason", "Who?"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    assert!(!suspended(&app, "bob"), "not suspended");
    assert_eq!(bob.get("/account").await.status(), StatusCode::OK);
    assert_eq!(open_reports(&app), 1);
    assert!(log_rows(&app).is_empty(), "no log entry");

    let longest = "é".repeat(500);
    let response = act(&warden, "bob", "dismiss", &longest).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "500 characters");
    assert_eq!(log_rows(&app)[0].3, longest);
}

#[tokio::test]
async fn moderators_act_neither_on_themselves_nor_on_each_other() {
    let app = spawn_app().await;
    let warden = moderator(&app, "warden").await;
    let keeper = moderator(&app, "keeper").await;
    let page = warden.get_html("/moderation/users/keeper").await;
    assert!(!page.contains("/moderation/users/keeper/action"), "no form");

    let on_self = act(&warden, "warden", "suspend", "Testing.").await;
    assert_eq!(on_self.status(), StatusCode::FORBIDDEN);
    assert!(
        body(on_self)
            .await
            .contains("This is you: no one acts on their own account.")
    );
    let on_other = act(&warden, "keeper", "suspend", "A coup.").await;
    assert_eq!(on_other.status(), StatusCode::FORBIDDEN);
    assert!(
        body(on_other)
            .await
            .contains("moderators do not act on each other")
    );
    assert!(!suspended(&app, "warden") && !suspended(&app, "keeper"));
    assert_eq!(warden.get("/account").await.status(), StatusCode::OK);
    assert_eq!(keeper.get("/account").await.status(), StatusCode::OK);
    assert!(log_rows(&app).is_empty());
}

#[tokio::test]
async fn an_action_that_does_not_apply_is_a_conflict() {
    let app = spawn_app().await;
    let _bob = member(&app, "bob").await;
    let warden = moderator(&app, "warden").await;
    for (action, says) in [
        ("remove_picture", "no picture to remove"),
        ("clear_profile", "no display name, bio or website to clear"),
        ("unsuspend", "not suspended"),
        ("dismiss", "no open reports"),
    ] {
        let refused = act(&warden, "bob", action, "Why not.").await;
        assert_eq!(refused.status(), StatusCode::CONFLICT, "{action}");
        assert!(body(refused).await.contains(says), "{action}: {says}");
    }
    let done = act(&warden, "bob", "suspend", "Spam.").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let again = act(&warden, "bob", "suspend", "Spam again.").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(body(again).await.contains("already suspended"));
    assert_eq!(log_rows(&app).len(), 1, "only the suspension is logged");
}

#[tokio::test]
async fn removing_a_picture_deletes_its_file_and_shows_the_default() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let uploaded = bob
        .upload_picture(solid_png(40, 40, [30, 200, 30]), "p.png", "image/png")
        .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let picture = app.picture_of("bob").expect("a picture");
    assert!(app.picture_files().contains(&picture));
    let warden = moderator(&app, "warden").await;

    let response = act(&warden, "bob", "remove_picture", "A phone number on it.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.picture_of("bob"), None);
    assert!(
        !app.picture_files().contains(&picture),
        "the file is deleted: {:?}",
        app.picture_files()
    );
    let profile = app.new_browser().get_html("/users/bob").await;
    assert!(profile.contains("/avatars/bob.svg"), "{profile}");
    assert!(!profile.contains(&picture));
    let media = app.get(&format!("/media/profile_pics/{picture}")).await;
    assert_eq!(media.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn clearing_a_profile_empties_name_bio_and_website() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let saved = bob
        .submit(
            "/account",
            "/account/profile",
            &[
                ("display_name", "Cheap Pills"),
                ("bio", "Buy now at my shop."),
                ("website", "https://pills.example.com"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert!(app.get_html("/users/bob").await.contains("Cheap Pills"));
    let warden = moderator(&app, "warden").await;

    let response = act(&warden, "bob", "clear_profile", "Advertising.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(about(&app, "bob"), (None, None, None));
    assert!(!suspended(&app, "bob"));
    let profile = app.new_browser().get_html("/users/bob").await;
    for gone in ["Cheap Pills", "Buy now", "pills.example.com"] {
        assert!(!profile.contains(gone), "{gone} in {profile}");
    }
}

// ----- Suspension -----

/// Bob with a picture, a logged-in browser, its session cookie and an access token; Alice as
/// an ordinary member; a moderator. Nothing done yet.
struct Cast {
    app: TestApp,
    bob: TestApp,
    bob_cookie: String,
    token: String,
    picture: String,
    alice: TestApp,
    warden: TestApp,
}

async fn cast() -> Cast {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let uploaded = bob
        .upload_picture(solid_png(40, 40, [30, 30, 200]), "p.png", "image/png")
        .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let token = bob.make_token("read").await;
    let bob_cookie = bob.session_cookie().expect("bob's cookie");
    let picture = app.picture_of("bob").expect("a picture");
    let alice = member(&app, "alice").await;
    let warden = moderator(&app, "warden").await;
    Cast {
        app,
        bob,
        bob_cookie,
        token,
        picture,
        alice,
        warden,
    }
}

#[tokio::test]
async fn a_suspension_ends_sessions_and_tokens_and_hides_the_member_everywhere() {
    let Cast {
        app,
        bob,
        token,
        picture,
        alice,
        warden,
        ..
    } = cast().await;
    let media = format!("/media/profile_pics/{picture}");
    assert_eq!(
        api_get(&app, "/api/v1/me", Some(&token)).await.status(),
        200
    );
    assert!(handles(&app.get_html("/users").await).contains(&"bob".to_owned()));

    let response = act(&warden, "bob", "suspend", "Spam links in every field.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let account = bob.get("/account").await;
    assert_eq!(
        account.status(),
        StatusCode::SEE_OTHER,
        "logged out at once"
    );
    assert!(location(&account).starts_with("/login"));
    let me = api_get(&app, "/api/v1/me", Some(&token)).await;
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the token is revoked"
    );

    let visitor = app.new_browser();
    let profile = visitor.get("/users/bob").await;
    assert_eq!(profile.status(), StatusCode::GONE);
    assert!(body(profile).await.contains("Account suspended"));
    let api = api_get(&app, "/api/v1/users/bob", None).await;
    assert_eq!(api.status(), StatusCode::GONE);
    assert_eq!(
        header(api.headers(), "content-type"),
        "application/problem+json"
    );
    let problem: Value = api.json().await.expect("a problem");
    assert_eq!(problem["status"], 410);

    for path in ["/users", "/users?q=bo", "/"] {
        let listed = handles(&visitor.get_html(path).await);
        assert!(!listed.contains(&"bob".to_owned()), "{path}: {listed:?}");
    }
    assert!(
        handles(&visitor.get_html("/users").await).contains(&"alice".to_owned()),
        "others still listed"
    );
    let listed = api_usernames(&app).await;
    assert!(!listed.contains(&"bob".to_owned()), "{listed:?}");
    assert!(listed.contains(&"alice".to_owned()), "{listed:?}");

    assert!(app.picture_files().contains(&picture), "the file is kept");
    assert_eq!(app.picture_of("bob").as_deref(), Some(picture.as_str()));
    assert_eq!(
        visitor.get(&media).await.status(),
        StatusCode::NOT_FOUND,
        "served to no one"
    );

    let token_of_alice = alice.token_from("/account").await;
    let reported = alice
        .post_raw(
            "/users/bob/report",
            &[
                ("csrf_token", &token_of_alice),
                ("reason", "spam"),
                ("comment", ""),
            ],
        )
        .await;
    assert_eq!(reported.status(), StatusCode::GONE);

    let wrong = bob.login("bob", "not-the-password-at-all").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let html = body(wrong).await;
    assert!(!html.contains("suspended"), "{html}");
    let right = bob.login("bob", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::FORBIDDEN);
    let html = body(right).await;
    assert!(html.contains("Your account is suspended"), "{html}");
    assert!(html.contains("Spam links in every field."), "{html}");
    assert_eq!(
        bob.get("/account").await.status(),
        StatusCode::SEE_OTHER,
        "not logged in"
    );

    let again = visitor
        .register("bob", "someone-else@example.com", PASSWORD)
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        body(again)
            .await
            .contains("That username is already taken.")
    );
    let again = visitor.register("bob2", "bob@example.com", PASSWORD).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        body(again)
            .await
            .contains("An account with that email already exists.")
    );

    let page = warden.get_html("/moderation/users/bob").await;
    assert!(page.contains("Suspended since"), "{page}");
}

#[tokio::test]
async fn lifting_a_suspension_restores_the_member_but_not_old_sessions_or_tokens() {
    let Cast {
        app,
        bob,
        bob_cookie,
        token,
        picture,
        warden,
        ..
    } = cast().await;
    let media = format!("/media/profile_pics/{picture}");
    let response = act(&warden, "bob", "suspend", "Spam.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = act(&warden, "bob", "unsuspend", "Appeal accepted.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let visitor = app.new_browser();
    assert_eq!(visitor.get("/users/bob").await.status(), StatusCode::OK);
    assert_eq!(visitor.get(&media).await.status(), StatusCode::OK);
    assert!(handles(&visitor.get_html("/users").await).contains(&"bob".to_owned()));
    assert!(api_usernames(&app).await.contains(&"bob".to_owned()));

    let (old, _) = app.other_browser(Some(&bob_cookie));
    let replay = old.get(app.url("/account")).send().await.expect("GET");
    assert_eq!(
        replay.status(),
        StatusCode::SEE_OTHER,
        "the old session stays ended"
    );
    let me = api_get(&app, "/api/v1/me", Some(&token)).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED, "the old token too");

    let login = bob.login("bob", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/account").await.status(), StatusCode::OK);
    assert!(!suspended(&app, "bob"));
}

// ----- The log -----

#[tokio::test]
async fn the_log_keeps_the_names_as_they_were() {
    let app = spawn_app().await;
    let bob = member(&app, "bob").await;
    let alice = member(&app, "alice").await;
    report(&alice, "bob", "spam", "").await;
    let warden = moderator(&app, "warden").await;
    let response = act(&warden, "bob", "dismiss", "Nothing wrong here.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let renamed = bob
        .submit(
            "/account",
            "/account",
            &[("username", "robert"), ("email", "bob@example.com")],
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let renamed = warden
        .submit(
            "/account",
            "/account",
            &[("username", "keeper"), ("email", "warden@example.com")],
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let log = warden.get_html("/moderation/log").await;
    assert!(
        log.contains(
            r#"@warden dismissed the reports of <a href="/moderation/users/robert">@bob</a>."#
        ),
        "{log}"
    );
    assert!(!log.contains("@robert") && !log.contains("@keeper dismissed"));
    let page = warden.get_html("/moderation/users/robert").await;
    assert!(page.contains("Nothing wrong here."), "the member's history");

    let deleted = bob
        .submit("/account", "/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let log = warden.get_html("/moderation/log").await;
    assert!(
        log.contains(
            r#"@warden dismissed the reports of @bob <span class="muted">(account deleted)</span>."#
        ),
        "{log}"
    );
    assert!(log.contains("Nothing wrong here."));
    assert_eq!(
        log_rows(&app),
        [(
            "warden".to_owned(),
            "bob".to_owned(),
            "dismiss".to_owned(),
            "Nothing wrong here.".to_owned()
        )]
    );

    // The moderator's own account goes too: another moderator still reads who acted.
    let deleted = warden
        .submit("/account", "/account/delete", &[("password", PASSWORD)])
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let chief = moderator(&app, "chief").await;
    let log = chief.get_html("/moderation/log").await;
    assert!(
        log.contains("@warden dismissed the reports of @bob"),
        "{log}"
    );
    assert_eq!(log_rows(&app).len(), 1);
}

#[tokio::test]
async fn the_log_pages_newest_first_without_duplicates() {
    let app = spawn_app().await;
    let _bob = member(&app, "bob").await;
    let warden = moderator(&app, "warden").await;
    let token = warden.token_from("/moderation").await;
    for i in 1..=55 {
        let action = if i % 2 == 1 { "suspend" } else { "unsuspend" };
        let reason = format!("Step {i:03}.");
        let response = warden
            .post_raw(
                "/moderation/users/bob/action",
                &[
                    ("csrf_token", &token),
                    ("action", action),
                    ("reason", &reason),
                    ("back", "member"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{reason}");
    }
    let step = |i: i32| format!("Step {i:03}.");

    let first = warden.get_html("/moderation/log").await;
    assert_eq!(
        reasons(&first),
        (6..=55).rev().map(step).collect::<Vec<_>>()
    );
    let next = next_link(&first).expect("a link to older entries");
    let before: i64 = next
        .strip_prefix("/moderation/log?before=")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a keyset link: {next}"));
    assert!(before > 0);
    let second = warden.get_html(&next).await;
    assert_eq!(
        reasons(&second),
        (1..=5).rev().map(step).collect::<Vec<_>>()
    );
    assert_eq!(next_link(&second), None, "the last page");
    assert!(second.contains(r#"<a href="/moderation/log">Newest</a>"#));

    for bad in ["abc", "-1", ""] {
        let response = warden.get(&format!("/moderation/log?before={bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "before={bad}");
    }
}

#[tokio::test]
async fn the_log_is_append_only_in_the_database() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let _bob = member(&app, "bob").await;
    let warden = moderator(&app, "warden").await;
    let response = act(&warden, "bob", "suspend", "Kept forever.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let before = log_rows(&app);

    let mut conn = app.db().conn().expect("conn");
    for sql in [
        "DELETE FROM moderation_log",
        "UPDATE moderation_log SET reason = 'Nothing happened.'",
        "UPDATE moderation_log SET member_name = 'someone'",
        "UPDATE moderation_log SET member_id = moderator_id",
    ] {
        let refused = conn.batch_execute(sql);
        let error = refused.expect_err(sql).to_string();
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(log_rows(&app), before);
    assert!(
        warden
            .get_html("/moderation/log")
            .await
            .contains("Kept forever.")
    );
    if app.backend == Backend::Postgres {
        // TRUNCATE fires no row trigger: only a BEFORE TRUNCATE statement trigger refuses it.
        let truncated = conn.batch_execute("TRUNCATE moderation_log");
        assert!(
            truncated.is_err(),
            "TRUNCATE emptied the append-only log: {:?}",
            log_rows(&app)
        );
    }
}

// ----- Mail, and what the member is never told -----

#[tokio::test]
async fn each_action_mails_the_member_what_was_done_and_why_but_never_who_reported() {
    let (app, mail) = spawn_app_with_mail().await;
    let bob = member(&app, "bob").await;
    let uploaded = bob
        .upload_picture(solid_png(40, 40, [90, 90, 90]), "p.png", "image/png")
        .await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let saved = bob
        .submit(
            "/account",
            "/account/profile",
            &[("display_name", "Bob"), ("bio", "Hi."), ("website", "")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let snitch = member(&app, "snitch").await;
    let response = report(&snitch, "bob", "picture", "His picture is awful.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for page in ["/account", "/users/bob"] {
        let html = bob.get_html(page).await;
        assert!(html.contains("bob"), "{page} is bob's");
        assert!(
            !html.contains("snitch") && !html.contains("His picture is awful."),
            "{page} names the reporter"
        );
    }
    let warden = moderator(&app, "warden").await;

    let actions = [
        (
            "dismiss",
            "The reports did not hold up.",
            "Reports about your Folio account were dismissed",
        ),
        (
            "remove_picture",
            "The picture showed a phone number.",
            "A moderator removed your Folio profile picture",
        ),
        (
            "clear_profile",
            "The bio advertised pills.",
            "A moderator cleared your Folio profile",
        ),
        (
            "suspend",
            "Repeated spam after a warning.",
            "Your Folio account is suspended",
        ),
        (
            "unsuspend",
            "Appeal accepted.",
            "Your Folio account is no longer suspended",
        ),
    ];
    for (action, reason, _) in actions {
        let response = act(&warden, "bob", action, reason).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{action}");
    }
    // The confirmation mail of the sign-up, then one per action.
    let mails = mail.wait_for("bob@example.com", 1 + actions.len()).await;
    for (action, reason, subject) in actions {
        let sent: Vec<_> = mails.iter().filter(|m| m.subject() == subject).collect();
        assert_eq!(sent.len(), 1, "{action}: one mail");
        let text = sent[0].text();
        assert!(text.contains(reason), "{action}: {text}");
        assert!(text.contains("@bob"), "{action}: {text}");
    }
    for m in &mails {
        let (text, html) = (m.text(), m.html());
        assert!(
            !text.contains("snitch") && !html.contains("snitch"),
            "{}",
            m.subject()
        );
    }
    let subjects: Vec<&str> = actions.iter().map(|(_, _, s)| *s).collect();
    for other in ["snitch@example.com", "warden@example.com"] {
        assert!(
            mail.to(other)
                .iter()
                .all(|m| !subjects.contains(&m.subject().as_str())),
            "{other} is not mailed about bob"
        );
    }
}

// ----- The shell -----

/// Runs `folio moderators ARGS` with the app's database; (exit code, stdout, stderr).
async fn folio_moderators(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    use secrecy::ExposeSecret;
    let url = match &app.settings.database {
        DatabaseUrl::Sqlite(path) => path.display().to_string(),
        DatabaseUrl::Postgres(url) => url.expose_secret().to_owned(),
    };
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .arg("moderators")
        .args(args)
        .current_dir(app.dir.path())
        .env("DATABASE_URL", url)
        .env("FOLIO_MEDIA_DIR", &app.settings.media_dir)
        .env("FOLIO_SECRET_KEY_FILE", &app.settings.secret_key_file)
        .env_remove("RUST_LOG");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the thread")
        .expect("run folio");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn moderators_are_named_from_the_shell() {
    let app = spawn_app().await;
    let alice = member(&app, "alice").await;
    let _bob = member(&app, "bob").await;
    assert_eq!(
        alice.get("/moderation").await.status(),
        StatusCode::NOT_FOUND
    );

    let (code, out, _) = folio_moderators(&app, &["list"]).await;
    assert_eq!(code, Some(0));
    assert!(out.contains("no moderators"), "{out}");
    let (code, out, err) = folio_moderators(&app, &["add", "alice"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("alice is now a moderator"), "{out}");
    assert_eq!(alice.get("/moderation").await.status(), StatusCode::OK);
    assert!(alice.get_html("/account").await.contains(NAV_LINK));
    let (code, out, _) = folio_moderators(&app, &["list"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), "alice <alice@example.com>");

    let (code, _, err) = folio_moderators(&app, &["add", "ghost"]).await;
    assert_eq!(code, Some(1), "an unknown name fails");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("'ghost'"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // A suspended member cannot be made a moderator.
    let response = act(&alice, "bob", "suspend", "Spam.").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (code, _, err) = folio_moderators(&app, &["add", "bob"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("suspended"), "{err}");

    let (code, out, err) = folio_moderators(&app, &["remove", "alice"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("alice is no longer a moderator"), "{out}");
    assert_eq!(
        alice.get("/moderation").await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(!alice.get_html("/account").await.contains(NAV_LINK));
    let (_, out, _) = folio_moderators(&app, &["list"]).await;
    assert!(out.contains("no moderators"), "{out}");
}
