//! `GET /`: the landing page when signed out, the dashboard when signed in.

use actix_session::Session;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::atlassian::Site;
use crate::config::Settings;
use crate::error::AppError;
use crate::session::{AppSession, User};

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    base: &'a str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    base: &'a str,
    user: User,
    csrf: String,
    sites: Vec<Site>,
}

#[get("/")]
pub async fn home(
    session: Session,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let base = settings.public_url.prefix();
    let page = match AppSession(&session).signed_in(&settings.session)? {
        None => Landing { base }.render(),
        Some(signed_in) => Dashboard {
            base,
            user: signed_in.user,
            csrf: signed_in.csrf,
            sites: signed_in.sites,
        }
        .render(),
    };
    let html = page.map_err(|err| AppError::Internal(err.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // Signed-in pages must not be kept by the browser or any cache.
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}
