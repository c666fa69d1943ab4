//! Atlassian's "slow down", formatted as its gateway formats it. A 429 carries `Retry-After`
//! (seconds, when the fault has one), `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`,
//! `X-RateLimit-Reset` (ISO 8601 in UTC to the second, e.g. `2026-12-01T23:15:30Z`: the moment
//! the wait ends), `X-RateLimit-NearLimit: true` when an hourly quota is what ran out, and a
//! `RateLimit-Reason` that names the product and the limit. Successful answers carry
//! `X-RateLimit-NearLimit: true` while a test says the quota is nearly spent
//! ([`Emulator::set_near_limit`](super::Emulator::set_near_limit)); Atlassian sends it when less
//! than 20% of a budget is left.
//!
//! Jira's reasons are documented (`jira-burst-based`, `jira-quota-global-based`,
//! `jira-quota-tenant-based`, `jira-per-issue-on-write`); Confluence's are not, so its names
//! follow Jira's pattern (`confluence-burst-based`, …). Paths outside the products (`/me`,
//! accessible-resources, `/oauth/token`) get no reason.

use actix_web::HttpResponse;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

/// Which of Atlassian's limits a 429 is about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Limit {
    /// Requests per second (`jira-burst-based`).
    #[default]
    Burst,
    /// The app's hourly points quota across all sites (`jira-quota-global-based`).
    GlobalQuota,
    /// The app's hourly points quota on one site (`jira-quota-tenant-based`).
    TenantQuota,
    /// Writes to one Jira issue (`jira-per-issue-on-write`; on Confluence, a burst).
    PerIssueWrite,
}

/// The wait a 429 without `Retry-After` still announces through `X-RateLimit-Reset`.
const DEFAULT_WAIT_SECS: u64 = 60;

/// `RateLimit-Reason` for a 429 of `limit` on `path`.
pub(crate) fn reason(path: &str, limit: Limit) -> Option<&'static str> {
    let jira = path.starts_with("/ex/jira/");
    if !jira && !path.starts_with("/ex/confluence/") {
        return None;
    }
    Some(match (jira, limit) {
        (true, Limit::Burst) => "jira-burst-based",
        (true, Limit::GlobalQuota) => "jira-quota-global-based",
        (true, Limit::TenantQuota) => "jira-quota-tenant-based",
        (true, Limit::PerIssueWrite) => "jira-per-issue-on-write",
        (false, Limit::Burst | Limit::PerIssueWrite) => "confluence-burst-based",
        (false, Limit::GlobalQuota) => "confluence-quota-global-based",
        (false, Limit::TenantQuota) => "confluence-quota-tenant-based",
    })
}

/// `now + wait` as Atlassian writes `X-RateLimit-Reset`: RFC 3339 in UTC, whole seconds.
pub(crate) fn reset_at(now: time::OffsetDateTime, wait_secs: u64) -> String {
    let wait = time::Duration::seconds(i64::try_from(wait_secs).unwrap_or(i64::MAX));
    now.checked_add(wait)
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The 429 for `limit` on `path`; `retry_after` is the `Retry-After` to send, if any.
pub(crate) fn too_many_requests(path: &str, limit: Limit, retry_after: Option<u64>) -> HttpResponse {
    let mut res = HttpResponse::TooManyRequests();
    if let Some(seconds) = retry_after {
        res.insert_header(("Retry-After", seconds.to_string()));
    }
    let quota = matches!(limit, Limit::GlobalQuota | Limit::TenantQuota);
    let ceiling = match limit {
        Limit::Burst => "100",
        Limit::GlobalQuota | Limit::TenantQuota => "65000",
        Limit::PerIssueWrite => "20",
    };
    let reset = reset_at(time::OffsetDateTime::now_utc(), retry_after.unwrap_or(DEFAULT_WAIT_SECS));
    res.insert_header(("X-RateLimit-Limit", ceiling))
        .insert_header(("X-RateLimit-Remaining", "0"))
        .insert_header(("X-RateLimit-Reset", reset));
    if quota {
        res.insert_header(("X-RateLimit-NearLimit", "true"));
    }
    if let Some(reason) = reason(path, limit) {
        res.insert_header(("RateLimit-Reason", reason));
    }
    res.json(json!({"code": 429, "message": "Rate limit exceeded."}))
}

/// Marks a successful answer as Atlassian does when less than 20% of the quota is left.
pub(crate) fn mark_near_limit(headers: &mut HeaderMap) {
    headers.insert(HeaderName::from_static("x-ratelimit-nearlimit"), HeaderValue::from_static("true"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_reset_is_whole_seconds_in_utc() {
        let now = datetime!(2026-12-01 23:15:00.654321 UTC);
        assert_eq!(reset_at(now, 30), "2026-12-01T23:15:30Z");
        assert_eq!(reset_at(now, u64::MAX), "", "a wait beyond the calendar is no header value");
    }

    #[test]
    fn each_product_has_its_reasons_and_the_rest_none() {
        assert_eq!(reason("/ex/jira/c/rest/api/3/issue/A-1", Limit::PerIssueWrite), Some("jira-per-issue-on-write"));
        assert_eq!(reason("/ex/jira/c/rest/api/3/search/jql", Limit::GlobalQuota), Some("jira-quota-global-based"));
        assert_eq!(reason("/ex/confluence/c/wiki/api/v2/pages", Limit::Burst), Some("confluence-burst-based"));
        assert_eq!(reason("/me", Limit::Burst), None);
    }
}
