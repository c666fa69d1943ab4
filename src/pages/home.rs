//! `GET /`: the landing page when signed out, the dashboard when signed in.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::atlassian::Site;
use crate::auth::MaybeSignedIn;
use crate::config::Settings;
use crate::error::AppError;
use crate::pages::html;
use crate::session::User;

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
pub async fn home(user: MaybeSignedIn, settings: web::Data<Settings>) -> Result<HttpResponse, AppError> {
    let base = settings.public_url.prefix();
    match user.0 {
        None => html(Landing { base }),
        Some(current) => {
            let signed_in = current.signed_in;
            html(Dashboard {
                base,
                user: signed_in.user,
                csrf: signed_in.csrf,
                sites: signed_in.sites,
            })
        }
    }
}
