//! Security headers on every response: pages, error pages and static files alike.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::config::Settings;

/// No inline script anywhere; styles and scripts from our own origin; images from us and
/// Atlassian's avatar hosts; forms post only to us; nobody may frame us.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https://*.atlassian.com \
https://*.atl-paas.net https://secure.gravatar.com; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Middleware: adds the headers (a handler's own value of the same header is kept).
pub async fn add_security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let https = req.app_data::<web::Data<Settings>>().is_some_and(|s| s.public_url.is_https());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    // The callback URL carries a code: never leak it (or any of our URLs) in a Referer.
    set(header::REFERRER_POLICY, "no-referrer");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    Ok(res)
}
