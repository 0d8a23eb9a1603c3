//! One askama struct per page, and the layout data every page shares.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use askama::Template;

use crate::auth::{CurrentUser, TypedSession};
use crate::avatar::{PictureUrls, Renditions};
use crate::db::members::Member;
use crate::domain::Website;
use crate::error::AppError;
pub use crate::links::{Avatar, avatar, avatar_url, percent_encode, profile_path};

/// Header, navigation and the one-time message.
pub struct Layout {
    pub user: Option<NavUser>,
    /// Empty for anonymous visitors on pages without forms, so they get no session.
    pub csrf_token: String,
    pub flash: Option<String>,
}

pub struct NavUser {
    pub username: String,
    pub avatar: Avatar,
    /// Shown the way to the moderation pages.
    pub moderator: bool,
}

impl Layout {
    /// `has_form`: the page shows a form, so it needs a token even for anonymous visitors.
    pub fn new(
        user: Option<&CurrentUser>,
        session: &TypedSession,
        has_form: bool,
    ) -> Result<Self, AppError> {
        let csrf_token = if user.is_some() || has_form {
            session.csrf_token()?
        } else {
            String::new()
        };
        Ok(Self {
            user: user.map(|u| NavUser {
                username: u.username.clone(),
                avatar: u.avatar.clone(),
                moderator: u.moderator,
            }),
            csrf_token,
            flash: session.take_flash(),
        })
    }

    fn plain() -> Self {
        Self {
            user: None,
            csrf_token: String::new(),
            flash: None,
        }
    }
}

/// An HTML response with `status`. Pages carry per-user content, so caches must not keep them.
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    let body = page
        .render()
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(body))
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
    /// The newest few members.
    pub members: Vec<MemberCard>,
}

/// A member as the directory and the home page show them.
pub struct MemberCard {
    pub username: String,
    /// The display name, or the username when there is none.
    pub name: String,
    pub href: String,
    pub avatar: Avatar,
}

impl MemberCard {
    pub fn new(urls: &PictureUrls, member: Member) -> Self {
        Self {
            href: profile_path(&member.username),
            avatar: avatar(
                urls,
                &member.username,
                member.picture.as_deref(),
                Renditions::from_db(member.picture_renditions),
            ),
            name: member
                .display_name
                .unwrap_or_else(|| member.username.clone()),
            username: member.username,
        }
    }
}

#[derive(Template)]
#[template(path = "directory.html")]
pub struct DirectoryPage {
    pub layout: Layout,
    pub members: Vec<MemberCard>,
    /// The search as typed; empty for everyone.
    pub query: String,
    /// The next page's address, when there are older members.
    pub next: Option<String>,
    /// The first page's address, when this page starts further down.
    pub newest: Option<String>,
}

/// The members of one page without the page around them, for the "Load more" button.
#[derive(Template)]
#[template(path = "directory_fragment.html")]
pub struct DirectoryFragment {
    pub members: Vec<MemberCard>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub layout: Layout,
    pub username: String,
    pub email: String,
    pub errors: RegisterErrors,
}

#[derive(Default)]
pub struct RegisterErrors {
    /// Too many accounts from this address: shown above the form.
    pub throttled: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub password_confirm: Option<String>,
}

impl RegisterErrors {
    pub fn any(&self) -> bool {
        self.throttled.is_some()
            || self.username.is_some()
            || self.email.is_some()
            || self.password.is_some()
            || self.password_confirm.is_some()
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub username: String,
    pub next: String,
    pub error: Option<String>,
    /// Why the page offers no passkeys (the site is reached by an IP address).
    pub passkeys_off: Option<String>,
}

/// The login's second step: the code.
#[derive(Template)]
#[template(path = "login_two_factor.html")]
pub struct TwoFactorPage {
    pub layout: Layout,
    pub username: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub profile_href: String,
    pub about: AboutFields,
    pub avatar: Avatar,
    pub has_picture: bool,
    pub username: String,
    pub email: String,
    /// Whether the account's address has been confirmed through its link.
    pub email_confirmed: bool,
    /// An address waiting for its confirmation link to be used.
    pub pending_email: Option<String>,
    /// The limit as written on the page ("5 MiB") and in bytes, for the script's check.
    pub max_upload: String,
    pub max_bytes: usize,
    pub tokens: TokensCard,
    pub errors: AccountErrors,
}

/// The "Access tokens" card: the token just made (shown once), the form to make one with its
/// values, and the account's tokens.
pub struct TokensCard {
    pub new_token: Option<String>,
    pub name: String,
    /// `read` or `write` as chosen (anything else checks neither).
    pub scope: String,
    pub expiry_options: Vec<SelectOption>,
    pub items: Vec<TokenItem>,
    /// Two-factor sign-in is on: making a token asks for a code too.
    pub ask_code: bool,
}

pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One token as the card lists it.
pub struct TokenItem {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub created: DateText,
    /// `None`: never expires.
    pub expires: Option<DateText>,
    pub expired: bool,
    /// `None`: never used.
    pub last_used: Option<DateText>,
}

/// A moment as a page writes it ("4 December 2026"), and its `<time datetime>`.
pub struct DateText {
    pub text: String,
    pub iso: String,
}

impl DateText {
    /// From Unix seconds, in UTC.
    pub fn of(secs: i64) -> Self {
        use actix_web::cookie::time::OffsetDateTime;
        let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self {
            text: format!("{} {} {}", t.day(), t.month(), t.year()),
            iso: format!(
                "{}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
        }
    }
}

/// The "Public profile" form's fields, as stored or as typed.
#[derive(Debug, Clone, Default)]
pub struct AboutFields {
    pub display_name: String,
    pub bio: String,
    pub website: String,
    pub share_by_email: bool,
}

/// What a person typed into the account page's forms, shown again with their errors; `None`
/// shows the stored values.
#[derive(Debug, Clone, Default)]
pub struct Typed {
    /// Username and email.
    pub details: Option<(String, String)>,
    pub about: Option<AboutFields>,
    pub token: Option<TokenFields>,
}

/// The "Access tokens" form's fields as typed.
#[derive(Debug, Clone, Default)]
pub struct TokenFields {
    pub name: String,
    pub scope: String,
    pub expires_days: String,
}

/// Each form on the account page keeps its own messages.
#[derive(Default)]
pub struct AccountErrors {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub website: Option<String>,
    pub picture: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// Beside the address's confirmation (a link that could not be sent again yet).
    pub confirm: Option<String>,
    pub current_password: Option<String>,
    pub password: Option<String>,
    pub password_confirm: Option<String>,
    pub delete_password: Option<String>,
    pub token_name: Option<String>,
    pub token_scope: Option<String>,
    pub token_expires: Option<String>,
    pub token_code: Option<String>,
    /// About the token form as a whole (the account has as many tokens as it may).
    pub tokens: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub layout: Layout,
    pub username: String,
    /// The display name, or the username when there is none.
    pub name: String,
    pub bio: Option<String>,
    pub website: Option<Website>,
    /// "November 2026", and its `<time datetime>`.
    pub since: String,
    pub since_iso: String,
    pub avatar: Avatar,
    pub is_own: bool,
    /// Absolute addresses and a summary, for link previews.
    pub page_url: String,
    pub image_url: String,
    pub description: String,
    /// The report form, for a logged-in visitor on someone else's profile.
    pub report: Option<ReportForm>,
}

/// The report form on a profile, as sent back when it needs correcting.
pub struct ReportForm {
    pub action: String,
    /// Shown unfolded (it is being corrected).
    pub open: bool,
    pub reasons: Vec<(&'static str, &'static str)>,
    pub reason: String,
    pub comment: String,
    pub error: Option<String>,
    /// Which field the error is about, for `aria-invalid`.
    pub reason_error: bool,
    pub comment_error: bool,
}

impl ReportForm {
    pub fn new(username: &str) -> Self {
        Self {
            action: format!("{}/report", profile_path(username)),
            open: false,
            reasons: crate::domain::ReportReason::ALL
                .iter()
                .map(|r| (r.as_str(), r.label()))
                .collect(),
            reason: String::new(),
            comment: String::new(),
            error: None,
            reason_error: false,
            comment_error: false,
        }
    }
}

/// A page that answers a form with words of its own: a refusal that names its reason (a
/// suspension, a report already sent), with a way on.
#[derive(Template)]
#[template(path = "notice.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub title: String,
    pub paragraphs: Vec<String>,
    /// Someone's own words, quoted as they wrote them (a moderator's reason).
    pub quote: Option<String>,
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: &'static str,
    pub message: &'static str,
    pub request_id: Option<String>,
}

impl ErrorPage {
    pub fn for_status(status: StatusCode, request_id: Option<String>) -> Self {
        let (title, message) = match status.as_u16() {
            400 => (
                "Bad request",
                "The request could not be understood. Go back and try again.",
            ),
            403 => (
                "Form expired",
                "This form has expired or was sent from another site. Go back, reload the page and try again.",
            ),
            404 => (
                "Page not found",
                "There is nothing at this address. Check it, or start from the home page.",
            ),
            405 => (
                "Not allowed",
                "This address does not take that kind of request.",
            ),
            410 => (
                "Account suspended",
                "This account is suspended by the site's moderators, so its profile is not shown.",
            ),
            408 => (
                "Too slow",
                "The upload took too long and was stopped. Try again on a faster connection.",
            ),
            413 => (
                "Too large",
                "What was sent is larger than this site accepts.",
            ),
            415 => ("Unsupported type", "This site cannot read what was sent."),
            429 => (
                "Too many attempts",
                "Too many attempts in a short time. Wait a few minutes and try again.",
            ),
            503 => (
                "Unavailable",
                "The site cannot serve this right now. Try again in a moment.",
            ),
            s if s >= 500 => (
                "Something went wrong",
                "Sorry, something went wrong on our side. Try again in a moment; if it keeps happening, quote the request id below.",
            ),
            _ => ("Error", "This request could not be completed."),
        };
        Self {
            layout: Layout::plain(),
            status: status.as_u16(),
            title,
            message,
            request_id: request_id.filter(|_| status.is_server_error()),
        }
    }

    /// Never fails: a template error falls back to plain text.
    pub fn render_html(&self) -> String {
        self.render()
            .unwrap_or_else(|_| format!("{} {}", self.status, self.title))
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub layout: Layout,
    pub email: String,
    pub error: Option<String>,
    pub throttled: Option<String>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub layout: Layout,
    /// The form posts back to the link's own address.
    pub action: String,
    /// Whose password this is (shown, and given to password managers).
    pub username: String,
    pub errors: RegisterErrors,
}

/// A mailed link that did not work, and what to do instead.
#[derive(Template)]
#[template(path = "link.html")]
pub struct LinkPage {
    pub layout: Layout,
    pub title: &'static str,
    pub message: &'static str,
    pub href: &'static str,
    pub label: &'static str,
}
