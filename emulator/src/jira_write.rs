//! Jira's issue writes behind the gateway, with state kept per issue: comments (`GET`/`POST
//! issue/{key}/comment`), transitions (`GET`/`POST issue/{key}/transitions`) and the assignee
//! (`PUT issue/{key}/assignee`). Reads need `read:jira-work`, writes `write:jira-work`, or each
//! endpoint's granular set instead (`scopes::jira`; else 401 "scope does not match"). An issue the
//! user cannot see is a 404 on every one of them. A test can
//! ask for Jira's per-issue write limit ([`Emulator::limit_writes`](super::Emulator::limit_writes)):
//! those writes answer 429 with `RateLimit-Reason: jira-per-issue-on-write` and change nothing.
//!
//! The seed issues never change; what writes did lives in [`State::changes`], and [`current`]
//! lays it over the seed for every answer (the issue, search, these endpoints).

use std::borrow::Cow;
use std::sync::Mutex;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::api::Caller;
use super::http::{ApiError, Params};
use super::jira::{enter, visible_issue};
use super::jira_json::{jira_time, user_json};
use super::rate_limit::{self, Limit};
use super::scopes::jira as need;
use super::seed::{self, Issue, SeedSite};
use super::seed_jira::WORKFLOW;
use super::state::{Comment, State, lock};

/// `issue` as writes left it.
pub(crate) fn current(state: &State, issue: &'static Issue) -> Cow<'static, Issue> {
    let Some(changes) = state.changes.get(&issue.id) else { return Cow::Borrowed(issue) };
    let mut changed = issue.clone();
    if let Some(status) = changes.status {
        changed.status = status;
    }
    if let Some(assignee) = changes.assignee {
        changed.assignee = assignee;
    }
    if let Some(updated) = changes.updated {
        changed.updated = updated;
    }
    Cow::Owned(changed)
}

/// The issue named in the path, if this user may see it (restricted issues are a 404, as in Jira).
fn visible(req: &HttpRequest, site: &SeedSite) -> Result<&'static Issue, ApiError> {
    visible_issue(site, req.match_info().get("key").unwrap_or_default())
}

fn paragraph_doc(paragraphs: &[&str]) -> Value {
    let content: Vec<Value> =
        paragraphs.iter().map(|p| json!({"type": "paragraph", "content": [{"type": "text", "text": p}]})).collect();
    json!({"type": "doc", "version": 1, "content": content})
}

/// The comments an issue starts with: a conversation on the showcase issue, a hostile one on
/// the issue with the hostile summary.
fn seeded_comments(issue: &Issue) -> Vec<Comment> {
    match issue.key.as_str() {
        "ACME-1" => vec![
            Comment {
                id: 10_001,
                author: "bob",
                body: paragraph_doc(&["Regression suite is green on staging.", "Shall I tag it?"]),
                created: datetime!(2026-11-19 16:02:00 UTC),
            },
            Comment {
                id: 10_002,
                author: "alice",
                body: json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                    {"type": "text", "text": "Yes please, and follow the "},
                    {"type": "text", "text": "release notes", "marks": [{"type": "link", "attrs": {"href": "https://example.com/notes"}}]},
                    {"type": "text", "text": "."},
                ]}]}),
                created: datetime!(2026-11-20 09:40:00 UTC),
            },
        ],
        "ACME-2" => vec![Comment {
            id: 10_003,
            author: "bob",
            body: json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
                {"type": "text", "text": "<script>alert('comment')</script> "},
                {"type": "text", "text": "click me", "marks": [{"type": "link", "attrs": {"href": "javascript:alert(1)"}}]},
            ]}]}),
            created: datetime!(2026-11-18 12:00:00 UTC),
        }],
        _ => Vec::new(),
    }
}

/// The comments of `issue`, seeding them on first use.
fn comments_of<'a>(state: &'a mut State, issue: &Issue) -> &'a mut Vec<Comment> {
    let changes = state.changes.entry(issue.id).or_default();
    changes.comments.get_or_insert_with(|| seeded_comments(issue))
}

fn comment_json(comment: &Comment, issue: &Issue, caller: &Caller, site: &SeedSite) -> Value {
    let author = seed::user(comment.author).map_or(Value::Null, |u| user_json(u, &caller.base_url, site));
    let created = jira_time(comment.created);
    json!({
        "self": format!("{}/ex/jira/{}/rest/api/3/issue/{}/comment/{}", caller.base_url, site.cloud_id, issue.id, comment.id),
        "id": comment.id.to_string(),
        "author": author,
        "updateAuthor": author,
        "body": comment.body,
        "created": created,
        "updated": created,
        "jsdPublic": true,
    })
}

/// A write to `issue` refused by the per-issue limit, if one is pending for it.
fn write_limited(req: &HttpRequest, state: &mut State, issue: &Issue) -> Option<HttpResponse> {
    let index = state.write_limits.iter().position(|(key, left, _)| *key == issue.key && *left > 0)?;
    let (_, left, retry_after) = &mut state.write_limits[index];
    *left -= 1;
    Some(rate_limit::too_many_requests(req.path(), Limit::PerIssueWrite, Some(*retry_after)))
}

fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::jira(400, "Invalid request payload. Refer to the REST API documentation and try again.")),
    }
}

/// Whether `body` is an ADF document with some text in it.
fn is_adf_with_text(body: &Value) -> bool {
    let is_doc = body.get("type").and_then(Value::as_str) == Some("doc")
        && body.get("version").and_then(Value::as_u64) == Some(1)
        && body.get("content").is_some_and(Value::is_array);
    let mut words = Vec::new();
    super::jql::adf_words(body, &mut words);
    is_doc && !words.is_empty()
}

/// `GET issue/{key}/comment?startAt=&maxResults=&orderBy=` (scope `read:jira-work`).
pub(crate) async fn comments(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::COMMENTS)?;
    let issue = visible(&req, site)?;
    let params = Params::query(&req);
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match params.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<usize>()
                .map_err(|_| ApiError::jira(400, format!("The value '{raw}' is invalid for the {name} parameter."))),
        }
    };
    let start = number("startAt", 0)?;
    let max = number("maxResults", 50)?.clamp(1, 100);
    let newest_first = match params.get("orderBy").map(str::trim) {
        None | Some("created" | "+created") => false,
        Some("-created") => true,
        Some(other) => return Err(ApiError::jira(400, format!("Invalid orderBy value '{other}'."))),
    };
    let mut all = comments_of(&mut lock(&state), issue).clone();
    if newest_first {
        all.reverse();
    }
    let shown: Vec<Value> = all.iter().skip(start).take(max).map(|c| comment_json(c, issue, &caller, site)).collect();
    Ok(HttpResponse::Ok()
        // Jira sets this cookie on API answers too; a proxy must not pass it on.
        .insert_header(("Set-Cookie", "atlassian.xsrf.token=B7Q2-emulated_lin; Path=/; Secure; SameSite=None"))
        .json(json!({"comments": shown, "startAt": start, "maxResults": max, "total": all.len()})))
}

/// `POST issue/{key}/comment` with `{"body": <ADF>}` (scope `write:jira-work`): 201 with it.
pub(crate) async fn add_comment(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, &need::ADD_COMMENT)?;
    let issue = visible(&req, site)?;
    let mut st = lock(&state);
    if let Some(limited) = write_limited(&req, &mut st, issue) {
        return Ok(limited);
    }
    let doc = json_object(&body)?.remove("body").unwrap_or(Value::Null);
    if !is_adf_with_text(&doc) {
        return Err(ApiError::Jira(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Comment body is not valid: Comment body can not be empty!".to_owned(),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let id = st.next_comment_id;
    st.next_comment_id += 1;
    let comment = Comment { id, author: caller.user.login, body: doc, created: now };
    comments_of(&mut st, issue).push(comment.clone());
    st.changes.entry(issue.id).or_default().updated = Some(now);
    Ok(HttpResponse::Created().json(comment_json(&comment, issue, &caller, site)))
}

fn transition_json(id: &str, name: &str, to: &super::seed_jira::Status) -> Value {
    json!({
        "id": id, "name": name, "hasScreen": false, "isGlobal": true, "isInitial": false,
        "isAvailable": true, "isConditional": false, "isLooped": false,
        "to": {"id": to.id, "name": to.name, "statusCategory": {
            "id": to.category_id, "key": to.category_key, "name": to.category_name}},
    })
}

/// `GET issue/{key}/transitions` (scope `read:jira-work`): every status but the current one.
pub(crate) async fn transitions(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (_, site) = enter(&req, &state, &need::TRANSITIONS)?;
    let issue = visible(&req, site)?;
    let now = current(&lock(&state), issue).status.id;
    let list: Vec<Value> =
        WORKFLOW.iter().filter(|(_, _, to)| to.id != now).map(|(id, name, to)| transition_json(id, name, to)).collect();
    Ok(HttpResponse::Ok().json(json!({"expand": "transitions", "transitions": list})))
}

/// `POST issue/{key}/transitions` with `{"transition":{"id":"21"}}` (scope `write:jira-work`): 204.
pub(crate) async fn transition(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let (_, site) = enter(&req, &state, &need::TRANSITION)?;
    let issue = visible(&req, site)?;
    let mut st = lock(&state);
    if let Some(limited) = write_limited(&req, &mut st, issue) {
        return Ok(limited);
    }
    let body = json_object(&body)?;
    let id = body.get("transition").and_then(|t| t.get("id")).and_then(Value::as_str).unwrap_or_default();
    let now = current(&st, issue).status.id;
    let (_, _, to) = WORKFLOW
        .iter()
        .find(|(tid, _, to)| *tid == id && to.id != now)
        .ok_or_else(|| ApiError::jira(400, format!("Transition id '{id}' is not valid for this issue.")))?;
    let changes = st.changes.entry(issue.id).or_default();
    changes.status = Some(to);
    changes.updated = Some(OffsetDateTime::now_utc());
    Ok(HttpResponse::NoContent().finish())
}

/// `PUT issue/{key}/assignee` with `{"accountId": "…"}` or `null` (scope `write:jira-work`): 204.
pub(crate) async fn assign(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let (_, site) = enter(&req, &state, &need::ASSIGN)?;
    let issue = visible(&req, site)?;
    let mut st = lock(&state);
    if let Some(limited) = write_limited(&req, &mut st, issue) {
        return Ok(limited);
    }
    let body = json_object(&body)?;
    let assignee = match body.get("accountId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => {
            let user = seed::USERS
                .iter()
                .find(|u| u.account_id == id && u.sites.contains(&site.name))
                .ok_or_else(|| ApiError::jira(400, format!("User '{id}' cannot be assigned issues.")))?;
            Some(user.login)
        }
        Some(_) => return Err(ApiError::jira(400, "accountId must be a string.")),
    };
    let changes = st.changes.entry(issue.id).or_default();
    changes.assignee = Some(assignee);
    changes.updated = Some(OffsetDateTime::now_utc());
    Ok(HttpResponse::NoContent().finish())
}

/// The comments of `key` on the site named `site`, as plain text (for tests).
pub(crate) fn comment_texts(state: &mut State, site: &str, key: &str) -> Vec<String> {
    let Some(issue) = seed::issue(site, key) else { return Vec::new() };
    comments_of(state, issue)
        .iter()
        .map(|c| {
            let paragraphs = c.body.get("content").and_then(Value::as_array).cloned().unwrap_or_default();
            paragraphs
                .iter()
                .map(|p| {
                    let mut words = String::new();
                    collect_text(p, &mut words);
                    words
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

fn collect_text(node: &Value, out: &mut String) {
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        out.push_str(text);
    }
    for child in node.get("content").and_then(Value::as_array).into_iter().flatten() {
        collect_text(child, out);
    }
}
