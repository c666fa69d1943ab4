//! Logging: one line per request (method, route, status, latency, request id), never a query
//! string, cookie or token.
//!
//! Not tracing-actix-web: it mints a request id of its own (never a trusted proxy's), cannot echo
//! `X-Request-Id`, and its ready-made span logs the query (OAuth codes): this middleware would stay.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::client_addr::peer_is_trusted;
use crate::config::{Cidr, LogFormat, Settings};
use crate::metrics::{Method, Metrics, Route};

/// Installs the global subscriber. `RUST_LOG` overrides the default (`info`, without actix's
/// per-connection errors: see `server_limits::QUIET_CONNECTION_ERRORS`).
pub fn init(format: LogFormat) {
    let default = format!("info,{}", crate::server_limits::QUIET_CONNECTION_ERRORS);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // Ignoring the error: a subscriber is already installed (tests), and that one is kept.
    let _ = match format {
        // The request span once per line ("span"), not again as a list of one ("spans").
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The signed-in account of a request, left in its extensions for the request log line.
#[derive(Clone, Debug)]
pub struct AccountId(pub String);

/// A request id from a trusted proxy is kept if it looks like one (letters, digits, `-_.:`, at
/// most 128); anything else is replaced, so a log line never carries what a client made up.
fn incoming_request_id(req: &ServiceRequest, trusted: &[Cidr]) -> Option<String> {
    if !peer_is_trusted(req.request(), trusted) {
        return None;
    }
    let value = req.headers().get("x-request-id")?.to_str().ok()?;
    let fine =
        (1..=128).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    fine.then(|| value.to_owned())
}

/// Middleware: a span per request, one log line when it ends, the request metrics, and the
/// `X-Request-Id` echoed back.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let settings = req.app_data::<web::Data<Settings>>().cloned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let trusted = settings.as_ref().map(|s| s.trusted_proxies.as_slice()).unwrap_or_default();
    let request_id = incoming_request_id(&req, trusted).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // The route pattern, not the path: paths carry ids, and the query carries codes.
    // Both from fixed sets, like the metrics: a made-up method is `other`, not 8 KB of it.
    let route = Route::of(&req);
    let method = Method::from(req.method());
    let span = tracing::info_span!("request", %request_id, method = method.as_str(), route = route.as_str());
    let mut result = next.call(req).instrument(span.clone()).await;
    let (status, account) = match &mut result {
        Ok(res) => {
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
            }
            let account = res.request().extensions().get::<AccountId>().map(|a| a.0.clone());
            (res.status(), account)
        }
        Err(err) => (err.as_response_error().status_code(), None),
    };
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(metrics) = metrics {
        metrics.http_request(&route, method, status, elapsed);
    }
    let account = account.unwrap_or_default();
    span.in_scope(|| tracing::info!(status = status.as_u16(), latency_ms = elapsed * 1000.0, %account, "request"));
    result
}
