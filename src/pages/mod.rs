//! Server-rendered pages. One page struct per template, next to its handler.

pub mod account;
pub mod home;
mod static_files;

use actix_web::HttpResponse;
use askama::Template;

pub use static_files::stylesheet;

use crate::error::AppError;

/// Renders a page. Every page may show personal data, so none may be stored by a browser or cache.
pub fn html(page: impl Template) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(|err| AppError::Internal(err.into()))?;
    Ok(HttpResponse::Ok()
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
