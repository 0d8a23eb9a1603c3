//! The account page and its forms: profile, password, deletion (access tokens: `tokens.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::{CsrfForm, CurrentUser, Passwords, PrivateCookies, TypedSession};
use crate::avatar::Avatars;
use crate::db::users::User;
use crate::db::{Db, DbError, access_tokens, users};
use crate::domain::{Email, Username, same_mailbox};
use crate::error::{AppError, see_other};
use crate::ops::{
    self,
    profile::{AboutInput, ProfileError},
};
use crate::templates::{
    AboutFields, AccountErrors, AccountPage, Layout, Typed, profile_path, render,
};

use super::auth::{begin_attempt, forgive, too_many};
use super::{UploadConfig, mail_requests, new_password, tokens};
use crate::mail::{DetailsChange, Outbox, links};
use crate::proxy;

/// The account page with the user's current values and `errors` beside their fields.
pub async fn account_page(
    user: &CurrentUser,
    session: &TypedSession,
    upload: &UploadConfig,
    db: &Db,
    status: StatusCode,
    typed: Typed,
    errors: AccountErrors,
) -> Result<HttpResponse, AppError> {
    let page = account_view(user, session, upload, db, typed, errors, None).await?;
    render(status, &page)
}

/// The page itself; `new_token` is an access token made just before, shown this once.
async fn account_view(
    user: &CurrentUser,
    session: &TypedSession,
    upload: &UploadConfig,
    db: &Db,
    typed: Typed,
    errors: AccountErrors,
    new_token: Option<String>,
) -> Result<AccountPage, AppError> {
    let id = user.id;
    let (token_rows, two_factor) = db
        .run(move |conn| {
            Ok::<_, AppError>((
                access_tokens::list(conn, id)?,
                crate::db::two_factor::state(conn, id)?.is_some_and(|s| s.totp_secret.is_some()),
            ))
        })
        .await?;
    let (username, email) = typed
        .details
        .unwrap_or_else(|| (user.username.clone(), user.email.clone()));
    let about = typed.about.unwrap_or_else(|| AboutFields {
        display_name: user.display_name.clone().unwrap_or_default(),
        bio: user.bio.clone().unwrap_or_default(),
        website: user.website.clone().unwrap_or_default(),
        share_by_email: user.share_by_email,
    });
    Ok(AccountPage {
        layout: Layout::new(Some(user), session, true)?,
        profile_href: profile_path(&user.username),
        about,
        avatar: user.avatar.clone(),
        has_picture: user.picture.is_some(),
        username,
        email,
        email_confirmed: user.email_confirmed,
        pending_email: user.pending_email.clone(),
        max_upload: super::human_bytes(upload.max_bytes),
        max_bytes: upload.max_bytes,
        tokens: tokens::card(
            token_rows,
            typed.token,
            new_token,
            crate::db::now(),
            two_factor,
        ),
        errors,
    })
}

/// The account page; just after an access token was made, with that token, this once.
pub async fn show(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    db: web::Data<Db>,
    upload: web::Data<UploadConfig>,
    cookies: web::Data<PrivateCookies>,
) -> Result<HttpResponse, AppError> {
    let (new_token, removal) = tokens::take_new_token(&req, &cookies, user.id);
    let page = account_view(
        &user,
        &session,
        &upload,
        &db,
        Typed::default(),
        AccountErrors::default(),
        new_token,
    )
    .await?;
    let mut response = render(StatusCode::OK, &page)?;
    if let Some(removal) = removal {
        response
            .add_cookie(&removal)
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    }
    Ok(response)
}

/// Any other field a form sends (e.g. `image_file`) is ignored.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
}

// One extractor per thing the handler touches; bundling them would only hide that.
#[allow(clippy::too_many_arguments)]
pub async fn update_profile(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<ProfileForm>,
    db: web::Data<Db>,
    outbox: web::Data<Outbox>,
    upload: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    let typed = Typed {
        details: Some((
            form.username.trim().to_owned(),
            form.email.trim().to_owned(),
        )),
        about: None,
        token: None,
    };
    let again =
        |status, errors| account_page(&user, &session, &upload, &db, status, typed.clone(), errors);

    let mut errors = AccountErrors::default();
    let username = Username::parse(&form.username)
        .map_err(|e| errors.username = Some(e.to_string()))
        .ok();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.email = Some(e.to_string()))
        .ok();
    let (Some(username), Some(email)) = (username, email) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, errors).await;
    };

    let id = user.id;
    let (name, mail) = (username.clone(), email.clone());
    let (name_taken, email_taken) = db
        .run(move |conn| Ok::<_, AppError>(users::taken(conn, &name, &mail, Some(id))?))
        .await?;
    let conflict = |name_taken: bool, email_taken: bool| AccountErrors {
        username: name_taken.then(|| "That username is already taken.".into()),
        email: email_taken.then(|| "An account with that email already exists.".into()),
        ..AccountErrors::default()
    };
    if name_taken || email_taken {
        return again(StatusCode::CONFLICT, conflict(name_taken, email_taken)).await;
    }
    // A new address takes effect only through the link mailed to it; a change of case is
    // the same mailbox, and is saved as it is.
    let new_address = !same_mailbox(email.as_ref(), &user.email);
    if new_address
        && let Some(wait) = mail_requests::count_request(&req, &db, email.as_ref()).await?
    {
        let errors = AccountErrors {
            email: Some(mail_requests::too_many(wait)),
            ..AccountErrors::default()
        };
        return again(StatusCode::TOO_MANY_REQUESTS, errors).await;
    }
    let account = user.user.clone();
    let wanted = email.clone();
    let saved = db
        .run(move |conn| {
            let change = if new_address {
                DetailsChange::NewAddress(&wanted)
            } else {
                DetailsChange::SameAddress(&wanted)
            };
            links::change_details(conn, &account, &username, &change)
        })
        .await;
    match saved {
        Ok(()) => {}
        Err(DbError::UsernameTaken) => {
            return again(StatusCode::CONFLICT, conflict(true, false)).await;
        }
        Err(DbError::EmailTaken) => {
            return again(StatusCode::CONFLICT, conflict(false, true)).await;
        }
        Err(DbError::Unexpected(e)) => return Err(e.into()),
    }
    if new_address {
        outbox.wake();
        session.flash(&format!(
            "Saved. To use {}, open the link just mailed there within an hour; until then \
             your address stays {}.",
            email.as_ref(),
            user.email
        ))?;
    } else {
        session.flash("Profile updated")?;
    }
    Ok(see_other("/account"))
}

#[derive(Deserialize)]
pub struct AboutForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    website: String,
    /// A checkbox: sent (as `on`) when ticked, absent when not.
    #[serde(default)]
    share_by_email: Option<String>,
}

/// The "Public profile" form: display name, bio, website, and whether other sites may show
/// the picture by the address; an empty field clears its value.
pub async fn update_about(
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<AboutForm>,
    ctx: web::Data<ops::Context>,
    upload: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    let share_by_email = form.share_by_email.is_some();
    let input = AboutInput {
        display_name: Some(form.display_name.clone()),
        bio: Some(form.bio.clone()),
        website: Some(form.website.clone()),
        share_by_email: Some(share_by_email),
    };
    match ops::profile::update_about(&ctx, user.id, input).await {
        Ok(_) => {
            session.flash("Public profile updated")?;
            Ok(see_other("/account"))
        }
        Err(ProfileError::Invalid(invalid)) => {
            let errors = AccountErrors {
                display_name: invalid.get("display_name").map(str::to_owned),
                bio: invalid.get("bio").map(str::to_owned),
                website: invalid.get("website").map(str::to_owned),
                ..AccountErrors::default()
            };
            let typed = Typed {
                details: None,
                about: Some(AboutFields {
                    display_name: form.display_name,
                    bio: form.bio,
                    website: form.website,
                    share_by_email,
                }),
                token: None,
            };
            account_page(
                &user,
                &session,
                &upload,
                &ctx.db,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
                errors,
            )
            .await
        }
        Err(ProfileError::Unexpected(e)) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// Checks the password of the logged-in user, counting failures like logins do, so a
/// borrowed session cannot be used to guess it. `Err(message)` is shown beside the field.
pub(super) async fn confirm_password(
    req: &HttpRequest,
    user: &User,
    password: String,
    db: &Db,
    passwords: &Passwords,
) -> Result<Result<(), (StatusCode, String)>, AppError> {
    let account = format!("user:{}", user.id);
    let client = proxy::client_of(req).address();
    let attempt = match begin_attempt(db, &account, &client).await? {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(Err((StatusCode::TOO_MANY_REQUESTS, too_many(wait)))),
    };
    let id = user.id;
    let hash = db
        .run(move |conn| Ok::<_, AppError>(users::credentials(conn, id)?))
        .await?
        .map(|c| c.password_hash);
    if password.is_empty() || !passwords.verify(hash, SecretString::from(password)).await? {
        return Ok(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not your current password.".into(),
        )));
    }
    forgive(db, attempt).await?;
    Ok(Ok(()))
}

// One extractor per thing the handler touches; bundling them would only hide that.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<PasswordForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    upload: web::Data<UploadConfig>,
    outbox: web::Data<Outbox>,
) -> Result<HttpResponse, AppError> {
    let again = |status, errors| {
        account_page(
            &user,
            &session,
            &upload,
            &db,
            status,
            Typed::default(),
            errors,
        )
    };

    let new = match new_password(form.password, &form.password_confirm) {
        Ok(new) => new,
        Err((password, password_confirm)) => {
            let errors = AccountErrors {
                password,
                password_confirm,
                ..AccountErrors::default()
            };
            return again(StatusCode::UNPROCESSABLE_ENTITY, errors).await;
        }
    };
    if let Err((status, message)) =
        confirm_password(&req, &user, form.current_password, &db, &passwords).await?
    {
        let errors = AccountErrors {
            current_password: Some(message),
            ..AccountErrors::default()
        };
        return again(status, errors).await;
    }

    let hash = passwords.hash(new.into_secret()).await?;
    let id = user.id;
    let epoch = db
        .run(move |conn| Ok::<_, AppError>(users::change_password(conn, id, &hash)?))
        .await?;
    // Every session of the account is gone; this one continues under a fresh id.
    outbox.wake();
    session.log_in(id, epoch)?;
    session.flash("Password changed. You have been logged out everywhere else.")?;
    tracing::info!(user_id = id, "password changed");
    Ok(see_other("/account"))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
}

// One extractor per thing the handler touches; bundling them would only hide that.
#[allow(clippy::too_many_arguments)]
pub async fn delete_account(
    req: HttpRequest,
    user: CurrentUser,
    session: TypedSession,
    CsrfForm(form): CsrfForm<DeleteForm>,
    db: web::Data<Db>,
    passwords: web::Data<Passwords>,
    avatars: web::Data<Avatars>,
    upload: web::Data<UploadConfig>,
) -> Result<HttpResponse, AppError> {
    if let Err((status, message)) =
        confirm_password(&req, &user, form.password, &db, &passwords).await?
    {
        let errors = AccountErrors {
            delete_password: Some(message),
            ..AccountErrors::default()
        };
        return account_page(
            &user,
            &session,
            &upload,
            &db,
            status,
            Typed::default(),
            errors,
        )
        .await;
    }
    let id = user.id;
    let picture = db
        .run(move |conn| Ok::<_, AppError>(users::delete(conn, id)?))
        .await?;
    // The row is gone for good: now the file may go.
    if let Some(picture) = picture {
        avatars.remove_replaced(picture).await;
    }
    session.log_out();
    session.flash("Your account has been deleted.")?;
    tracing::info!(user_id = id, "account deleted");
    Ok(see_other("/"))
}
