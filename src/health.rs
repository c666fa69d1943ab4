//! `/healthz` (the process is up) and `/readyz` (it can serve: its store answers).

use actix_web::{HttpResponse, get, web};

use crate::store::Kv;

#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ok\n")
}

#[get("/readyz")]
pub async fn readyz(kv: web::Data<Kv>) -> HttpResponse {
    match kv.ping().await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready\n"),
        Err(err) => {
            tracing::warn!(error = %err, "not ready");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("not ready: the session store does not answer\n")
        }
    }
}
