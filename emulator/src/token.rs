//! `POST /oauth/token`: the authorization_code and refresh_token grants, with
//! Atlassian's error statuses and bodies.

use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::grants::{Refused, TokenSet};
use super::http::Params;
use super::state::{State, lock};

/// Put in the request's extensions so the request log can record the grant type.
#[derive(Clone)]
pub(crate) struct GrantTypeTag(pub(crate) String);

fn error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({"error": error, "error_description": description}))
}

fn invalid_request(description: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn success(tokens: TokenSet) -> HttpResponse {
    let mut body = json!({
        "access_token": tokens.access_token,
        "expires_in": tokens.expires_in,
        "token_type": "Bearer",
        "scope": tokens.scope,
    });
    if let (Some(refresh), Some(map)) = (tokens.refresh_token, body.as_object_mut()) {
        map.insert("refresh_token".to_owned(), Value::String(refresh));
    }
    HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).insert_header((PRAGMA, "no-cache")).json(body)
}

/// Atlassian documents JSON bodies and also takes form bodies (what the `oauth2` crate
/// sends). Without a telling content type, a body starting with `{` is taken as JSON.
fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<Params, String> {
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let json = content_type.contains("json")
        || (!content_type.contains("x-www-form-urlencoded") && body.trim_ascii_start().starts_with(b"{"));
    if !json {
        return Ok(Params::parse(body));
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err("The request body is not a JSON object.".to_owned());
    };
    let mut pairs = Vec::new();
    for (key, value) in map {
        match value {
            Value::String(s) => pairs.push((key, s)),
            Value::Null => {}
            _ => return Err(format!("The parameter {key} must be a string.")),
        }
    }
    Ok(Params::from_pairs(pairs))
}

/// Client credentials from the body, else from HTTP Basic (RFC 6749 §2.3.1, whose
/// form-encoding of id and secret before base64 is undone here).
fn credentials(req: &HttpRequest, params: &Params) -> Option<(String, String)> {
    if let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) {
        return Some((id.to_owned(), secret.to_owned()));
    }
    let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unform = |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).map(|(_, v)| v.into_owned()).next();
    Some((unform(id).unwrap_or_default(), unform(secret).unwrap_or_default()))
}

fn client_ok(st: &State, id: &str, secret: &str) -> bool {
    // Constant time, as a real authorization server must; the emulator models it anyway.
    let id_ok = id.as_bytes().ct_eq(st.config.client_id.as_bytes());
    let secret_ok = secret.as_bytes().ct_eq(st.config.client_secret.as_bytes());
    bool::from(id_ok & secret_ok)
}

/// `POST /oauth/token`.
pub(crate) async fn token(req: HttpRequest, body: web::Bytes, state: web::Data<Mutex<State>>) -> HttpResponse {
    let params = match parse_body(&req, &body) {
        Ok(params) => params,
        Err(description) => return invalid_request(&description),
    };
    let grant_type = params.get("grant_type").unwrap_or_default().to_owned();
    if !grant_type.is_empty() {
        req.extensions_mut().insert(GrantTypeTag(grant_type.clone()));
    }
    let mut st = lock(&state);
    match credentials(&req, &params) {
        Some((id, secret)) if client_ok(&st, &id, &secret) => {}
        _ => return error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized"),
    }
    match grant_type.as_str() {
        "" => invalid_request("Missing required parameter: grant_type"),
        "authorization_code" => {
            let (Some(code), Some(redirect_uri)) = (params.get("code"), params.get("redirect_uri")) else {
                return invalid_request("Missing required parameter: code and redirect_uri are required");
            };
            match st.redeem_code(code, redirect_uri) {
                Some(tokens) => success(tokens),
                // Atlassian answers some bad codes 400 invalid_request, others 403 invalid_grant.
                None if code.len() < 4 => invalid_request("Invalid authorization code"),
                None => error(StatusCode::FORBIDDEN, "invalid_grant", "Invalid authorization code"),
            }
        }
        "refresh_token" => {
            let Some(refresh_token) = params.get("refresh_token").filter(|t| !t.is_empty()) else {
                return invalid_request("Missing required parameter: refresh_token");
            };
            match st.use_refresh_token(refresh_token) {
                Ok(tokens) => success(tokens),
                Err(Refused::InvalidGrant) => {
                    error(StatusCode::FORBIDDEN, "invalid_grant", "Unknown or invalid refresh token.")
                }
                Err(Refused::FamilyRevoked) => {
                    error(StatusCode::FORBIDDEN, "unauthorized_client", "refresh_token is invalid")
                }
            }
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        ),
    }
}
