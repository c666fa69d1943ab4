//! What Atlassian's rate-limit headers say, read the same way for every answer: how long it
//! asks us to wait, and whether the app's quota for the site is nearly spent.
//!
//! The wait is `Retry-After` (seconds); without it, the time until `X-RateLimit-Reset`, the ISO 8601
//! moment the limit resets (`2026-12-01T23:15:30Z`; Atlassian has also been seen to send
//! `2026-03-26T16:00Z`). Either is capped at [`MAX_WAIT_SECS`]; a value that does not parse is
//! ignored, never an error. `X-RateLimit-NearLimit: true` on a successful answer means less than 20%
//! of a budget is left.
//!
//! The typed client methods return plain values, so the near-limit mark travels beside them: a
//! task-local flag that [`watching_near_limit`] sets up around one call (`OnBehalf::call`) and
//! that `get.rs` raises when the answer it hands back carried the header. Outside such a call
//! (the sign-in's own calls) the mark is simply dropped. Nothing is stored: the notice is for the
//! page that received the answer.

use std::cell::Cell;
use std::future::Future;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;

use crate::rate_limits::MAX_WAIT_SECS;

tokio::task_local! {
    /// Raised when an answer of the call being watched said the quota is nearly spent.
    static NEAR_LIMIT: Cell<bool>;
}

/// How long Atlassian asks to wait, in seconds (at most [`MAX_WAIT_SECS`]), if it says: any
/// answer's `Retry-After`; a 429's `X-RateLimit-Reset`. (A 503 without `Retry-After` is a failure,
/// not a request to wait: a reset time alone does not make it one.)
pub fn asked_wait(status: StatusCode, headers: &HeaderMap, now: OffsetDateTime) -> Option<u64> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = text(RETRY_AFTER.as_str()).and_then(|v| v.parse::<u64>().ok()) {
        return Some(secs.min(MAX_WAIT_SECS));
    }
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    text("x-ratelimit-reset").and_then(|reset| wait_until(reset, now))
}

/// Whole seconds from `now` until `reset` (at least 1: the limit was hit), or `None` for junk.
fn wait_until(reset: &str, now: OffsetDateTime) -> Option<u64> {
    let at = OffsetDateTime::parse(reset, &Iso8601::DEFAULT).ok()?;
    let left = at - now;
    let secs = left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0);
    Some(u64::try_from(secs).unwrap_or(0).clamp(1, MAX_WAIT_SECS))
}

/// Whether the answer says the app's quota is nearly spent.
pub fn says_near_limit(headers: &HeaderMap) -> bool {
    headers.get("x-ratelimit-nearlimit").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// Runs `call` and tells whether any answer it received said the quota is nearly spent.
pub async fn watching_near_limit<F: Future>(call: F) -> (F::Output, bool) {
    NEAR_LIMIT
        .scope(Cell::new(false), async {
            let output = call.await;
            (output, NEAR_LIMIT.with(Cell::get))
        })
        .await
}

/// Marks the call being watched, if any.
pub(super) fn mark_near_limit() {
    let _outside_a_watched_call = NEAR_LIMIT.try_with(|flag| flag.set(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use time::macros::datetime;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    const NOW: OffsetDateTime = datetime!(2026-12-01 23:15:00.250 UTC);

    #[test]
    fn retry_after_wins_and_is_capped() {
        let both = headers(&[("retry-after", " 12 "), ("x-ratelimit-reset", "2026-12-01T23:16:00Z")]);
        assert_eq!(asked_wait(StatusCode::TOO_MANY_REQUESTS, &both, NOW), Some(12));
        assert_eq!(
            asked_wait(StatusCode::SERVICE_UNAVAILABLE, &headers(&[("retry-after", "999999999")]), NOW),
            Some(MAX_WAIT_SECS)
        );
    }

    #[test]
    fn without_retry_after_the_wait_runs_to_the_reset() {
        let wait =
            |reset: &str| asked_wait(StatusCode::TOO_MANY_REQUESTS, &headers(&[("x-ratelimit-reset", reset)]), NOW);
        let only_reset = headers(&[("x-ratelimit-reset", "2026-12-01T23:15:30Z")]);
        assert_eq!(asked_wait(StatusCode::SERVICE_UNAVAILABLE, &only_reset, NOW), None, "a 503 is no 429");
        assert_eq!(wait("2026-12-01T23:15:30Z"), Some(30), "29.75 s, rounded up");
        assert_eq!(wait("2026-12-01T23:16Z"), Some(60), "minutes only, as Atlassian has sent it");
        assert_eq!(wait("2026-12-02T00:15:30+01:00"), Some(30), "any offset");
        assert_eq!(wait("2026-12-01T23:15:30.750Z"), Some(31));
        assert_eq!(wait("2026-12-01T23:00:00Z"), Some(1), "a reset already past still waits a moment");
        assert_eq!(wait("2027-12-01T23:15:30Z"), Some(MAX_WAIT_SECS), "bounded");
        assert_eq!(wait("+999999-12-01T23:15:30Z"), None);
    }

    #[test]
    fn junk_is_no_wait_and_no_panic() {
        for junk in ["", "soon", "2026-13-45T99:99:99Z", "-5", "2026-12-01 23:15:30", "12.5"] {
            let h = headers(&[("retry-after", junk), ("x-ratelimit-reset", junk)]);
            assert_eq!(asked_wait(StatusCode::TOO_MANY_REQUESTS, &h, NOW), None, "{junk:?}");
        }
        assert_eq!(asked_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), NOW), None);
    }

    #[test]
    fn near_limit_is_true_only_when_it_says_true() {
        assert!(says_near_limit(&headers(&[("x-ratelimit-nearlimit", "true")])));
        assert!(says_near_limit(&headers(&[("x-ratelimit-nearlimit", "TRUE")])));
        assert!(!says_near_limit(&headers(&[("x-ratelimit-nearlimit", "false")])));
        assert!(!says_near_limit(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn a_mark_reaches_the_watcher_of_that_call_only() {
        let (_, marked) = watching_near_limit(async { mark_near_limit() }).await;
        assert!(marked);
        let (_, quiet) = watching_near_limit(async {}).await;
        assert!(!quiet);
        mark_near_limit(); // outside a watched call: nothing to mark, no panic
    }
}
