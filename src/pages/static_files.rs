//! Static assets, compiled into the binary so it runs from any directory.

use actix_web::{HttpResponse, get};

const APP_CSS: &str = include_str!("../../static/app.css");

#[get("/static/app.css")]
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(APP_CSS)
}
