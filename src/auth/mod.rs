//! Signing in and out: `/auth/login`, `/auth/callback`, `/auth/logout`.

pub mod callback;
mod reconsent;
mod return_to;

use actix_session::Session;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;

use crate::query::single_param;
pub use reconsent::consent;
pub use return_to::ReturnTo;

use crate::atlassian::Atlassian;
use crate::error::AppError;
use crate::random::random_token;
use crate::session::{CsrfForm, MaybeSignedIn, Sessions};
use crate::urls::Urls;

/// `GET /auth/login[?return_to=/path]`: starts a sign-in and sends the browser to Atlassian.
#[get("/auth/login")]
pub async fn login(
    req: HttpRequest,
    visitor: MaybeSignedIn,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
    atlassian: web::Data<Atlassian>,
) -> Result<HttpResponse, AppError> {
    let prefix = urls.prefix();
    // A return_to that is not one of our own paths falls back to the start page, silently:
    // the person still gets signed in, an attacker gets nothing.
    let return_to = single_param(req.query_string(), "return_to")
        .ok()
        .flatten()
        .and_then(|raw| ReturnTo::parse(&raw, prefix))
        .unwrap_or_else(|| ReturnTo::home(prefix));
    if visitor.0.is_some() {
        return Ok(urls.see_other(return_to.as_str()));
    }
    let state = random_token(32);
    let in_progress = sessions.begin_sign_in(&req, &state, return_to.as_str());
    let url = atlassian.oauth().authorize_url(&state);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(in_progress)
        .finish())
}

/// The sign-out form: only its CSRF token.
#[derive(Deserialize)]
pub struct SignOutForm {}

/// `POST /auth/logout`: deletes the token record and the session, and clears the cookie. Someone
/// already signed out is simply sent to the start page.
#[post("/auth/logout")]
pub async fn logout(
    posted: Result<CsrfForm<SignOutForm>, AppError>,
    session: Session,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    match posted {
        Ok(posted) => sessions.sign_out(posted.signed_in).await?,
        Err(AppError::SignInRequired(_)) => sessions.discard(&session),
        Err(refused) => return Err(refused),
    }
    Ok(urls.see_other(&urls.home()))
}
