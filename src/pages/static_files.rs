//! `GET /static/{name}`: the stylesheet (see `assets`), cached for a year under its fingerprinted
//! name.

use actix_web::{HttpResponse, get, web};

use crate::assets::{APP_CSS, stylesheet_name};
use crate::error::AppError;

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
