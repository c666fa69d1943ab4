//! `GET /static/{name}`: the stylesheet (see `assets`), cached for a year under its fingerprinted
//! name, and the icon; `GET /favicon.ico` answers the icon too, for browsers that ask for it.
//!
//! No compression here, on purpose: static files are small and the stylesheet is cached for a
//! year; pages must never be compressed, since they carry the CSRF token next to text the
//! request reflects (a search, a typed comment), which gzip would leak (BREACH). A proxy that
//! compresses may do so for `/static/` only (see docs/self-hosting.md).

use actix_web::{HttpResponse, get, web};

use crate::assets::{APP_CSS, FAVICON_SVG, stylesheet_name};
use crate::error::AppError;

#[get("/static/{name}")]
pub async fn stylesheet(name: web::Path<String>) -> Result<HttpResponse, AppError> {
    if name.as_str() == "favicon.svg" {
        return Ok(icon());
    }
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

/// `/favicon.ico`: browsers ask every origin for it; the SVG icon answers.
#[get("/favicon.ico")]
pub async fn favicon_ico() -> HttpResponse {
    icon()
}

fn icon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(FAVICON_SVG)
}
