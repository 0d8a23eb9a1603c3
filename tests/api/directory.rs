//! The member directory: newest first, keyset pages, search, cursors that cannot be forged,
//! and the newest members on the home page.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::helpers::*;

/// Follows "Older members" from `first` to the end; each page's handles.
async fn all_pages(app: &TestApp, first: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.expect("body");
        pages.push(handles(&html));
        next = link_by_id(&html, "older-members");
        assert!(pages.len() < 200, "the pages never end");
    }
    pages
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

#[tokio::test]
async fn members_are_listed_newest_first_in_pages() {
    let app = spawn_app().await;
    let members = names("m", 12);
    let seeded: Vec<(&str, Option<&str>)> = members.iter().map(|m| (m.as_str(), None)).collect();
    seed_members(&app, &seeded);

    let html = app.get_html("/users?limit=5").await;
    assert_eq!(handles(&html), ["m011", "m010", "m009", "m008", "m007"]);
    assert!(html.contains(r#"loading="lazy""#));
    assert!(html.contains(r#"width="64" height="64""#));
    assert!(html.contains(r#"href="/users/m011""#));
    // The first page needs no way back to itself.
    assert!(link_by_id(&html, "newest-members").is_none());

    let pages = all_pages(&app, "/users?limit=5").await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[2], ["m001", "m000"]);
    let flat: Vec<String> = pages.concat();
    let mut newest_first = members.clone();
    newest_first.reverse();
    assert_eq!(flat, newest_first);

    // A later page links back to the first, and keeps its limit.
    let html = app.get_html("/users?limit=5").await;
    let second = link_by_id(&html, "older-members").expect("a second page");
    assert!(second.contains("limit=5"), "{second}");
    let html = app.get_html(&second).await;
    assert_eq!(
        link_by_id(&html, "newest-members").as_deref(),
        Some("/users?limit=5")
    );

    // The default page is 20.
    seed_members(
        &app,
        &names("n", 15)
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );
    assert_eq!(handles(&app.get_html("/users").await).len(), 20);
}

#[tokio::test]
async fn paging_shows_every_member_once_while_members_come_and_go() {
    let app = spawn_app().await;
    let members = names("p", 23);
    seed_members(
        &app,
        &members
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );

    let mut seen = Vec::new();
    let mut next = Some("/users?limit=4".to_owned());
    let mut page = 0;
    while let Some(path) = next {
        let html = app.get_html(&path).await;
        seen.extend(handles(&html));
        next = link_by_id(&html, "older-members");
        page += 1;
        match page {
            // Newcomers join above the pages already read.
            1 => {
                let newcomer = app.new_browser();
                newcomer.sign_up("newcomer1").await;
                seed_members(&app, &[("newcomer2", None)]);
            }
            // A member not yet shown leaves, and one already shown leaves.
            2 => {
                app.execute_sql("DELETE FROM users WHERE username IN ('p003', 'p021')");
            }
            _ => {}
        }
    }
    let mut expected: Vec<String> = members
        .iter()
        .filter(|m| m.as_str() != "p003")
        .cloned()
        .collect();
    expected.reverse();
    assert_eq!(seen, expected, "every member once, newest first, no gaps");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
}

#[tokio::test]
async fn load_more_gets_the_next_slice_as_a_fragment() {
    let app = spawn_app().await;
    seed_members(
        &app,
        &names("f", 7)
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );
    let html = app.get_html("/users?limit=3").await;
    let next = link_by_id(&html, "older-members").expect("an older page");

    let response = app.get(&format!("{next}&fragment=1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fragment = response.text().await.expect("body");
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(
        fragment.trim_start().starts_with(r#"<ol class="members""#),
        "{fragment}"
    );
    assert_eq!(handles(&fragment), ["f003", "f002", "f001"]);
    let after = fragment
        .split(r#"data-next=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the fragment says where the next slice is")
        .replace("&#38;", "&");
    let last = app.get_html(&format!("{after}&fragment=1")).await;
    assert_eq!(handles(&last), ["f000"]);
    assert!(!last.contains("data-next"), "the end says so");
    // The page itself loads the script that turns the link into a button.
    let src = folio::static_files::url("directory.js");
    assert!(html.contains(&format!(r#"<script src="{src}" defer></script>"#)));
    let script = app.get(src).await;
    assert_eq!(script.status(), StatusCode::OK);
}

#[tokio::test]
async fn search_finds_the_start_of_a_username_or_a_display_name_ignoring_case() {
    let app = spawn_app().await;
    seed_members(
        &app,
        &[
            ("ada_l", Some("Augusta King")),
            ("grace", Some("Ada Hopper")),
            ("zed", Some("Zoë Ångström")),
            ("odysseus", Some("ΟΔΥΣΣΕΥΣ")),
            ("adam", None),
            ("bob", Some("Bob")),
            ("madam", Some("Mad Adam")),
        ],
    );
    let search = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let url = reqwest::Url::parse_with_params(&app.url("/users"), &[("q", q.as_str())])
                .expect("url");
            let response = app.client.get(url).send().await.expect("GET");
            assert_eq!(response.status(), StatusCode::OK);
            handles(&response.text().await.expect("body"))
        }
    };
    // Newest first, by username or display name, never from the middle of a name.
    assert_eq!(search("ADA").await, ["adam", "grace", "ada_l"]);
    assert_eq!(search("@Ada_").await, ["ada_l"]);
    assert_eq!(search("aug").await, ["ada_l"]);
    assert_eq!(search("zoë å").await, ["zed"]);
    assert_eq!(search("ZOË").await, ["zed"]);
    assert_eq!(search("οδυσ").await, ["odysseus"]);
    assert_eq!(search("mad a").await, ["madam"]);
    assert!(search("dam").await.is_empty());
    // Nothing a name can hold, on either database: no 500 (PostgreSQL text cannot hold NUL).
    for q in ["%00", "%00ada", "ada%0A"] {
        let response = app.get(&format!("/users?q={q}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{q}");
    }
    assert_eq!(search("ADA   HOP").await, ["grace"]);
    let html = app.get_html("/users?q=nobody").await;
    assert!(html.contains(r#"id="no-members""#));
    assert!(html.contains(r#"value="nobody""#));
    // Everyone, for an empty search.
    assert_eq!(search("  ").await.len(), 7);

    // Search results page like the directory, keeping the search.
    let html = app.get_html("/users?q=a&limit=2").await;
    assert_eq!(handles(&html), ["adam", "grace"]);
    let next = link_by_id(&html, "older-members").expect("more");
    assert!(next.contains("q=a"), "{next}");
    assert_eq!(handles(&app.get_html(&next).await), ["ada_l"]);
}

#[tokio::test]
async fn a_prefix_most_members_share_pages_the_same_way() {
    // A prefix longer than the buckets of their own (`HEAD` in db/members.rs) with more
    // matches than the name indexes are read for: its twelve-letter bucket is walked newest
    // first instead, and must give the same answers.
    let app = spawn_app().await;
    let bulk: Vec<String> = (0..600).map(|i| format!("bulkheadings.{i:03}")).collect();
    let mut seeded: Vec<(&str, Option<&str>)> = bulk.iter().map(|m| (m.as_str(), None)).collect();
    // Near the top, where more than that many matches are still older than the page.
    seeded.insert(560, ("other", Some("Bulkheadings.Co")));
    // In the `bulkheadings` bucket a walk for `bulkheadings.` steps through, but not matches
    // of it.
    let walls: Vec<String> = (0..40).map(|i| format!("bulkheadingss{i:02}")).collect();
    for (i, wall) in walls.iter().enumerate() {
        seeded.insert(15 * i + 7, (wall.as_str(), None));
    }
    seeded.push(("zzz", None));
    seed_members(&app, &seeded);
    let newest_first = |keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut names: Vec<String> = seeded
            .iter()
            .filter(|(name, display)| {
                keep(name) || display.is_some_and(|d| keep(&d.to_lowercase()))
            })
            .map(|(name, _)| (*name).to_owned())
            .collect();
        names.reverse();
        names
    };

    let html = app.get_html("/users?q=BULKHEADINGS.&limit=3").await;
    assert_eq!(
        handles(&html),
        ["bulkheadings.599", "bulkheadings.598", "bulkheadings.597"]
    );
    // Every match once, newest first: the display name "Bulkheadings.Co" among the usernames, no
    // `bulkheadingss`.
    let flat = all_pages(&app, "/users?q=bulkheadings.&limit=50")
        .await
        .concat();
    let expected = newest_first(&|name| name.starts_with("bulkheadings."));
    assert_eq!(flat.len(), 601);
    assert_eq!(flat, expected);
    // One to twelve characters read their own buckets: the same members, the same order.
    let everyone_b = newest_first(&|name| name.starts_with('b'));
    assert_eq!(everyone_b.len(), 641);
    let heads = (1..=12).map(|n| {
        let head = &"bulkheadings"[..n];
        // Upper case for every other length: the key is lowered, the prefix too.
        if n % 2 == 1 {
            head.to_uppercase()
        } else {
            head.to_owned()
        }
    });
    for q in heads {
        let page = handles(&app.get_html(&format!("/users?q={q}&limit=50")).await);
        assert_eq!(page, everyone_b[..50], "{q}");
    }
    let deep = all_pages(&app, "/users?q=b&limit=50").await.concat();
    assert_eq!(deep, everyone_b);
    let deep = all_pages(&app, "/users?q=bulkheadings&limit=50")
        .await
        .concat();
    assert_eq!(deep, everyone_b);
    // A rare prefix inside that bucket is read from the name indexes.
    assert_eq!(
        handles(&app.get_html("/users?q=bulkheadingss3").await),
        (30..40)
            .rev()
            .map(|i| format!("bulkheadingss{i}"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_search_asked_again_finds_what_changed_since() {
    // The walks of a prefix's first page are remembered for a while (db/members.rs,
    // `RecentWalks`); once stale they may cost time, never a member.
    let app = spawn_app().await;
    let early = names("greenhouseful", 3);
    seed_members(
        &app,
        &early.iter().map(|m| (m.as_str(), None)).collect::<Vec<_>>(),
    );
    // Rare: remembered as read from the name indexes.
    assert_eq!(
        handles(&app.get_html("/users?q=greenhouseful").await),
        ["greenhouseful002", "greenhouseful001", "greenhouseful000"]
    );
    // Now more than that path is chosen for, and one of the newest is suspended.
    let more: Vec<String> = (3..400).map(|i| format!("greenhouseful{i:04}")).collect();
    seed_members(
        &app,
        &more.iter().map(|m| (m.as_str(), None)).collect::<Vec<_>>(),
    );
    app.execute_sql("UPDATE users SET suspended_at = 1 WHERE username = 'greenhouseful0399'");
    let page = handles(&app.get_html("/users?q=greenhouseful&limit=3").await);
    assert_eq!(
        page,
        [
            "greenhouseful0398",
            "greenhouseful0397",
            "greenhouseful0396"
        ]
    );
    let all = all_pages(&app, "/users?q=greenhouseful&limit=50")
        .await
        .concat();
    assert_eq!(all.len(), 399);
    assert_eq!(all.last().map(String::as_str), Some("greenhouseful000"));
}

#[tokio::test]
async fn bad_or_forged_cursors_and_limits_are_400_pages() {
    let app = spawn_app().await;
    seed_members(
        &app,
        &names("c", 5)
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );
    let html = app.get_html("/users?limit=2").await;
    let next = link_by_id(&html, "older-members").expect("more");
    let cursor = next
        .split("after=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a cursor")
        .to_owned();
    assert_eq!(app.get(&next).await.status(), StatusCode::OK);

    // Each character changed in turn: none is accepted.
    let mut forged = Vec::new();
    for i in 0..cursor.len() {
        let mut bytes = cursor.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        forged.push(String::from_utf8(bytes).expect("ascii"));
    }
    forged.extend([
        String::new(),
        "1".into(),
        "not-a-cursor".into(),
        "%00".into(),
        "A".repeat(400),
        format!("{cursor}AA"),
    ]);
    for after in &forged {
        let response = app.get(&format!("/users?limit=2&after={after}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "after={after}");
        let html = response.text().await.expect("body");
        assert!(html.contains("Bad page link"), "{html}");
        assert!(html.contains("Start again from the first page"), "{html}");
    }
    for limit in ["0", "51", "-1", "abc", "", "20.5", "99999999999999999999"] {
        let response = app.get(&format!("/users?limit={limit}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "limit={limit}");
        assert!(
            response
                .text()
                .await
                .expect("body")
                .contains("1 to 50 members")
        );
    }
    // A query the form could not have made.
    let response = app.get("/users?limit=1&limit=2").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Another site's (another key's) cursor is as good as a forged one.
    let other = spawn_app().await;
    seed_members(
        &other,
        &names("c", 5)
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );
    let theirs =
        link_by_id(&other.get_html("/users?limit=2").await, "older-members").expect("more");
    assert_eq!(app.get(&theirs).await.status(), StatusCode::BAD_REQUEST);
    // The same site's cursor works on another instance.
    let twin = app.another_instance().await;
    assert_eq!(twin.get(&next).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_home_page_shows_the_newest_members() {
    let app = spawn_app().await;
    let html = app.get_html("/").await;
    assert!(html.contains(r#"href="/users""#));
    assert!(handles(&html).is_empty());
    seed_members(
        &app,
        &names("h", 8)
            .iter()
            .map(|m| (m.as_str(), None))
            .collect::<Vec<_>>(),
    );
    let html = app.get_html("/").await;
    assert_eq!(
        handles(&html),
        ["h007", "h006", "h005", "h004", "h003", "h002"]
    );
    assert!(html.contains("See all members"));
}

#[tokio::test]
async fn a_changed_username_is_found_by_its_new_name_only() {
    let app = spawn_app().await;
    app.sign_up("oldname").await;
    let response = app
        .submit(
            "/account",
            "/account",
            &[("username", "Fresh.Name"), ("email", "oldname@example.com")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        handles(&app.get_html("/users?q=fresh").await),
        ["Fresh.Name"]
    );
    assert!(handles(&app.get_html("/users?q=oldn").await).is_empty());
}
