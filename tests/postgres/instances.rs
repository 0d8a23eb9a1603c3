//! Several instances on one PostgreSQL database: what a load balancer in front of them needs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use folio::config::SessionKey;
use reqwest::StatusCode;

use crate::helpers::postgres::Cluster;
use crate::helpers::*;

/// Two instances that share no key file: only `FOLIO_SECRET_KEY` makes them one site.
async fn two_instances() -> (TestApp, TestApp) {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 64]);
    let key = SessionKey::parse(&key).expect("a valid key");
    let a = spawn_app_with(|s| {
        s.secret_key = Some(key.clone());
        s.secret_key_file = "/nonexistent/folio.key".into();
    })
    .await;
    let b = a.another_instance().await;
    (a, b)
}

#[tokio::test]
async fn the_hourly_upload_limit_counts_the_form_and_the_api_on_every_instance() {
    let a = spawn_app_with(|s| s.uploads_per_hour = 3).await;
    let b = a.another_instance().await;
    a.sign_up("ada").await;
    let token = a.make_token("write").await;
    let photo = || solid_png(40, 40, [20, 120, 220]);
    let api = |app: &TestApp| {
        let form = reqwest::multipart::Form::new().part(
            "picture",
            reqwest::multipart::Part::bytes(photo()).file_name("p.png"),
        );
        reqwest::Client::new()
            .patch(app.url("/api/v1/me/picture"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    assert_eq!(
        a.upload_picture(photo(), "p.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(api(&b).await.expect("upload").status(), StatusCode::OK);
    assert_eq!(
        b.upload_picture(photo(), "p.png", "image/png")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let refused = api(&a).await.expect("upload");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!header(refused.headers(), "retry-after").is_empty());
    assert_eq!(
        b.upload_picture(photo(), "p.png", "image/png")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other_until_logged_out_on_either() {
    let (a, b) = two_instances().await;
    assert_ne!(a.port, b.port);
    a.sign_up("ada").await;
    assert_eq!(a.get("/account").await.status(), StatusCode::OK);
    let on_b = b.get("/account").await;
    assert_eq!(on_b.status(), StatusCode::OK, "B knows A's session");
    assert!(on_b.text().await.expect("body").contains("ada"));

    // A form shown by A can be posted to B: the token lives in the shared session.
    let token = a.token_from("/account").await;
    let response = b
        .post_raw(
            "/account",
            &[
                ("csrf_token", &token),
                ("username", "ada2"),
                ("email", "ada@example.com"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        a.get_html("/account").await.contains("Profile updated"),
        "B's message is shown by A"
    );

    let old_cookie = a.session_cookie().expect("cookie");
    assert_eq!(b.logout().await.status(), StatusCode::SEE_OTHER);
    let (replay, _) = a.other_browser(Some(&old_cookie));
    let response = replay.get(a.url("/account")).send().await.expect("get");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "logged out on A too"
    );
}

#[tokio::test]
async fn a_password_change_on_one_instance_ends_sessions_used_on_the_other() {
    let (a, b) = two_instances().await;
    a.sign_up("grace").await;
    let phone = b.new_browser();
    assert_eq!(
        phone.login("grace", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(phone.get("/account").await.status(), StatusCode::OK);

    let response = a.change_password(PASSWORD, "another-long-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        phone.get("/account").await.status(),
        StatusCode::SEE_OTHER,
        "the session on B is over"
    );
    assert_eq!(a.get("/account").await.status(), StatusCode::OK);
    assert_eq!(
        b.get("/account").await.status(),
        StatusCode::OK,
        "the changer's own goes on"
    );
}

#[tokio::test]
async fn failed_logins_spread_over_instances_count_together() {
    let (a, b) = two_instances().await;
    a.sign_up("mallory").await;
    a.logout().await;
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let response = app.login("mallory", "wrong-password-here").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    for app in [&a, &b] {
        let response = app.login("mallory", PASSWORD).await;
        assert_eq!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "the 11th, even with the right password"
        );
    }
}

#[tokio::test]
async fn a_burst_of_guesses_cannot_slip_past_the_limit() {
    let (a, b) = two_instances().await;
    a.sign_up("victim").await;
    a.logout().await;
    // 16 guesses sent at once through both instances: each is counted before its password is
    // checked, so at most 10 are ever checked.
    let browsers: Vec<TestApp> = (0..16)
        .map(|i| {
            if i % 2 == 0 {
                a.new_browser()
            } else {
                b.new_browser()
            }
        })
        .collect();
    let mut tokens = Vec::new();
    for browser in &browsers {
        tokens.push(browser.token_from("/login").await);
    }
    let guesses = browsers.iter().zip(&tokens).map(|(browser, token)| {
        let form = [
            ("csrf_token", token.clone()),
            ("username", "victim".to_owned()),
            ("password", "wrong-password-here".to_owned()),
        ];
        browser
            .client
            .post(browser.url("/login"))
            .form(&form)
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.as_ref().expect("post").status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (10, 6), "{statuses:?}");
}

#[tokio::test]
async fn one_name_registered_through_two_instances_at_once_is_taken_once() {
    let (a, b) = two_instances().await;
    for round in 0..4 {
        let (first, second) = (a.new_browser(), b.new_browser());
        let (t1, t2) = (
            first.token_from("/register").await,
            second.token_from("/register").await,
        );
        let name = format!("racer{round}");
        let form = |token: &str, email: &str| {
            vec![
                ("csrf_token".to_owned(), token.to_owned()),
                ("username".to_owned(), name.clone()),
                ("email".to_owned(), email.to_owned()),
                ("password".to_owned(), PASSWORD.to_owned()),
                ("password_confirm".to_owned(), PASSWORD.to_owned()),
            ]
        };
        let (f1, f2) = (
            form(&t1, &format!("one{round}@example.com")),
            form(&t2, &format!("two{round}@example.com")),
        );
        let (r1, r2) = tokio::join!(
            first.client.post(first.url("/register")).form(&f1).send(),
            second.client.post(second.url("/register")).form(&f2).send(),
        );
        let mut statuses = [r1.expect("post").status(), r2.expect("post").status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::SEE_OTHER, StatusCode::CONFLICT],
            "round {round}"
        );
    }
    let names: Vec<String> = a.users().into_iter().map(|u| u.0).collect();
    assert_eq!(names.len(), 4, "one account per name: {names:?}");
}

#[tokio::test]
async fn usernames_and_emails_are_unique_ignoring_case_on_postgresql_too() {
    let app = spawn_app().await;
    app.sign_up("Linus").await;
    let other = app.new_browser();
    let response = other.register("LINUS", "other@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = other
        .register("someone", "LINUS@EXAMPLE.COM", PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    // Lookups ignore case as well: profile, and log in by either spelling.
    assert_eq!(other.get("/users/linus").await.status(), StatusCode::OK);
    assert_eq!(
        other.login("lInUs", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    // The database itself refuses a second spelling, whatever the app checked first.
    let mut conn = app.db().conn().expect("conn");
    let insert = folio::db::users::insert(
        &mut conn,
        &folio::domain::Username::parse("LiNuS").expect("valid"),
        &folio::domain::Email::parse("third@example.com").expect("valid"),
        "$argon2id$x",
        &folio::db::users::SignupLimit {
            client: "test".into(),
            per_hour: 0,
        },
    );
    assert!(
        matches!(insert, Err(folio::db::DbError::UsernameTaken)),
        "{:?}",
        insert.err()
    );
}

#[tokio::test]
async fn a_picture_uploaded_through_one_instance_is_served_by_the_other() {
    let (a, b) = two_instances().await;
    a.sign_up("pia").await;
    let response = a
        .upload_picture(solid_png(64, 64, [220, 20, 20]), "me.png", "image/png")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let name = a.picture_of("pia").expect("a picture");
    let html = b.get_html("/users/pia").await;
    assert!(
        html.contains(&format!("/media/profile_pics/{name}")),
        "{html}"
    );
    let served = b.get(&format!("/media/profile_pics/{name}")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(header(served.headers(), "content-type"), "image/jpeg");
}

#[tokio::test]
async fn pictures_swapped_at_once_through_two_instances_leave_no_orphan() {
    let (a, b) = two_instances().await;
    a.sign_up("twin").await;
    for round in 0..4 {
        let (ta, tb) = (
            a.token_from("/account").await,
            b.token_from("/account").await,
        );
        let (ra, rb) = tokio::join!(
            a.upload_with_token(&ta, solid_png(64, 64, [220, 20, 20]), "a.png", "image/png"),
            b.upload_with_token(&tb, solid_png(64, 64, [220, 20, 20]), "b.png", "image/png"),
        );
        assert_eq!(ra.status(), StatusCode::SEE_OTHER, "round {round}");
        assert_eq!(rb.status(), StatusCode::SEE_OTHER, "round {round}");
        let current = a.picture_of("twin").expect("a picture");
        assert_eq!(
            a.picture_files().into_iter().collect::<Vec<_>>(),
            vec![current],
            "round {round}: exactly the file the row points at"
        );
    }
}

#[tokio::test]
async fn when_postgresql_stops_pages_answer_503_and_recover_without_a_restart() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let app = spawn_app_with(|s| {
        s.database = folio::db::DatabaseUrl::parse(&url).expect("url");
    })
    .await;
    app.sign_up("olga").await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    cluster.stop();
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Every page a 503 page with Retry-After, never a 500 or a stack trace; the API a problem.
    for path in ["/", "/account", "/users/olga", "/users"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(header(response.headers(), "retry-after"), "5", "{path}");
        let body = response.text().await.expect("body");
        assert!(body.contains("<html"), "{path}: the error page");
        assert!(!body.contains("postgres"), "{path}: no internal detail");
    }
    let anonymous = app.new_browser();
    assert_eq!(
        anonymous.get("/login").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let response = anonymous.get("/api/v1/users/olga").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(response.headers(), "retry-after"), "5");
    assert_eq!(
        header(response.headers(), "content-type"),
        "application/problem+json"
    );

    cluster.restart();
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/account").await.status(),
        StatusCode::OK,
        "the session survived"
    );
    assert_eq!(
        anonymous.login("olga", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

/// Starts the `folio` binary with `env` and waits until it listens (Some(port)) or exits
/// (None, with its stderr).
/// A server process that is killed when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_binary(dir: &std::path::Path, env: &[(&str, &str)]) -> (Running, Result<u16, String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .current_dir(dir)
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env("FOLIO_MEDIA_DIR", dir.join("media"))
        .env("FOLIO_SECRET_KEY_FILE", dir.join("folio.key"))
        .env("RUST_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start folio");
    let stderr = child.stderr.take().expect("stderr");
    // Read on a thread that goes on draining the log, so the server never writes to a closed
    // pipe; it sends the port (or everything said before exiting) back.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Some(sender) = tx.as_ref() else { continue };
            match line.find("listening on http://127.0.0.1:") {
                Some(at) => {
                    let port: String = line[at + 30..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let _ = sender.send(port.parse::<u16>().map_err(|e| e.to_string()));
                    tx = None;
                }
                None => said.push(line),
            }
        }
        if let Some(sender) = tx {
            let _ = sender.send(Err(said.join("\n")));
        }
    });
    let port = rx.recv().unwrap_or_else(|_| Err("no answer".into()));
    (Running(child), port)
}

#[tokio::test]
async fn instances_started_at_the_same_moment_on_an_empty_database_all_serve() {
    let database = fresh_pg_database();
    let url = database.cluster.url(&database.name);
    let dir = tempfile::tempdir().expect("dir");
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (dir, url) = (dir.path().to_owned(), url.clone());
            std::thread::spawn(move || start_binary(&dir, &[("DATABASE_URL", &url)]))
        })
        .collect();
    let mut running = Vec::new();
    for start in starts {
        let (child, port) = start.join().expect("thread");
        running.push(child);
        let port = port.unwrap_or_else(|e| panic!("an instance did not start: {e}"));
        let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .expect("healthz");
        assert_eq!(health.status(), StatusCode::OK);
    }
}

/// Runs the binary with `env` and returns (exit code, stderr) once it stops by itself.
fn refused_start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_folio"));
    command
        .current_dir(dir.path())
        .env("FOLIO_BIND", "127.0.0.1:0")
        .env_remove("DATABASE_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run folio");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn settings_that_cannot_be_used_stop_the_start_with_one_line() {
    let Some(cluster) = crate::helpers::postgres::shared() else {
        return;
    };
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let wrong_password = format!(
        "postgres://postgres:not-the-password-xyz@127.0.0.1:{}/postgres",
        cluster.port
    );
    let unreachable = format!("postgres://postgres:hunter2secret@127.0.0.1:{closed_port}/folio");
    // (environment, the setting named, words of the real cause)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 8] = [
        (
            &[("DATABASE_URL", "mysql://u@h/db")],
            "DATABASE_URL",
            "unknown scheme",
        ),
        (
            &[("DATABASE_URL", "postgres:folio.db")],
            "DATABASE_URL",
            "needs '//'",
        ),
        (
            &[("DATABASE_URL", &unreachable)],
            "DATABASE_URL",
            "Connection refused",
        ),
        (
            &[("DATABASE_URL", &wrong_password)],
            "DATABASE_URL",
            "password authentication failed",
        ),
        (
            &[("FOLIO_TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")],
            "FOLIO_TRUSTED_PROXIES",
            "lb.internal",
        ),
        (
            &[("FOLIO_SECRET_KEY", "c2hvcnQ=")],
            "FOLIO_SECRET_KEY",
            "at least 64",
        ),
        (
            &[("FOLIO_METRICS_BIND", "nine")],
            "FOLIO_METRICS_BIND",
            "nine",
        ),
        (&[("FOLIO_LOG_FORMAT", "yaml")], "FOLIO_LOG_FORMAT", "yaml"),
    ];
    for (env, setting, cause) in cases {
        let (code, stderr) = refused_start(env);
        assert!(matches!(code, Some(c) if c != 0), "{env:?}: exit {code:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{env:?}: one line, got {stderr}");
        assert!(lines[0].contains(setting), "{env:?}: {stderr}");
        assert!(lines[0].contains(cause), "{env:?}: {stderr}");
        for secret in ["not-the-password-xyz", "hunter2secret"] {
            assert!(
                !stderr.contains(secret),
                "{env:?}: the password was printed: {stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn two_instances_send_each_queued_mail_exactly_once() {
    // The mail server is down while the mails are queued, so both instances' senders find
    // every mail due at once when it comes back, and race for each.
    let port = smtp::MailServer::unused_port();
    let url = folio::mail::SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
    let a = spawn_app_with(|s| s.mail.smtp = Some(url)).await;
    let b = a.another_instance().await;
    let names: Vec<String> = (0..12).map(|i| format!("member{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let instance = if i % 2 == 0 { &a } else { &b };
        instance.new_browser().sign_up(name).await;
    }
    let server = smtp::MailServer::start_on(port);
    for name in &names {
        server.wait_for(&format!("{name}@example.com"), 1).await;
    }
    // A row goes only once the server has taken its mail, and no two senders hold one row:
    // with the outbox empty, nothing more can arrive.
    let mut conn = a.db().conn().expect("conn");
    for _ in 0..200 {
        if folio::db::outbox::waiting(&mut conn).expect("count") == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for name in &names {
        assert_eq!(
            server.to(&format!("{name}@example.com")).len(),
            1,
            "{name} got its confirmation exactly once"
        );
    }
    assert_eq!(server.all().len(), names.len());
    assert_eq!(folio::db::outbox::waiting(&mut conn).expect("count"), 0);
}

#[tokio::test]
async fn moderation_on_one_instance_ends_the_suspended_members_session_on_the_other() {
    let (a, b) = two_instances().await;
    let member = b.new_browser();
    member.sign_up("bob").await;
    assert_eq!(member.get("/account").await.status(), StatusCode::OK);
    let moderator = a.new_browser();
    moderator.sign_up("warden").await;
    a.execute_sql("UPDATE users SET moderator = TRUE WHERE username = 'warden'");

    let response = moderator
        .submit(
            "/moderation/users/bob",
            "/moderation/users/bob/action",
            &[
                ("action", "suspend"),
                ("reason", "Spam through every instance."),
                ("back", "member"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let account = member.get("/account").await;
    assert_eq!(account.status(), StatusCode::SEE_OTHER, "logged out on B");
    assert!(location(&account).starts_with("/login"));
    assert_eq!(
        b.new_browser().get("/users/bob").await.status(),
        StatusCode::GONE,
        "B's profile page"
    );
    let login = member.login("bob", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::FORBIDDEN, "B refuses the login");
    assert!(
        login
            .text()
            .await
            .expect("body")
            .contains("Spam through every instance.")
    );
}

#[tokio::test]
async fn the_password_given_to_one_instance_and_the_code_to_the_other_log_in() {
    let (a, b) = two_instances().await;
    a.sign_up("ada").await;
    let enrolled = crate::two_factor::turn_on(&a, "ada").await;
    a.logout().await;
    let step = a.login("ada", PASSWORD).await;
    assert_eq!(step.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&step), "/login/two-factor");
    assert_eq!(b.get("/account").await.status(), StatusCode::SEE_OTHER);

    let code = crate::two_factor::next_code(&b, "ada", &enrolled.secret).await;
    let token = b.token_from("/login/two-factor").await;
    let done = b
        .post_raw(
            "/login/two-factor",
            &[("csrf_token", token.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(a.get("/account").await.status(), StatusCode::OK);
    assert_eq!(b.get("/account").await.status(), StatusCode::OK);

    // The code B took is taken for A too.
    let thief = a.new_browser();
    let step = thief.login("ada", PASSWORD).await;
    assert_eq!(location(&step), "/login/two-factor");
    let token = thief.token_from("/login/two-factor").await;
    let replay = thief
        .post_raw(
            "/login/two-factor",
            &[("csrf_token", token.as_str()), ("code", code.as_str())],
        )
        .await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
