//! Static assets, compiled into the binary so it runs from any directory. The stylesheet is served
//! under a name carrying a hash of its content, so browsers may keep it for a year: a new release
//! changes the name.

use std::sync::LazyLock;

use actix_web::{HttpResponse, get, web};
use sha2::{Digest, Sha256};

use crate::error::AppError;

const APP_CSS: &str = include_str!("../../static/app.css");

/// `app.<first 12 hex digits of the SHA-256>.css`.
static STYLESHEET_NAME: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(APP_CSS.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("app.{hex}.css")
});

/// The stylesheet's fingerprinted file name, for templates.
pub fn stylesheet_name() -> &'static str {
    &STYLESHEET_NAME
}

#[get("/static/{name}")]
pub async fn stylesheet(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let cache = if name.as_str() == stylesheet_name() {
        "public, max-age=31536000, immutable"
    } else if name.as_str() == "app.css" {
        // The unversioned name still works (bookmarks, old pages), but is not kept long.
        "public, max-age=300"
    } else {
        return Err(AppError::NotFound);
    };
    Ok(HttpResponse::Ok().content_type("text/css; charset=utf-8").insert_header(("Cache-Control", cache)).body(APP_CSS))
}
