//! The one middleware: added latency and injected faults before any endpoint runs, and a
//! log line (method, path, grant type, status; never a token) after it answers.

use std::sync::Mutex;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use serde_json::json;

use super::rate_limit::{self, Limit};
use super::state::{State, lock};
use super::token::GrantTypeTag;
use super::{Fault, LoggedRequest};

/// Wraps every request of the emulator.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<Mutex<State>>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let method = req.method().to_string();
    let path = req.path().to_owned();
    // The JQL or CQL of a search, for tests that check what reached "Atlassian".
    let search = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "jql" || k == "cql")
        .map(|(_, v)| v.into_owned());
    let query = req.query_string().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(name, _)| *name != actix_web::http::header::AUTHORIZATION)
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let bearer = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim_start_matches("Bearer ").to_owned());
    let (delay, fault) = {
        let mut st = lock(&state);
        (st.latency_for(&path), st.take_fault(&method, &path))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let log = |status: StatusCode, grant_type: Option<String>| {
        // Path only: the query of `/authorize` or a callback is no business of a log line.
        tracing::debug!(target: "threelo_emulator", %method, %path, status = status.as_u16(), "emulated Atlassian request");
        let mut st = lock(&state);
        let bearer_issued = bearer.as_ref().map(|token| st.issued.iter().any(|t| t == token));
        let entry = LoggedRequest {
            method: method.clone(),
            path: path.clone(),
            grant_type,
            status: status.as_u16(),
            search: search.clone(),
            query: query.clone(),
            headers: headers.clone(),
            bearer_issued,
        };
        st.log.push(entry);
    };
    let res = match fault {
        Some((fault, limit)) => {
            let answer = fault_response(&path, fault, limit);
            req.into_response(answer)
        }
        None => match next.call(req).await {
            Ok(mut res) => {
                if res.status().is_success() && path.starts_with("/ex/") && lock(&state).config.near_limit {
                    rate_limit::mark_near_limit(res.headers_mut());
                }
                res.map_into_boxed_body()
            }
            Err(err) => {
                log(err.as_response_error().status_code(), None);
                return Err(err);
            }
        },
    };
    let grant_type = res.request().extensions().get::<GrantTypeTag>().map(|tag| tag.0.clone());
    log(res.status(), grant_type);
    Ok(res)
}

/// The gateway's answer for an injected fault. A 429 is Atlassian's, headers and all
/// (`rate_limit`); any other status carries `Retry-After` when the fault has one.
fn fault_response(path: &str, fault: Fault, limit: Limit) -> HttpResponse {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return rate_limit::too_many_requests(path, limit, fault.retry_after);
    }
    let mut res = HttpResponse::build(status);
    if let Some(seconds) = fault.retry_after {
        res.insert_header(("Retry-After", seconds.to_string()));
    }
    let message = status.canonical_reason().unwrap_or("Error");
    res.json(json!({"code": status.as_u16(), "message": message}))
}
