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
use crate::on_behalf::OnBehalf;
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
    /// The site whose quota Atlassian said is nearly spent, by name, when an answer to this
    /// page said so: a notice, not an error.
    pub quota_notice: Option<String>,
}

impl Chrome {
    pub fn new(signed_in: SessionData, current_site: Option<&str>) -> Chrome {
        Chrome {
            user: signed_in.user,
            csrf: signed_in.csrf,
            sites: signed_in.sites,
            current_site: current_site.map(str::to_owned),
            query: String::new(),
            quota_notice: None,
        }
    }

    /// The header of a page built from Atlassian's answers to `user`: as [`Chrome::new`], with
    /// the notice when one of those answers said the app's quota is nearly spent.
    pub fn for_user(user: &OnBehalf, current_site: Option<&str>) -> Chrome {
        let mut chrome = Chrome::new(user.session_data(), current_site);
        chrome.note_quota(user);
        chrome
    }

    /// Takes up the notice from the answers `user` received so far (for a header built early).
    pub fn note_quota(&mut self, user: &OnBehalf) {
        self.quota_notice = user.quota_nearly_spent().map(|cloud_id| {
            let site = self.sites.iter().find(|s| s.id == cloud_id);
            site.map_or_else(|| "your Atlassian sites".to_owned(), |s| s.name.clone())
        });
    }
}

/// Renders a page. Every page may show personal data, so none may be stored by a browser or cache.
pub fn html(page: impl Template) -> Result<HttpResponse, AppError> {
    html_status(actix_web::http::StatusCode::OK, page)
}

/// [`html`] with another status (a page that explains a failure and keeps what was typed).
pub fn html_status(status: actix_web::http::StatusCode, page: impl Template) -> Result<HttpResponse, AppError> {
    // Room for a list page at once (an issue list is about 26 KB): no copying as it grows.
    let mut body = String::with_capacity(PAGE_CAPACITY);
    page.render_into(&mut body).map_err(|err| AppError::Internal(err.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// What a page's output buffer starts with.
const PAGE_CAPACITY: usize = 32 * 1024;

/// `2026-11-23 11:08 UTC` from Unix seconds.
pub fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
