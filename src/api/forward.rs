//! One call through the proxy to Atlassian, and its answer passed back faithfully.
//!
//! What goes up: the method, the checked path rebuilt from its segments, the query as sent, the
//! body (already bounded), the caller's Atlassian token, and only `Accept`, `Accept-Language`,
//! `Content-Type` and `X-Atlassian-Token` from the caller's headers (never its `Cookie` or
//! `Authorization`). What comes back: the status, the body streamed chunk by chunk (never
//! buffered), and an allow-list of headers; `Set-Cookie` and hop-by-hop headers never pass.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::path::{ApiPath, ApiProduct};
use crate::atlassian::{ApiError, Atlassian};
use crate::metrics::Product;

/// Caller headers that go upstream.
const FORWARDED_UP: [&str; 4] = ["accept", "accept-language", "content-type", "x-atlassian-token"];

/// Upstream headers that come back (besides every `x-ratelimit-*`). `Link` carries Confluence's
/// cursor; the rest describe the body. Everything else (Set-Cookie, hop-by-hop headers,
/// Atlassian's internal trace headers) is dropped.
const FORWARDED_DOWN: [&str; 8] = [
    "content-type",
    "retry-after",
    "ratelimit-reason",
    "link",
    "content-language",
    "content-disposition",
    "etag",
    "last-modified",
];

/// What a proxied answer may do in a browser: nothing. An upstream HTML or SVG body (an
/// attachment, say) must not run script on our origin.
const SANDBOX_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// The most of a 401's body read to tell "scope does not match" from an expired token.
const MAX_401_BODY: usize = 64 * 1024;

/// A request ready to go up (it may be sent twice when it has no body: after a refresh).
pub struct Outgoing {
    pub method: reqwest::Method,
    pub url: Url,
    pub headers: reqwest::header::HeaderMap,
    pub body: web::Bytes,
    pub product: Product,
}

impl Outgoing {
    /// The call `req` asks for, to `path` below `api_url`, with `body`.
    pub fn new(req: &HttpRequest, api_url: &Url, path: &ApiPath, body: web::Bytes) -> Option<Outgoing> {
        let mut url = api_url.clone();
        url.path_segments_mut().ok()?.pop_if_empty().extend(&path.segments);
        let query = req.query_string();
        if !query.is_empty() {
            url.set_query(Some(query));
        }
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).ok()?;
        let mut headers = reqwest::header::HeaderMap::new();
        for name in FORWARDED_UP {
            for value in req.headers().get_all(name) {
                if let Ok(value) = reqwest::header::HeaderValue::from_bytes(value.as_bytes()) {
                    headers.append(reqwest::header::HeaderName::from_static(name), value);
                }
            }
        }
        let product = match path.product {
            ApiProduct::Jira => Product::Jira,
            ApiProduct::Confluence => Product::Confluence,
            ApiProduct::Identity => Product::Identity,
        };
        Some(Outgoing { method, url, headers, body, product })
    }

    /// Whether a refused token may be refreshed and the call sent again: only when nothing but
    /// the headers went up (no body, a method that changes nothing).
    fn may_resend(&self) -> bool {
        self.body.is_empty() && matches!(self.method, reqwest::Method::GET | reqwest::Method::HEAD)
    }

    /// Sends the call once with `token`. A plain 401 on a call that may be sent again is
    /// `Err(Unauthorized)` (refresh and resend); every other answer is passed back.
    pub async fn send(&self, atlassian: &Atlassian, token: &SecretString) -> Result<Answer, ApiError> {
        // The seam for Atlassian's shared 429 memory: once it exists, a call for a user and site
        // that Atlassian asked to wait is answered 429 here, before anything is sent.
        let mut request = atlassian
            .http()
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .bearer_auth(token.expose_secret());
        if !self.body.is_empty() {
            request = request.body(self.body.clone());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                atlassian.metrics().upstream(self.product, None);
                return Err(if err.is_timeout() {
                    ApiError::Timeout
                } else {
                    ApiError::Transport(err.without_url().to_string())
                });
            }
        };
        let status = response.status();
        atlassian.metrics().upstream(self.product, Some(status.as_u16()));
        if status != reqwest::StatusCode::UNAUTHORIZED || !self.may_resend() {
            return Ok(Answer::Streaming(response));
        }
        // A 401: read it (it is small) to tell a scope mismatch, which a refresh cannot fix.
        let headers = response.headers().clone();
        let scope_header =
            headers.get("x-failure-category").is_some_and(|v| v.as_bytes() == b"FAILURE_CLIENT_SCOPE_CHECK");
        let body = read_bounded(response, MAX_401_BODY).await?;
        if scope_header || String::from_utf8_lossy(&body).contains("scope does not match") {
            return Ok(Answer::Buffered { status, headers, body });
        }
        Err(ApiError::Unauthorized)
    }
}

async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| ApiError::Transport(err.without_url().to_string()))? {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Err(ApiError::Decode("a 401 answer too large to read".to_owned()));
        }
    }
    Ok(body.into())
}

/// Atlassian's answer.
pub enum Answer {
    /// Headers in, body still on the wire.
    Streaming(reqwest::Response),
    /// Already read (a 401 that had to be looked at).
    Buffered { status: reqwest::StatusCode, headers: reqwest::header::HeaderMap, body: web::Bytes },
}

impl Answer {
    /// The status Atlassian answered.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Streaming(response) => response.status().as_u16(),
            Answer::Buffered { status, .. } => status.as_u16(),
        }
    }

    /// How long Atlassian asked to wait: a 429 (30 s when it says nothing usable), or a 503 with a
    /// wait (`Retry-After`, else until `X-RateLimit-Reset`); capped as pages cap it.
    pub fn asks_to_wait(&self) -> Option<u64> {
        let (status, headers) = match self {
            Answer::Streaming(response) => (response.status(), response.headers()),
            Answer::Buffered { status, headers, .. } => (*status, headers),
        };
        let retry_after = crate::atlassian::asked_wait(status, headers, time::OffsetDateTime::now_utc());
        let secs = match (self.status(), retry_after) {
            (429, after) => after.unwrap_or(crate::rate_limits::DEFAULT_WAIT_SECS),
            (503, Some(after)) => after,
            _ => return None,
        };
        Some(secs.clamp(1, super::MAX_WAIT_SECS))
    }

    /// The answer for the caller: Atlassian's status, kept headers and body (streamed).
    pub fn into_response(self) -> HttpResponse {
        let (status, headers) = match &self {
            Answer::Streaming(response) => (response.status(), response.headers()),
            Answer::Buffered { status, headers, .. } => (*status, headers),
        };
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut builder = HttpResponse::build(status);
        let mut kept = HeaderMap::new();
        for (name, value) in headers {
            let name = name.as_str();
            if (FORWARDED_DOWN.contains(&name) || name.starts_with("x-ratelimit-"))
                && let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
            {
                kept.append(name, value);
            }
        }
        for (name, value) in kept {
            builder.append_header((name, value));
        }
        builder.insert_header(("cache-control", "no-store")).insert_header(("content-security-policy", SANDBOX_CSP));
        match self {
            Answer::Buffered { body, .. } => builder.body(body),
            Answer::Streaming(response) => builder.streaming(chunks(response)),
        }
    }
}

/// The body as a stream of chunks, as they arrive (a failure mid-way ends the stream with an
/// error, which aborts the answer rather than passing a truncated body off as whole).
fn chunks(
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> + 'static {
    futures_util::stream::unfold(Some(response), |state| async move {
        let mut response = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(error = %err.without_url(), "Atlassian's answer broke off while streaming");
                Some((Err(std::io::Error::other("upstream body broke off")), None))
            }
        }
    })
}
