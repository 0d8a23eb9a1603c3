//! The JSON API, `/api/v1/`, for programs: the second door to the operations in
//! [`crate::ops`], beside the HTML forms. Handlers translate a request into one call and its
//! result into JSON or a [problem document](problem::Problem); the OpenAPI document is built
//! from the same handlers and types (`utoipa`), so it cannot drift from them.

pub mod auth;
mod docs;
mod me;
pub mod problem;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_actix_web::AppExt;

use crate::avatar::{PictureName, PictureUrls, SIZE};
use crate::db::members::Member;
use crate::db::users::User;
use crate::links::Site;
use crate::links::profile_path;

pub use problem::Problem;

/// The largest JSON body an operation reads.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Every operation of `/api/v1`, for the server and for the document alike.
fn operations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(me::show)
        .service(me::update)
        .service(me::replace_picture)
        .service(me::remove_picture)
        .service(users::list)
        .service(users::show)
        .service(docs::openapi_json);
}

/// Mounts `/api/v1`: the operations, and a problem for anything else under it. (Other paths
/// under `/api/` are answered by the site, whose errors there are problems too, see
/// [`crate::error::error_pages`]; `/api/docs` is a page of the site.)
pub fn mount(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .app_data(web::PayloadConfig::new(MAX_JSON_BYTES))
            .configure(|cfg| {
                operations(&mut utoipa_actix_web::service_config::ServiceConfig::new(
                    cfg,
                ))
            })
            .default_service(web::to(fallback)),
    );
}

pub use docs::page as docs_page;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Folio API",
        description = "Profiles and profile pictures, for programs. Authenticate with a personal \
            access token made on your account page, sent as `Authorization: Bearer <token>`; \
            a `read` token reads your account, a `write` token also changes it. Errors are \
            RFC 9457 problem documents.",
    ),
    modifiers(&BearerScheme),
    components(schemas(Problem))
)]
struct Base;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some(
            "A personal access token: `folio_` and 38 letters and digits. Never in the URL.".into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The OpenAPI document, built once at start from the handlers mounted by [`mount`].
pub struct Document {
    pub json: String,
    /// (path template, methods) of every operation, for 405's `Allow`.
    paths: Vec<(String, Vec<&'static str>)>,
    /// The document as `/api/docs` shows it.
    reference: docs::Reference,
}

impl Document {
    pub fn build(public_url: &str) -> anyhow::Result<Self> {
        let (_, mut openapi) = actix_web::App::new()
            .into_utoipa_app()
            .openapi(Base::openapi())
            .service(utoipa_actix_web::scope("/api/v1").configure(operations))
            .split_for_parts();
        openapi.info.version = env!("CARGO_PKG_VERSION").to_owned();
        openapi.info.license = None;
        openapi.servers = Some(vec![utoipa::openapi::Server::new(public_url)]);
        let paths = openapi
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    (item.get.is_some(), "GET"),
                    (item.get.is_some(), "HEAD"),
                    (item.patch.is_some(), "PATCH"),
                    (item.post.is_some(), "POST"),
                    (item.put.is_some(), "PUT"),
                    (item.delete.is_some(), "DELETE"),
                ]
                .into_iter()
                .filter_map(|(has, m)| has.then_some(m))
                .collect();
                (path.clone(), methods)
            })
            .collect();
        let value = serde_json::to_value(&openapi)?;
        Ok(Self {
            json: serde_json::to_string_pretty(&value)?,
            paths,
            reference: docs::Reference::from_document(&value),
        })
    }

    /// The methods of the operation whose path template `path` matches.
    fn methods_at(&self, path: &str) -> Option<&[&'static str]> {
        self.paths
            .iter()
            .find(|(template, _)| template_matches(template, path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// `/api/v1/users/{username}` matches `/api/v1/users/ada`: segment by segment, a `{…}`
/// matching any one non-empty segment.
fn template_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(want), Some(got)) => {
                let any = want.starts_with('{') && want.ends_with('}') && !got.is_empty();
                if !any && want != got {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Anything under `/api` that no operation took: 405 with `Allow` for a known path, else 404.
async fn fallback(req: HttpRequest, doc: web::Data<Document>) -> Result<HttpResponse, Problem> {
    Err(match doc.methods_at(req.path()) {
        Some(methods) => Problem::for_status(StatusCode::METHOD_NOT_ALLOWED)
            .with_header(header::ALLOW, methods.join(", ")),
        None => Problem::for_status(StatusCode::NOT_FOUND),
    })
}

/// The problem for an error a client cannot fix (see [`crate::error::server_error`]).
pub fn unexpected(e: anyhow::Error) -> Problem {
    match crate::error::server_error(&e) {
        StatusCode::SERVICE_UNAVAILABLE => Problem::for_status(StatusCode::SERVICE_UNAVAILABLE)
            .retry_after(crate::error::RETRY_AFTER_SECS),
        status => Problem::for_status(status),
    }
}

/// A stored picture: always the 300×300 JPEG.
#[derive(Debug, Serialize, ToSchema)]
pub struct Picture {
    /// Absolute address of the JPEG.
    #[schema(
        example = "https://folio.example/media/profile_pics/3f2c1e4a-8d8e-4b7a-9f0e-2b6c1d5e7a90.jpg"
    )]
    pub url: String,
    #[schema(example = 300)]
    pub width: u32,
    #[schema(example = 300)]
    pub height: u32,
}

/// A member as anyone may see them (never the email).
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    #[schema(example = "ada")]
    pub username: String,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    #[schema(format = DateTime, example = "2026-12-04T20:54:56Z")]
    pub created_at: String,
    /// `null`: the default picture.
    pub picture: Option<Picture>,
    /// Absolute address of the profile page.
    pub profile_url: String,
}

/// The token owner's own account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    #[schema(example = "ada")]
    pub username: String,
    #[schema(format = Email, example = "ada@example.org")]
    pub email: String,
    pub email_confirmed: bool,
    /// Whether other sites may show your picture by your email address (`GET
    /// /avatar/{hash}`); in force only while `email_confirmed`.
    pub share_by_email: bool,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    #[schema(format = DateTime, example = "2026-12-04T20:54:56Z")]
    pub created_at: String,
    /// `null`: the default picture.
    pub picture: Option<Picture>,
    pub profile_url: String,
}

/// Turns stored rows into documents with absolute links.
pub struct Links {
    pub site: Site,
    pub urls: PictureUrls,
}

impl Links {
    fn picture(&self, stored: Option<&str>) -> Option<Picture> {
        let name = PictureName::parse(stored?)?;
        Some(Picture {
            url: self.site.absolute(&self.urls.of(&name)),
            width: SIZE,
            height: SIZE,
        })
    }

    pub fn account(&self, user: User) -> Account {
        Account {
            picture: self.picture(user.picture.as_deref()),
            profile_url: self.site.absolute(&profile_path(&user.username)),
            created_at: rfc3339(user.created_at),
            username: user.username,
            email: user.email,
            email_confirmed: user.email_confirmed,
            share_by_email: user.share_by_email,
            display_name: user.display_name,
            bio: user.bio,
            website: user.website,
        }
    }

    pub fn profile(&self, user: User) -> Profile {
        self.public(Member {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            picture: user.picture,
            picture_renditions: user.picture_renditions,
            bio: user.bio,
            website: user.website,
            created_at: user.created_at,
        })
    }

    /// What anyone may see of a member: the directory's rows and a profile alike.
    pub fn public(&self, member: Member) -> Profile {
        Profile {
            picture: self.picture(member.picture.as_deref()),
            profile_url: self.site.absolute(&profile_path(&member.username)),
            created_at: rfc3339(member.created_at),
            username: member.username,
            display_name: member.display_name,
            bio: member.bio,
            website: member.website,
        }
    }
}

/// Unix seconds as RFC 3339 in UTC: `2026-12-04T20:54:56Z`.
fn rfc3339(secs: i64) -> String {
    use actix_web::cookie::time::OffsetDateTime;
    let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// 200 with a JSON document.
fn json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_417_696), "2026-12-04T20:54:56Z");
    }

    #[test]
    fn templates_match_whole_segments() {
        let t = "/api/v1/users/{username}";
        assert!(template_matches(t, "/api/v1/users/ada"));
        assert!(!template_matches(t, "/api/v1/users/"));
        assert!(!template_matches(t, "/api/v1/users/ada/more"));
        assert!(!template_matches(t, "/api/v1/user/ada"));
        assert!(template_matches("/api/v1/me", "/api/v1/me"));
    }

    #[test]
    fn the_document_lists_every_operation_with_its_problems() {
        let doc = Document::build("http://localhost:8080").expect("the document");
        let json: serde_json::Value = serde_json::from_str(&doc.json).expect("json");
        assert_eq!(json["openapi"], "3.1.0");
        for (path, method) in [
            ("/api/v1/me", "get"),
            ("/api/v1/me", "patch"),
            ("/api/v1/me/picture", "patch"),
            ("/api/v1/me/picture", "delete"),
            ("/api/v1/users", "get"),
            ("/api/v1/users/{username}", "get"),
            ("/api/v1/openapi.json", "get"),
        ] {
            let op = &json["paths"][path][method];
            assert!(op.is_object(), "{method} {path} missing");
            assert!(
                op["responses"]["200"].is_object(),
                "{method} {path}: no 200"
            );
        }
        assert_eq!(
            json["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(
            doc.methods_at("/api/v1/me/picture"),
            Some(&["PATCH", "DELETE"][..])
        );
    }
}
