//! Jira Cloud REST v3 behind the gateway: `/ex/jira/{cloudId}/rest/api/3/…`.
//! Enhanced search (`search/jql`) with opaque page tokens, the removed `search` (410),
//! approximate count, single issues and `myself`.

use std::borrow::Cow;
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::api::{Caller, authenticate};
use super::http::{ApiError, Params, decode_cursor, encode_cursor};
use super::jira_json::{FIELDS, issue_json, select_fields, user_json};
use super::jira_write::current;
use super::jql;
use super::scopes::{Need, Product, jira as need};
use super::seed::{self, Issue, SeedSite};
use super::state::{State, lock};

const NO_SITE: &str = "No Jira site exists for this cloud id, or you do not have access to it.";
/// Jira's answer for an issue that does not exist and for one the user may not see (a security
/// level, no Browse permission) alike: a 404, never a 403, so its existence does not leak.
pub(crate) const NOT_VISIBLE: &str = "Issue does not exist or you do not have permission to see it.";

/// Token, then scope (the endpoint's classic scope or its granular set), then site: the
/// gateway's order.
pub(crate) fn enter(
    req: &HttpRequest,
    state: &Mutex<State>,
    need: &Need,
) -> Result<(Caller, &'static SeedSite), ApiError> {
    let caller = authenticate(req, state)?;
    caller.require_either(need)?;
    let cloud_id = req.match_info().get("cloud_id").unwrap_or_default();
    let site = caller.site(cloud_id, Product::Jira).ok_or_else(|| ApiError::jira(404, NO_SITE))?;
    Ok((caller, site))
}

/// `GET myself` (scope `read:jira-user`, or its granular set).
pub(crate) async fn myself(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::MYSELF)?;
    let mut body = user_json(caller.user, &caller.base_url, site);
    if let Some(map) = body.as_object_mut() {
        map.insert("emailAddress".to_owned(), json!(caller.user.email));
        map.insert("locale".to_owned(), json!("en_US"));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The old `search` endpoint, removed by Atlassian in 2025.
pub(crate) async fn search_gone(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    enter(&req, &state, &need::SEARCH_GET)?;
    Err(ApiError::jira(
        410,
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
    ))
}

/// What a search asks for, from the query string or the JSON body.
struct SearchArgs {
    jql: String,
    fields: Option<Vec<&'static str>>,
    max_results: Option<i64>,
    next_page_token: Option<String>,
}

/// `GET search/jql?jql=…&fields=…&maxResults=…&nextPageToken=…`.
pub(crate) async fn search_get(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::SEARCH_GET)?;
    let params = Params::query(&req);
    let max_results =
        match params.get("maxResults") {
            None => None,
            Some(raw) => Some(raw.trim().parse::<i64>().map_err(|_| {
                ApiError::jira(400, format!("The value '{raw}' is invalid for the maxResults parameter."))
            })?),
        };
    let args = SearchArgs {
        jql: params.get("jql").unwrap_or_default().to_owned(),
        fields: select_fields(params.all("fields")),
        max_results,
        next_page_token: params.get("nextPageToken").map(str::to_owned),
    };
    search(&state, &caller, site, args)
}

/// `POST search/jql` with `{"jql","fields":[…],"maxResults","nextPageToken"}`.
pub(crate) async fn search_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::SEARCH_POST)?;
    let body = json_body(&body)?;
    let fields = match body.get("fields") {
        Some(Value::Array(items)) => select_fields(items.iter().filter_map(Value::as_str)),
        Some(Value::String(list)) => select_fields(std::iter::once(list.as_str())),
        _ => None,
    };
    let max_results = match body.get("maxResults") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| ApiError::jira(400, "maxResults must be an integer."))?),
    };
    let args = SearchArgs {
        jql: body.get("jql").and_then(Value::as_str).unwrap_or_default().to_owned(),
        fields,
        max_results,
        next_page_token: body.get("nextPageToken").and_then(Value::as_str).map(str::to_owned),
    };
    search(&state, &caller, site, args)
}

/// `POST search/approximate-count` with `{"jql"}`.
pub(crate) async fn count(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::SEARCH_POST)?;
    let body = json_body(&body)?;
    let jql = body.get("jql").and_then(Value::as_str).unwrap_or_default();
    let hits = visible_hits(&state, &caller, site, jql)?;
    Ok(HttpResponse::Ok().json(json!({"count": hits.len()})))
}

/// `GET issue/{key}?fields=…`. An issue behind a security level is a 404, as in Jira.
pub(crate) async fn issue(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::ISSUE)?;
    let key = req.match_info().get("key").unwrap_or_default();
    let issue = visible_issue(site, key)?;
    let params = Params::query(&req);
    let fields = select_fields(params.all("fields")).unwrap_or_else(|| FIELDS.to_vec());
    let issue = current(&lock(&state), issue);
    let mut body = issue_json(&issue, Some(&fields), &caller.base_url, site);
    let replaced = lock(&state).descriptions.get(key).cloned();
    if let (Some(description), Some(fields)) = (replaced, body.get_mut("fields").and_then(Value::as_object_mut))
        && fields.contains_key("description")
    {
        fields.insert("description".to_owned(), description);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// The issue `key` on `site`, if this user may see it: an unknown key and an issue behind a
/// security level are the same 404, on the issue and on every sub-resource of it.
pub(crate) fn visible_issue(site: &SeedSite, key: &str) -> Result<&'static Issue, ApiError> {
    seed::issue(site.name, key).filter(|i| !i.restricted).ok_or_else(|| ApiError::jira(404, NOT_VISIBLE))
}

fn json_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::jira(400, "Invalid request payload. Refer to the REST API documentation and try again.")),
    }
}

/// The issues `jql` finds that this user may see, in the query's order. Issues behind a
/// security level are left out silently, as Jira does.
fn visible_hits(
    state: &Mutex<State>,
    caller: &Caller,
    site: &SeedSite,
    jql: &str,
) -> Result<Vec<Cow<'static, Issue>>, ApiError> {
    let query = jql::parse(jql).map_err(|message| ApiError::jira(400, message))?;
    let st = lock(state);
    let mut hits: Vec<Cow<'static, Issue>> = seed::issues_on(site.name)
        .filter(|i| !i.restricted)
        .map(|i| current(&st, i))
        .filter(|i| query.matches(i, caller.user))
        .collect();
    hits.sort_by(|a, b| query.compare(a, b));
    Ok(hits)
}

fn search(state: &Mutex<State>, caller: &Caller, site: &SeedSite, args: SearchArgs) -> Result<HttpResponse, ApiError> {
    let hits = visible_hits(state, caller, site, &args.jql)?;
    let max = match args.max_results {
        None => 50,
        Some(n) if n < 1 => return Err(ApiError::jira(400, "maxResults must be greater than 0.")),
        // Jira caps large page sizes silently.
        Some(n) => usize::try_from(n.min(100)).unwrap_or(100),
    };
    // Page tokens only make sense for the query, site and user that produced them.
    let bind = format!("{}|{}|{}", site.cloud_id, caller.user.login, args.jql.trim());
    let offset = match args.next_page_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => decode_cursor(token, &bind)
            .ok_or_else(|| ApiError::jira(400, "The provided next page token is invalid or expired."))?,
    };
    let end = offset.saturating_add(max);
    let issues: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(max)
        .map(|issue| issue_json(issue, args.fields.as_deref(), &caller.base_url, site))
        .collect();
    let is_last = end >= hits.len();
    let mut body = json!({"issues": issues, "isLast": is_last});
    if let (false, Some(map)) = (is_last, body.as_object_mut()) {
        map.insert("nextPageToken".to_owned(), json!(encode_cursor(end, &bind)));
    }
    Ok(HttpResponse::Ok().json(body))
}
