//! Signing in and out: `/auth/login`, `/auth/callback`, `/auth/logout`.

pub mod callback;
mod csrf;
mod current;
mod return_to;

use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

pub use csrf::{check_origin, check_token};
pub use current::{Current, MaybeSignedIn, SignedInUser, end_session, session_info, token_error};
pub use return_to::ReturnTo;

use crate::atlassian::Atlassian;
use crate::config::Settings;
use crate::error::AppError;
use crate::session::{AppSession, random_token};
use crate::session_index::SessionIndex;
use crate::tokens::TokenStore;

/// The value of query parameter `name`, if it appears exactly once.
pub fn single_param(query: &str, name: &str) -> Result<Option<String>, AppError> {
    let mut found = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == name {
            if found.is_some() {
                return Err(AppError::BadRequest("a parameter appears twice"));
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

/// A 303 to one of our own paths, on the public URL (never a host taken from the request).
pub fn redirect_to(settings: &Settings, path: &str) -> HttpResponse {
    let location = format!("{}{}", settings.public_url.origin(), path);
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

/// `GET /auth/login[?return_to=/path]`: starts a sign-in and sends the browser to Atlassian.
#[get("/auth/login")]
pub async fn login(
    req: HttpRequest,
    user: MaybeSignedIn,
    session: Session,
    settings: web::Data<Settings>,
    atlassian: web::Data<Atlassian>,
) -> Result<HttpResponse, AppError> {
    let prefix = settings.public_url.prefix();
    // A return_to that is not one of our own paths falls back to the start page, silently:
    // the person still gets signed in, an attacker gets nothing.
    let return_to = single_param(req.query_string(), "return_to")
        .ok()
        .flatten()
        .and_then(|raw| ReturnTo::parse(&raw, prefix))
        .unwrap_or_else(|| ReturnTo::home(prefix));
    if user.0.is_some() {
        return Ok(redirect_to(&settings, return_to.as_str()));
    }
    let state = random_token(32);
    AppSession(&session).begin_sign_in(&state, return_to.as_str())?;
    let url = atlassian.oauth().authorize_url(&state);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /auth/logout`: deletes the token record and the session, and clears the cookie.
#[post("/auth/logout")]
pub async fn logout(
    req: HttpRequest,
    body: web::Bytes,
    user: MaybeSignedIn,
    session: Session,
    settings: web::Data<Settings>,
    tokens: web::Data<TokenStore>,
    index: web::Data<SessionIndex>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req, &settings)?;
    if let Some(current) = user.0 {
        let signed_in = current.signed_in;
        check_token(&body, &signed_in.csrf)?;
        end_session(&tokens, &index, &signed_in.user.account_id, signed_in.token_record).await?;
        tracing::info!(account = %signed_in.user.account_id, "signed out");
    }
    AppSession(&session).sign_out();
    Ok(redirect_to(&settings, &settings.public_url.path("/")))
}
