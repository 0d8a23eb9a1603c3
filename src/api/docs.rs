//! `GET /api/v1/openapi.json` (the document) and `GET /api/docs` (the same document as a page
//! for people, drawn by Folio itself: no script, style or font from anywhere else).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde_json::Value;

use super::Document;
use crate::auth::{MaybeUser, TypedSession};
use crate::error::AppError;
use crate::templates::{Layout, render};

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    operation_id = "get_openapi",
    tag = "Reference",
    responses((status = 200, description = "The OpenAPI 3.1 document of every operation.", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(doc.json.clone())
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage<'a> {
    layout: Layout,
    reference: &'a Reference,
}

pub async fn page(
    viewer: MaybeUser,
    session: TypedSession,
    doc: web::Data<Document>,
) -> Result<HttpResponse, AppError> {
    let page = DocsPage {
        layout: Layout::new(viewer.0.as_ref(), &session, false)?,
        reference: &doc.reference,
    };
    render(StatusCode::OK, &page)
}

/// The document as the page shows it, worked out once at start.
pub struct Reference {
    pub title: String,
    pub version: String,
    pub description: Prose,
    pub operations: Vec<Operation>,
    pub schemas: Vec<Schema>,
}

pub struct Operation {
    pub method: String,
    pub path: String,
    pub anchor: String,
    pub summary: String,
    pub description: Prose,
    /// "none", "a read token" or "a write token".
    pub token: &'static str,
    pub parameters: Vec<Parameter>,
    /// (content type, what it holds)
    pub body: Option<(String, Shape)>,
    pub responses: Vec<Response>,
}

pub struct Parameter {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub shape: Shape,
    pub description: Prose,
}

pub struct Response {
    pub status: String,
    pub description: Prose,
    pub shape: Option<Shape>,
    pub headers: Vec<String>,
}

pub struct Schema {
    pub name: String,
    pub description: Prose,
    pub fields: Vec<Field>,
}

pub struct Field {
    pub name: String,
    pub required: bool,
    pub shape: Shape,
    pub description: Prose,
}

/// A description as the page shows it: paragraphs (blank lines apart in the doc comment;
/// single line breaks are only where the source wrapped) of text and `code` spans.
pub struct Prose(pub Vec<Vec<Span>>);

pub struct Span {
    pub text: String,
    pub code: bool,
}

impl Prose {
    fn of(value: &Value) -> Self {
        let text = value.as_str().unwrap_or_default();
        Self(
            text.split("\n\n")
                .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|paragraph| !paragraph.is_empty())
                .map(|paragraph| {
                    // Backticks alternate: text, code, text, …
                    paragraph
                        .split('`')
                        .enumerate()
                        .filter(|(_, part)| !part.is_empty())
                        .map(|(i, part)| Span {
                            text: part.to_owned(),
                            code: i % 2 == 1,
                        })
                        .collect()
                })
                .collect(),
        )
    }
}

/// A type as words, and the schema it names for a link, if any.
pub struct Shape {
    pub text: String,
    pub link: Option<String>,
}

impl Reference {
    pub fn from_document(doc: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                operations.push(operation(path, method, op));
            }
        }
        let schemas = doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, schema)| Schema {
                name: name.clone(),
                description: Prose::of(&schema["description"]),
                fields: fields(schema),
            })
            .collect();
        Self {
            title: text(&doc["info"]["title"]),
            version: text(&doc["info"]["version"]),
            description: Prose::of(&doc["info"]["description"]),
            operations,
            schemas,
        }
    }
}

fn operation(path: &str, method: &str, op: &Value) -> Operation {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let writes = op["responses"].get("403").is_some();
    let token = match (secured, writes) {
        (false, _) => "none",
        (true, false) => "a read token",
        (true, true) => "a write token",
    };
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| Parameter {
            name: text(&p["name"]),
            location: text(&p["in"]),
            required: p["required"].as_bool().unwrap_or(false),
            shape: shape(&p["schema"]),
            description: Prose::of(&p["description"]),
        })
        .collect();
    let body = op["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.iter().next())
        .map(|(ct, media)| (ct.clone(), shape(&media["schema"])));
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| Response {
            status: status.clone(),
            description: Prose::of(&r["description"]),
            shape: r["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|m| shape(&m["schema"])),
            headers: r["headers"]
                .as_object()
                .map(|h| h.keys().cloned().collect())
                .unwrap_or_default(),
        })
        .collect();
    Operation {
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        anchor: format!("{method}-{}", anchor_of(path)),
        summary: text(&op["summary"]),
        description: Prose::of(&op["description"]),
        token,
        parameters,
        body,
        responses,
    }
}

fn anchor_of(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

fn fields(schema: &Value) -> Vec<Field> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| Field {
            name: name.clone(),
            required: required.contains(&name.as_str()),
            shape: shape(s),
            description: Prose::of(&s["description"]),
        })
        .collect()
}

/// `string (uri) or null`, `array of Profile`, `Account`…
fn shape(schema: &Value) -> Shape {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference).to_owned();
        return Shape {
            link: Some(format!("schema-{name}")),
            text: name,
        };
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let shapes: Vec<Shape> = options.iter().map(shape).collect();
        let link = shapes.iter().find_map(|s| s.link.clone());
        let text = shapes
            .into_iter()
            .map(|s| s.text)
            .collect::<Vec<_>>()
            .join(" or ");
        return Shape { text, link };
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec!["any".to_owned()],
    };
    let mut words = Vec::new();
    let mut link = None;
    for t in types {
        let word = match t.as_str() {
            "array" => {
                let items = shape(&schema["items"]);
                link = items.link;
                format!("array of {}", items.text)
            }
            "string" => match schema["format"].as_str() {
                Some(format) => format!("string ({format})"),
                None => "string".to_owned(),
            },
            _ => t,
        };
        words.push(word);
    }
    let mut text = words.join(" or ");
    let limits = [
        ("maxLength", "at most {} characters"),
        ("minimum", "from {}"),
        ("maximum", "to {}"),
    ];
    for (key, words) in limits {
        if let Some(n) = schema[key].as_u64() {
            text.push_str(&format!(", {}", words.replace("{}", &n.to_string())));
        }
    }
    Shape { text, link }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_keeps_paragraphs_and_code_and_drops_the_source_wrapping() {
        let prose = Prose::of(&Value::from("Send `a`\nand b.\n\nThen `c`."));
        let words: Vec<Vec<(&str, bool)>> = prose
            .0
            .iter()
            .map(|p| p.iter().map(|s| (s.text.as_str(), s.code)).collect())
            .collect();
        assert_eq!(
            words,
            [
                vec![("Send ", false), ("a", true), (" and b.", false)],
                vec![("Then ", false), ("c", true), (".", false)],
            ]
        );
    }

    #[test]
    fn the_page_shows_every_operation_and_schema_of_the_document() {
        let doc = Document::build("http://localhost:8080").expect("the document");
        let json: Value = serde_json::from_str(&doc.json).expect("json");
        let reference = Reference::from_document(&json);
        let listed: Vec<String> = reference
            .operations
            .iter()
            .map(|o| format!("{} {}", o.method, o.path))
            .collect();
        for wanted in [
            "GET /api/v1/me",
            "PATCH /api/v1/me",
            "PATCH /api/v1/me/picture",
            "DELETE /api/v1/me/picture",
            "GET /api/v1/users",
            "GET /api/v1/users/{username}",
        ] {
            assert!(
                listed.contains(&wanted.to_owned()),
                "{wanted} in {listed:?}"
            );
        }
        let patch = reference
            .operations
            .iter()
            .find(|o| o.method == "PATCH" && o.path == "/api/v1/me")
            .expect("PATCH /me");
        assert_eq!(patch.token, "a write token");
        let show = reference
            .operations
            .iter()
            .find(|o| o.method == "GET" && o.path == "/api/v1/me")
            .expect("GET /me");
        assert_eq!(show.token, "a read token");
        let account = reference
            .schemas
            .iter()
            .find(|s| s.name == "Account")
            .expect("Account");
        let picture = account
            .fields
            .iter()
            .find(|f| f.name == "picture")
            .expect("picture");
        assert_eq!(picture.shape.link.as_deref(), Some("schema-Picture"));
    }
}
