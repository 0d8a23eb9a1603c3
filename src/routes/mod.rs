//! Handlers only: extract, call, respond. One file per area.

mod account;
mod auth;
mod avatar;
mod directory;
mod email;
mod health;
mod home;
mod libravatar;
mod mail_requests;
mod media;
mod moderation;
mod passkeys;
mod password;
mod picture;
mod profile;
mod security;
mod tokens;

use actix_web::web;

use crate::error::AppError;

pub use crate::links::Site;
pub use crate::multipart::{UploadConfig, human_bytes};

/// Routes that use sessions; `/static`, `/media`, `/avatars`, `/avatar` and `/healthz` are served
/// outside them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/register", web::get().to(auth::register_form))
        .route("/register", web::post().to(auth::register))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/login/two-factor", web::get().to(auth::two_factor_form))
        .route("/login/two-factor", web::post().to(auth::two_factor))
        .route(
            "/login/passkey/options",
            web::post().to(passkeys::login_options),
        )
        .route("/login/passkey", web::post().to(passkeys::login))
        .route("/account/security", web::get().to(security::show))
        .route("/account/totp/start", web::post().to(security::start))
        .route("/account/totp/confirm", web::post().to(security::confirm))
        .route("/account/totp/disable", web::post().to(security::disable))
        .route(
            "/account/recovery-codes",
            web::post().to(security::new_codes),
        )
        .route(
            "/account/passkeys/options",
            web::post().to(passkeys::add_options),
        )
        .route("/account/passkeys", web::post().to(passkeys::add))
        .route(
            "/account/passkeys/{id}/delete",
            web::post().to(passkeys::remove),
        )
        .route(
            "/account/sessions/delete-others",
            web::post().to(security::end_others),
        )
        .route(
            "/account/sessions/{handle}/delete",
            web::post().to(security::end_session),
        )
        .route("/password/forgot", web::get().to(password::forgot_form))
        .route("/password/forgot", web::post().to(password::forgot))
        .route(
            "/password/reset/{token}",
            web::get().to(password::reset_form),
        )
        .route("/password/reset/{token}", web::post().to(password::reset))
        .route("/email/confirm/{token}", web::get().to(email::confirm))
        .route("/account/email/confirm", web::post().to(email::resend))
        .route("/account", web::get().to(account::show))
        .route("/account", web::post().to(account::update_profile))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/account/delete", web::post().to(account::delete_account))
        .route("/account/picture", web::post().to(picture::upload))
        .route("/account/picture/delete", web::post().to(picture::remove))
        .route("/account/profile", web::post().to(account::update_about))
        .route("/account/tokens", web::post().to(tokens::create))
        .route(
            "/account/tokens/{id}/delete",
            web::post().to(tokens::revoke),
        )
        .route("/users", web::get().to(directory::list))
        .route("/users/{username}", web::get().to(profile::show))
        .route("/users/{username}/report", web::post().to(profile::report))
        .route("/moderation", web::get().to(moderation::queue))
        .route("/moderation/log", web::get().to(moderation::log))
        .route(
            "/moderation/users/{username}",
            web::get().to(moderation::member),
        )
        .route(
            "/moderation/users/{username}/action",
            web::post().to(moderation::act),
        );
}

pub(crate) use avatar::hsl_to_rgb;
pub use avatar::initials_avatar;
pub use health::healthz;
pub use libravatar::avatar as libravatar_avatar;
pub use media::serve_picture;

pub async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// A new password as typed twice, or the message for each field at fault: the password's own
/// rule first, then the two must match.
pub fn new_password(
    password: String,
    confirm: &str,
) -> Result<crate::domain::Password, (Option<String>, Option<String>)> {
    match crate::domain::Password::parse(password) {
        Err(e) => Err((Some(e.to_string()), None)),
        Ok(p) if p.expose() != confirm => {
            Err((None, Some("The two passwords do not match.".into())))
        }
        Ok(p) => Ok(p),
    }
}
