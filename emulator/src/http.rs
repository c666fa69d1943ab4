//! Small HTTP helpers shared by the endpoints: lenient parameter parsing, Atlassian's
//! error bodies for the API gateway and the products, and opaque paging cursors.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

/// Decoded `application/x-www-form-urlencoded` pairs (a query string or a form body).
/// Parsed by hand rather than with `web::Query` so a malformed value gets Atlassian's
/// error body instead of actix's plain-text 400.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    pub(crate) fn query(req: &HttpRequest) -> Self {
        Self::parse(req.query_string().as_bytes())
    }

    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// An error answered by the API gateway or by a product behind it.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// Missing, unknown, expired or revoked bearer token.
    Unauthorized,
    /// The token is fine but lacks the scope this endpoint needs.
    ScopeMismatch,
    /// The gateway knows no such route.
    NoRoute,
    /// Jira's `{"errorMessages":[…],"errors":{}}`.
    Jira(StatusCode, String),
    /// Confluence v2's `{"errors":[{status, code, title, detail}]}`.
    Confluence(StatusCode, &'static str, String),
}

impl ApiError {
    pub(crate) fn jira(status: u16, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        Self::Jira(status, message.into())
    }

    pub(crate) fn wiki_not_found() -> Self {
        Self::Confluence(StatusCode::NOT_FOUND, "NOT_FOUND", "Not Found".to_owned())
    }

    pub(crate) fn wiki_bad_request(title: impl Into<String>) -> Self {
        Self::Confluence(StatusCode::BAD_REQUEST, "INVALID_REQUEST_PARAMETER", title.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "emulated Atlassian error {}", self.status_code())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::ScopeMismatch => StatusCode::UNAUTHORIZED,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Jira(status, _) | Self::Confluence(status, _, _) => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        let body = match self {
            Self::Unauthorized => json!({"code": 401, "message": "Unauthorized"}),
            Self::ScopeMismatch => {
                res.insert_header(("x-failure-category", "FAILURE_CLIENT_SCOPE_CHECK"));
                json!({"code": 401, "message": "Unauthorized; scope does not match"})
            }
            Self::NoRoute => json!({"code": 404, "message": "Not Found"}),
            Self::Jira(_, message) => json!({"errorMessages": [message], "errors": {}}),
            Self::Confluence(_, code, title) => json!({"errors": [
                {"status": status.as_u16(), "code": code, "title": title, "detail": null}
            ]}),
        };
        res.json(body)
    }
}

/// FNV-1a: a stable fingerprint that ties a cursor to the query it pages through.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// An opaque cursor for `offset` within the listing described by `bind`.
pub(crate) fn encode_cursor(offset: usize, bind: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("emu1:{offset}:{:016x}", fingerprint(bind)))
}

/// The offset inside a cursor, if it is well formed and was issued for `bind`.
pub(crate) fn decode_cursor(cursor: &str, bind: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.split(':');
    let (Some("emu1"), Some(offset), Some(hash), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (hash == format!("{:016x}", fingerprint(bind))).then(|| offset.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_foreign_or_garbled_cursors() {
        let cursor = encode_cursor(150, "q");
        assert_eq!(decode_cursor(&cursor, "q"), Some(150));
        assert_eq!(decode_cursor(&cursor, "other query"), None);
        assert_eq!(decode_cursor("150", "q"), None);
        assert_eq!(decode_cursor("!!", "q"), None);
    }
}
