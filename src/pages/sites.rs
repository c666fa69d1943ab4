//! `GET /sites`: the sites the user's grant covers, with what threelo can show for each.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::atlassian::Site;
use crate::config::Settings;
use crate::error::AppError;
use crate::on_behalf::OnBehalf;
use crate::pages::{Chrome, html};

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage<'a> {
    base: &'a str,
    chrome: Chrome,
    sites: Vec<Site>,
}

#[get("/sites")]
pub async fn sites(user: OnBehalf, settings: web::Data<Settings>) -> Result<HttpResponse, AppError> {
    let base = settings.public_url.prefix();
    let sites = user.sites().await?;
    html(SitesPage { base, chrome: Chrome::new(base, user.signed_in(), None), sites })
}
