//! The one middleware: added latency and injected faults before any endpoint runs, and a
//! log line (method, path, grant type, status; never a token) after it answers.

use std::sync::Mutex;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

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
        Some(fault) => req.into_response(fault_response(fault)),
        None => match next.call(req).await {
            Ok(res) => res.map_into_boxed_body(),
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

/// The gateway's answer for an injected fault. 429 carries Atlassian's rate-limit
/// headers; 429 and 503 carry `Retry-After` when the fault has one.
fn fault_response(fault: Fault) -> HttpResponse {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = HttpResponse::build(status);
    if let Some(seconds) = fault.retry_after {
        res.insert_header(("Retry-After", seconds.to_string()));
    }
    let message = match status {
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = i64::try_from(fault.retry_after.unwrap_or(60)).unwrap_or(i64::MAX);
            let reset = time::OffsetDateTime::now_utc()
                .checked_add(time::Duration::seconds(wait))
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default();
            res.insert_header(("X-RateLimit-Limit", "100"))
                .insert_header(("X-RateLimit-Remaining", "0"))
                .insert_header(("X-RateLimit-Reset", reset))
                .insert_header(("RateLimit-Reason", "jira-burst-based"));
            "Rate limit exceeded.".to_owned()
        }
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    res.json(json!({"code": status.as_u16(), "message": message}))
}
