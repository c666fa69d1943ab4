//! `GET /sites`: the sites the user's grant covers, with what threelo can show for each.

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::atlassian::Site;
use crate::error::AppError;
use crate::on_behalf::OnBehalf;
use crate::pages::{Chrome, html};
use crate::urls::Urls;

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    sites: Vec<Site>,
}

#[get("/sites")]
pub async fn sites(user: OnBehalf, urls: web::Data<Urls>) -> Result<HttpResponse, AppError> {
    let sites = user.sites().await?;
    html(SitesPage { urls: &urls, chrome: Chrome::for_user(&user, None), sites })
}
