//! Acting on the user's work: text search in Jira (JQL) and Confluence (CQL, v1 search), an
//! issue's comments and transitions, and the three writes: a comment, a transition, "assign to
//! me".
//!
//! Reads go through `get_json` and its retry policy. A write is sent exactly once: whatever
//! happens, it is never repeated here. The one exception is the plain 401 that `OnBehalf::call`
//! answers with a refresh and one more try, because Atlassian rejected that request before doing
//! anything. Every other failure comes back as a [`WriteRefusal`] for the issue page to explain.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::jira::{LIST_FIELDS, Person, SearchAnswer};
use super::{ApiError, Atlassian};
use crate::metrics::Product;
use crate::scopes;

/// One comment.
#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub author: Option<Person>,
    /// ADF: rendered by our own renderer, never trusted.
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub created: Option<String>,
}

#[derive(Deserialize)]
struct Comments {
    #[serde(default)]
    comments: Vec<Comment>,
    #[serde(default)]
    total: usize,
}

/// One transition the issue can take now.
#[derive(Clone, Debug, Deserialize)]
pub struct Transition {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub to: Option<super::jira::Named>,
}

#[derive(Deserialize)]
struct Transitions {
    #[serde(default)]
    transitions: Vec<Transition>,
}

/// One page found by CQL.
#[derive(Clone, Debug, Deserialize)]
pub struct PageHit {
    #[serde(default)]
    pub content: Option<HitContent>,
    #[serde(default)]
    pub title: String,
    /// Plain text with Confluence's `@@@hl@@@` markers; untrusted, shown escaped.
    #[serde(default)]
    pub excerpt: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct HitContent {
    #[serde(default)]
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
}

#[derive(Deserialize)]
struct CqlAnswer {
    #[serde(default)]
    results: Vec<PageHit>,
    #[serde(default, rename = "_links")]
    links: Option<CqlLinks>,
}

#[derive(Deserialize)]
struct CqlLinks {
    #[serde(default)]
    next: Option<String>,
}

/// One page of CQL results and the cursor of the next, if any.
#[derive(Clone, Debug)]
pub struct PageHits {
    pub results: Vec<PageHit>,
    pub next_cursor: Option<String>,
}

/// Why Atlassian did not make a change, in the terms the issue page explains.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteRefusal {
    /// 429 (or 503 with Retry-After); `per_issue` when Jira's limit on writes to one issue hit.
    #[error("Atlassian asked us to slow down (retry after {retry_after:?} s, per issue: {per_issue})")]
    RateLimited { retry_after: Option<u64>, per_issue: bool },
    /// 401 "scope does not match": the grant lacks what the write needs (`write:jira-work`, or
    /// the endpoint's granular set).
    #[error("the grant lacks the scope for this change")]
    ScopeMissing,
    /// 403: the user may not do this in Jira.
    #[error("Atlassian says this account may not do that")]
    Forbidden,
    #[error("Atlassian says the issue does not exist")]
    NotFound,
    /// 400: Jira refused the request itself; nothing changed.
    #[error("Jira refused the change ({0})")]
    Rejected(StatusCode),
    /// A 5xx: the change may or may not have been made.
    #[error("Atlassian answered {0}")]
    Failed(StatusCode),
    /// No answer in time: the change may or may not have been made.
    #[error("Atlassian did not answer in time")]
    Timeout,
    /// The request could not be sent (no connection): nothing changed.
    #[error("could not reach Atlassian: {0}")]
    Unreachable(String),
}

impl WriteRefusal {
    /// Whether Atlassian certainly made no change (the same form may be sent again).
    pub fn nothing_changed(&self) -> bool {
        !matches!(self, WriteRefusal::Failed(_) | WriteRefusal::Timeout)
    }
}

/// The outcome of one write: `Err(ApiError::Unauthorized)` only for a plain 401 (refresh and try
/// again: nothing was done), else done or refused.
pub type WriteResult = Result<Result<(), WriteRefusal>, ApiError>;

impl Atlassian {
    /// One page of a JQL search, with the fields a list row shows.
    pub async fn search_issues(
        &self,
        token: &SecretString,
        cloud_id: &str,
        jql: &str,
        page_token: Option<&str>,
        max_results: u32,
    ) -> Result<SearchAnswer, ApiError> {
        let max = max_results.to_string();
        let mut query = vec![("jql", jql), ("fields", LIST_FIELDS), ("maxResults", max.as_str())];
        if let Some(page) = page_token {
            query.push(("nextPageToken", page));
        }
        let url = self.api(&["ex", "jira", cloud_id, "rest", "api", "3", "search", "jql"], &query);
        Ok(SearchAnswer::new(self.get_bytes(url, token, &scopes::JIRA_SEARCH).await?))
    }

    /// One page of a CQL search (Confluence v1), continuing at `cursor` when given.
    pub async fn search_pages(
        &self,
        token: &SecretString,
        cloud_id: &str,
        cql: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<PageHits, ApiError> {
        let limit = limit.to_string();
        let mut query = vec![("cql", cql), ("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        let url = self.api(&["ex", "confluence", cloud_id, "wiki", "rest", "api", "search"], &query);
        let answer: CqlAnswer = self.get_json(url, token, &scopes::CONFLUENCE_SEARCH).await?;
        let next_cursor = answer.links.and_then(|l| l.next).and_then(|next| cursor_of(&next));
        Ok(PageHits { results: answer.results, next_cursor })
    }

    /// The newest `max` comments of an issue, oldest first, and how many there are in all.
    pub async fn comments(
        &self,
        token: &SecretString,
        cloud_id: &str,
        key: &str,
        max: u32,
    ) -> Result<(Vec<Comment>, usize), ApiError> {
        let max = max.to_string();
        let segments = ["ex", "jira", cloud_id, "rest", "api", "3", "issue", key, "comment"];
        let url = self.api(&segments, &[("orderBy", "-created"), ("maxResults", &max)]);
        let answer: Comments = self.get_json(url, token, &scopes::JIRA_COMMENTS).await?;
        let mut comments = answer.comments;
        comments.reverse();
        let total = answer.total.max(comments.len());
        Ok((comments, total))
    }

    /// The transitions the issue can take now.
    pub async fn transitions(
        &self,
        token: &SecretString,
        cloud_id: &str,
        key: &str,
    ) -> Result<Vec<Transition>, ApiError> {
        let segments = ["ex", "jira", cloud_id, "rest", "api", "3", "issue", key, "transitions"];
        let answer: Transitions = self.get_json(self.api(&segments, &[]), token, &scopes::JIRA_TRANSITIONS).await?;
        Ok(answer.transitions)
    }

    /// `POST issue/{key}/comment` with an ADF body.
    pub async fn add_comment(&self, token: &SecretString, cloud_id: &str, key: &str, body: &Value) -> WriteResult {
        let segments = ["ex", "jira", cloud_id, "rest", "api", "3", "issue", key, "comment"];
        self.write_once(Method::POST, &segments, token, &json!({ "body": body })).await
    }

    /// `POST issue/{key}/transitions` to take transition `id`.
    pub async fn transition(&self, token: &SecretString, cloud_id: &str, key: &str, id: &str) -> WriteResult {
        let segments = ["ex", "jira", cloud_id, "rest", "api", "3", "issue", key, "transitions"];
        self.write_once(Method::POST, &segments, token, &json!({ "transition": { "id": id } })).await
    }

    /// `PUT issue/{key}/assignee` to `account_id`.
    pub async fn assign(&self, token: &SecretString, cloud_id: &str, key: &str, account_id: &str) -> WriteResult {
        let segments = ["ex", "jira", cloud_id, "rest", "api", "3", "issue", key, "assignee"];
        self.write_once(Method::PUT, &segments, token, &json!({ "accountId": account_id })).await
    }

    /// Sends one write to Jira, once.
    async fn write_once(&self, method: Method, segments: &[&str], token: &SecretString, body: &Value) -> WriteResult {
        let response = self
            .http
            .request(method, self.api(segments, &[]))
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                self.metrics.upstream(Product::Jira, None);
                // Only a request that never left is known to have changed nothing.
                return Ok(Err(if err.is_timeout() {
                    WriteRefusal::Timeout
                } else if err.is_connect() {
                    WriteRefusal::Unreachable(err.without_url().to_string())
                } else {
                    WriteRefusal::Failed(StatusCode::BAD_GATEWAY)
                }));
            }
        };
        let status = response.status();
        self.metrics.upstream(Product::Jira, Some(status.as_u16()));
        tracing::debug!(status = status.as_u16(), "Atlassian answered a write");
        if status.is_success() {
            return Ok(Ok(()));
        }
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).map(str::to_owned);
        let retry_after = super::limits::asked_wait(status, headers, time::OffsetDateTime::now_utc());
        let per_issue = header("ratelimit-reason").is_some_and(|r| r.contains("per-issue-on-write"));
        let scope_header = header("x-failure-category").is_some_and(|v| v == "FAILURE_CLIENT_SCOPE_CHECK");
        let text = response.text().await.unwrap_or_default();
        let refusal = match status {
            StatusCode::UNAUTHORIZED if scope_header || text.contains("scope does not match") => {
                WriteRefusal::ScopeMissing
            }
            StatusCode::UNAUTHORIZED => return Err(ApiError::Unauthorized),
            StatusCode::TOO_MANY_REQUESTS => WriteRefusal::RateLimited { retry_after, per_issue },
            StatusCode::SERVICE_UNAVAILABLE if retry_after.is_some() => {
                WriteRefusal::RateLimited { retry_after, per_issue }
            }
            StatusCode::FORBIDDEN => WriteRefusal::Forbidden,
            StatusCode::NOT_FOUND => WriteRefusal::NotFound,
            other if other.is_client_error() => WriteRefusal::Rejected(other),
            other => WriteRefusal::Failed(other),
        };
        Ok(Err(refusal))
    }
}

/// The `cursor` parameter of a `_links.next` URL (relative to the site's `/wiki`).
fn cursor_of(next: &str) -> Option<String> {
    let query = next.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "cursor").map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_comes_from_the_next_link() {
        assert_eq!(cursor_of("/rest/api/search?next=true&cursor=ab%3D&limit=10").as_deref(), Some("ab="));
        assert_eq!(cursor_of("/rest/api/search?limit=10"), None);
        assert_eq!(cursor_of("no query"), None);
    }

    #[test]
    fn only_refusals_that_changed_nothing_free_the_form_again() {
        assert!(WriteRefusal::RateLimited { retry_after: Some(1), per_issue: true }.nothing_changed());
        assert!(WriteRefusal::Forbidden.nothing_changed());
        assert!(!WriteRefusal::Timeout.nothing_changed());
        assert!(!WriteRefusal::Failed(StatusCode::INTERNAL_SERVER_ERROR).nothing_changed());
    }
}
