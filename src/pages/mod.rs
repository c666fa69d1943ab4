//! Server-rendered pages. One page struct per template, next to its handler.

pub mod access_keys;
pub mod account;
pub mod confluence;
pub mod error_page;
mod grant;
pub mod home;
pub mod issue;
pub mod issue_actions;
mod issue_row;
pub mod jira;
pub mod search;
pub mod sites;
mod static_files;

use actix_web::HttpResponse;
use askama::Template;

pub use static_files::{favicon_ico, stylesheet};

use crate::atlassian::Site;
use crate::error::AppError;
use crate::session::{SessionData, User};

/// What every signed-in page's header needs: who, the sign-out form's token, the site switcher.
pub struct Chrome {
    pub user: User,
    pub csrf: String,
    pub sites: Vec<Site>,
    /// The cloudId of the site the page is about, if any.
    pub current_site: Option<String>,
    /// What the header's search box shows (the search page's own text).
    pub query: String,
}

impl Chrome {
    pub fn new(signed_in: SessionData, current_site: Option<&str>) -> Chrome {
        Chrome {
            user: signed_in.user,
            csrf: signed_in.csrf,
            sites: signed_in.sites,
            current_site: current_site.map(str::to_owned),
            query: String::new(),
        }
    }
}

/// Renders a page. Every page may show personal data, so none may be stored by a browser or cache.
pub fn html(page: impl Template) -> Result<HttpResponse, AppError> {
    html_status(actix_web::http::StatusCode::OK, page)
}

/// [`html`] with another status (a page that explains a failure and keeps what was typed).
pub fn html_status(status: actix_web::http::StatusCode, page: impl Template) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(|err| AppError::Internal(err.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// `2026-11-23 11:08 UTC` from Unix seconds.
pub fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
