//! Folio as a Libravatar and Gravatar server: `GET /avatar/{hash}` by the MD5 or SHA-256 of an
//! address, the member's choice to share it (off by default, a confirmed address only), the
//! sizes, the defaults Folio draws, the caching headers, and the rule that an address that is
//! not shared is answered exactly as one nobody uses.

use image::DynamicImage;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

// `#[path]` on a file module resolves from this file's directory (tests/api/); picture.rs
// loads it too.
#[allow(clippy::duplicate_mod)]
#[path = "../common/images.rs"]
mod images;

use images::*;

/// The address's hex MD5, as another site computes it: trimmed and lowercased first.
fn md5_of(address: &str) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(address.trim().to_lowercase().as_bytes()))
}

fn sha256_of(address: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(
        address.trim().to_lowercase().as_bytes(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything a client sees of an answer but its `Date`: the status, every other header (in
/// order of name), the body.
#[derive(PartialEq, Eq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The body by its length and digest: a failure names what differs in a line or two.
impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use sha2::Digest;
        let digest = hex(&sha2::Sha256::digest(&self.body));
        write!(
            f,
            "{} {:?} body {} bytes sha256 {}",
            self.status,
            self.headers,
            self.body.len(),
            &digest[..16]
        )
    }
}

async fn seen(app: &TestApp, path: &str) -> Seen {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    headers.sort();
    let body = response.bytes().await.expect("body").to_vec();
    Seen {
        status,
        headers,
        body,
    }
}

/// The queries the no-leak rule is checked with: every kind of default, and sizes.
const QUERIES: [&str; 9] = [
    "",
    "?s=40",
    "?d=mp&s=512",
    "?d=identicon",
    "?default=retro&size=64",
    "?d=blank",
    "?d=404",
    "?d=https%3A%2F%2Fexample.org%2Fdefault.png",
    "?d=identicon&f=y",
];

/// What each of `QUERIES` answers for the address, by MD5 and by SHA-256.
async fn answers_for(app: &TestApp, address: &str) -> Vec<Seen> {
    let mut all = Vec::new();
    for hash in [md5_of(address), sha256_of(address)] {
        for query in QUERIES {
            all.push(seen(app, &format!("/avatar/{hash}{query}")).await);
        }
    }
    all
}

/// A 600×600 picture of four colours, uploaded by the logged-in member as a PNG (lossless, so
/// only Folio's own JPEG steps blur it).
async fn upload_quadrants(app: &TestApp, colours: Quadrants) {
    let png = png(&DynamicImage::ImageRgb8(quadrants(600, 600, colours)));
    let response = app.upload_picture(png, "four.png", "image/png").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "uploaded");
}

/// The address confirmed, as its link does (through the same function).
fn confirm(app: &TestApp, name: &str) {
    use diesel::prelude::*;
    use folio::db::schema::users::dsl::*;
    let mut conn = app.db().conn().expect("conn");
    let user_id: i64 = users
        .filter(username.eq(name))
        .select(id)
        .first(&mut conn)
        .expect("the member");
    folio::db::users::mark_confirmed(&mut conn, user_id).expect("confirmed");
}

/// Ticks or clears the public profile form's checkbox (the other fields left empty).
async fn share(app: &TestApp, on: bool) {
    let mut fields = vec![("display_name", ""), ("bio", ""), ("website", "")];
    if on {
        fields.push(("share_by_email", "on"));
    }
    let response = app.submit("/account", "/account/profile", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "saved");
}

/// A member `name` with a confirmed `address`, a four-colour picture, sharing it.
async fn sharing_member(app: &TestApp, name: &str, address: &str) {
    let registered = app.register(name, address, PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::SEE_OTHER);
    confirm(app, name);
    upload_quadrants(app, UPRIGHT).await;
    share(app, true).await;
}

async fn jpeg_of(response: Response, side: u32) -> DecodedJpeg {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "content-type"), "image/jpeg");
    let decoded = decode_output(&response.bytes().await.expect("body"));
    assert_eq!((decoded.width, decoded.height), (side, side));
    decoded
}

/// The mean colour near the centre of each quadrant (a tenth of the side around it).
fn quadrant_colours(picture: &DecodedJpeg) -> Quadrants {
    let side = picture.width;
    let r = (side / 10).max(1);
    let at = |cx: u32, cy: u32| picture.average(cx - r, cy - r, cx + r, cy + r);
    [
        [at(side / 4, side / 4), at(3 * side / 4, side / 4)],
        [at(side / 4, 3 * side / 4), at(3 * side / 4, 3 * side / 4)],
    ]
}

fn assert_colours(picture: &DecodedJpeg, expected: Quadrants, what: &str) {
    let actual = quadrant_colours(picture);
    assert!(
        (0..2).all(|r| (0..2).all(|c| near(actual[r][c], expected[r][c], TOLERANCE))),
        "{what}: quadrants {actual:?}, expected {expected:?}"
    );
}

// ----- Sharing and not sharing -----

#[tokio::test]
async fn an_address_not_shared_is_answered_exactly_as_one_nobody_uses() {
    let app = spawn_app().await;
    let address = "zoe@example.com";
    // Before anyone uses the address.
    let unknown = answers_for(&app, address).await;
    assert_eq!(unknown[0].status, 200);

    // A member with that address, confirmed, with a picture: off by default.
    app.register("zoe", address, PASSWORD).await;
    confirm(&app, "zoe");
    upload_quadrants(&app, UPRIGHT).await;
    let account = app.get_html("/account").await;
    assert!(account.contains(r#"name="share_by_email" type="checkbox" value="on" aria"#));
    assert_eq!(answers_for(&app, address).await, unknown, "never opted in");

    // Shared: the picture.
    share(&app, true).await;
    let account = app.get_html("/account").await;
    assert!(
        account.contains(r#"value="on" checked"#),
        "the box is ticked"
    );
    let picture = jpeg_of(app.get(&format!("/avatar/{}", md5_of(address))).await, 80).await;
    assert_colours(&picture, UPRIGHT, "shared");

    // Opted out again, then suspended while sharing: as before anyone used it.
    share(&app, false).await;
    assert_eq!(answers_for(&app, address).await, unknown, "opted out");
    share(&app, true).await;
    app.execute_sql("UPDATE users SET suspended_at = 1 WHERE username = 'zoe'");
    assert_eq!(answers_for(&app, address).await, unknown, "suspended");
    app.execute_sql("UPDATE users SET suspended_at = NULL WHERE username = 'zoe'");
    jpeg_of(app.get(&format!("/avatar/{}", md5_of(address))).await, 80).await;

    // A member who shares but has no picture: the default, as for nobody.
    let remove = app.submit("/account", "/account/picture/delete", &[]).await;
    assert_eq!(remove.status(), StatusCode::SEE_OTHER);
    assert_eq!(answers_for(&app, address).await, unknown, "no picture");
}

#[tokio::test]
async fn an_address_is_shared_only_once_confirmed_and_moves_with_a_new_address() {
    let (app, mail) = spawn_app_with_mail().await;
    let (first, second) = ("ivy@example.com", "ivy.new@example.org");
    let unknown_first = answers_for(&app, first).await;
    let unknown_second = answers_for(&app, second).await;

    app.register("ivy", first, PASSWORD).await;
    upload_quadrants(&app, UPRIGHT).await;
    share(&app, true).await;
    let account = app.get_html("/account").await;
    assert!(
        account.contains("Yours is not confirmed yet: sharing starts once it is."),
        "the page says it waits for the address: {account}"
    );
    assert_eq!(answers_for(&app, first).await, unknown_first, "unconfirmed");

    // The link mailed at registration confirms it: now shared.
    let welcome = mail.wait_for(first, 1).await.remove(0);
    let link = welcome.link(&app.public_url("/email/confirm/"));
    let path = link
        .strip_prefix(&app.public_url(""))
        .expect("a link to the site");
    assert_eq!(app.get(path).await.status(), StatusCode::SEE_OTHER);
    let account = app.get_html("/account").await;
    assert!(!account.contains("sharing starts once it is"));
    jpeg_of(app.get(&format!("/avatar/{}", sha256_of(first))).await, 80).await;

    // A new address: the old one stays shared until the new one is confirmed, then only the
    // new one is.
    let asked = app
        .submit(
            "/account",
            "/account",
            &[("username", "ivy"), ("email", second)],
        )
        .await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    jpeg_of(app.get(&format!("/avatar/{}", md5_of(first))).await, 80).await;
    assert_eq!(answers_for(&app, second).await, unknown_second, "not yet");
    let confirm = mail.wait_for(second, 1).await.remove(0);
    let link = confirm.link(&app.public_url("/email/confirm/"));
    let path = link
        .strip_prefix(&app.public_url(""))
        .expect("a link to the site");
    assert_eq!(app.get(path).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        answers_for(&app, first).await,
        unknown_first,
        "the old address"
    );
    let picture = jpeg_of(app.get(&format!("/avatar/{}", md5_of(second))).await, 80).await;
    assert_colours(&picture, UPRIGHT, "the new address");
}

#[tokio::test]
async fn the_api_reads_and_sets_the_choice() {
    let app = spawn_app().await;
    app.sign_up("ada").await;
    let token = app.make_token("write").await;
    let patch = |body: Value| {
        app.client
            .patch(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let me: Value = patch(json!({"share_by_email": true}))
        .await
        .expect("PATCH")
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["share_by_email"], true);
    let refused = patch(json!({"share_by_email": "yes"}))
        .await
        .expect("PATCH");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let me: Value = patch(json!({"bio": "Engines."}))
        .await
        .expect("PATCH")
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["share_by_email"], true, "not named: kept");
    let doc: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("the document");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ProfileChange"]["properties"]["share_by_email"]["type"],
        json!(["boolean", "null"])
    );
    assert_eq!(
        schemas["Account"]["properties"]["share_by_email"]["type"],
        "boolean"
    );
}

// ----- The member's picture -----

#[tokio::test]
async fn a_shared_picture_is_served_at_every_size_by_either_hash() {
    let app = spawn_app().await;
    // Typed with capitals: the hashes are of the lowercased address.
    sharing_member(&app, "amy", "Amy.Pond@Example.com").await;
    let md5 = md5_of("  amy.pond@example.COM ");
    let sha = sha256_of("amy.pond@example.com");

    let response = app.get(&format!("/avatar/{md5}")).await;
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "cache-control"), "public, max-age=300");
    assert_eq!(header(&headers, "access-control-allow-origin"), "*");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    let etag = header(&headers, "etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let picture = jpeg_of(response, 80).await;
    assert_colours(&picture, UPRIGHT, "s=80");

    for (query, side) in [
        ("?s=1", 1),
        ("?s=512", 512),
        ("?size=150", 150),
        ("?s=0", 80),
        ("?s=600", 80),
        ("?s=abc", 80),
    ] {
        let picture = jpeg_of(app.get(&format!("/avatar/{md5}{query}")).await, side).await;
        if side >= 40 {
            assert_colours(&picture, UPRIGHT, query);
        }
    }
    let by_md5 = seen(&app, &format!("/avatar/{md5}?s=100")).await;
    let by_sha = seen(&app, &format!("/avatar/{sha}?s=100")).await;
    let upper = seen(&app, &format!("/avatar/{}?s=100", sha.to_uppercase())).await;
    assert_eq!(by_md5, by_sha, "one picture, one tag, by either hash");
    assert_eq!(by_sha, upper, "capitals are the same hash");
    let one = jpeg_of(app.get(&format!("/avatar/{md5}?s=1")).await, 1).await;
    let mean = one.pixel(0, 0);
    assert_near(
        mean,
        [128, 128, 64],
        50,
        "one pixel: the four colours' mean",
    );

    // Asked again with its tag: 304, no body.
    let again = app
        .client
        .get(app.url(&format!("/avatar/{md5}")))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(again.headers(), "etag"), etag);
    assert!(again.bytes().await.expect("body").is_empty());
    // Another size has another tag.
    let other = app
        .client
        .get(app.url(&format!("/avatar/{md5}?s=81")))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(other.status(), StatusCode::OK);

    // f=y: the default even for a member, the same as for nobody (the silhouette is the same
    // for every address).
    let forced = seen(&app, &format!("/avatar/{md5}?f=y")).await;
    let nobody = seen(&app, &format!("/avatar/{}", md5_of("nobody@example.com"))).await;
    assert_eq!(forced.body, nobody.body);
    assert_ne!(forced.body, by_md5.body);
}

#[tokio::test]
async fn a_replaced_picture_is_served_at_once_under_a_new_tag() {
    let app = spawn_app().await;
    sharing_member(&app, "rory", "rory@example.com").await;
    let path = format!("/avatar/{}?s=64", md5_of("rory@example.com"));
    let before = app.get(&path).await;
    let tag = header(before.headers(), "etag");
    assert_colours(&jpeg_of(before, 64).await, UPRIGHT, "before");

    let swapped = [[YELLOW, BLUE], [GREEN, RED]];
    upload_quadrants(&app, swapped).await;
    let after = app.get(&path).await;
    assert_ne!(header(after.headers(), "etag"), tag);
    assert_colours(&jpeg_of(after, 64).await, swapped, "after");
}

// ----- Defaults -----

#[tokio::test]
async fn each_default_is_drawn_at_the_size_asked() {
    let app = spawn_app().await;
    let (a, b) = (md5_of("a@example.com"), md5_of("b@example.com"));

    // No `d`: a grey silhouette on light grey, the same as `d=mp`.
    let plain = seen(&app, &format!("/avatar/{a}")).await;
    assert_eq!(plain, seen(&app, &format!("/avatar/{a}?d=mp")).await);
    let silhouette = decode_output(&plain.body);
    assert_eq!((silhouette.width, silhouette.height), (80, 80));
    assert_near(silhouette.pixel(4, 4), [217, 217, 217], 6, "background");
    assert_near(silhouette.pixel(40, 31), [158, 158, 158], 6, "head");
    assert_near(silhouette.pixel(40, 78), [158, 158, 158], 6, "shoulders");
    // Anything Folio does not draw, and any address that is not http(s), is the silhouette.
    for other in [
        "d=monsterid",
        "d=javascript%3Aalert(1)",
        "d=%2Fx.png",
        "d=ftp%3A%2F%2Fe.org%2Fx",
    ] {
        assert_eq!(
            seen(&app, &format!("/avatar/{a}?{other}")).await.body,
            plain.body,
            "{other}"
        );
    }
    // A path that is not a hash at all: nobody's, so the default.
    let not_a_hash = seen(&app, "/avatar/not-a-hash?s=20").await;
    assert_eq!(not_a_hash.status, 200);
    assert_eq!(decode_output(&not_a_hash.body).width, 20);

    // Identicons: mirrored left to right, one per hash, the same each time.
    let identicon = |hash: String, side: u32| {
        let app = &app;
        async move {
            let response = app
                .get(&format!("/avatar/{hash}?d=identicon&s={side}"))
                .await;
            jpeg_of(response, side).await
        }
    };
    let (ia, ib) = (
        identicon(a.clone(), 120).await,
        identicon(b.clone(), 120).await,
    );
    for picture in [&ia, &ib] {
        for y in (0..120).step_by(7) {
            for x in (0..60).step_by(5) {
                assert_near(
                    picture.pixel(x, y),
                    picture.pixel(119 - x, y),
                    40,
                    "mirrored",
                );
            }
        }
    }
    assert_ne!(ia.pixels, ib.pixels, "two hashes, two identicons");
    assert_eq!(identicon(a.clone(), 120).await.pixels, ia.pixels);
    assert_near(ia.pixel(2, 2), [240, 240, 240], 8, "a margin of light grey");
    assert_eq!(identicon(a.clone(), 512).await.width, 512);
    assert_eq!(identicon(a.clone(), 1).await.width, 1);

    // Retro: another drawing from the same hash.
    let retro = jpeg_of(app.get(&format!("/avatar/{a}?d=retro&s=120")).await, 120).await;
    assert_ne!(retro.pixels, ia.pixels);
    for y in (0..120).step_by(7) {
        for x in (0..60).step_by(5) {
            assert_near(retro.pixel(x, y), retro.pixel(119 - x, y), 40, "mirrored");
        }
    }

    // Blank: a transparent PNG of the size.
    let blank = app.get(&format!("/avatar/{a}?d=blank&s=33")).await;
    assert_eq!(blank.status(), StatusCode::OK);
    assert_eq!(header(blank.headers(), "content-type"), "image/png");
    let blank = image::load_from_memory(&blank.bytes().await.expect("body"))
        .expect("a PNG")
        .into_rgba8();
    assert_eq!(blank.dimensions(), (33, 33));
    assert!(blank.pixels().all(|p| p.0[3] == 0), "transparent");

    // 404, and a redirect to the site's own default.
    let missing = app.get(&format!("/avatar/{a}?d=404")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.bytes().await.expect("body").len() < 100,
        "a tiny body"
    );
    let elsewhere = app
        .get(&format!(
            "/avatar/{a}?default=https%3A%2F%2Fexample.org%2Fme.png%3Fs%3D80"
        ))
        .await;
    assert_eq!(elsewhere.status(), StatusCode::FOUND);
    assert_eq!(location(&elsewhere), "https://example.org/me.png?s=80");
    assert_eq!(
        header(elsewhere.headers(), "cache-control"),
        "public, max-age=300"
    );

    // A default's tag answers 304 too.
    let tag = plain
        .headers
        .iter()
        .find(|(name, _)| name == "etag")
        .map(|(_, value)| value.clone())
        .expect("a tag");
    let again = app
        .client
        .get(app.url(&format!("/avatar/{a}")))
        .header("if-none-match", tag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}
