//! The test knobs (faults, latency, the request log) and the server's life.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{SECRET, body, spawn};
use threelo_emulator::seed::ids::{ACME_CLOUD_ID, ALICE, SCOPES};
use threelo_emulator::{Fault, Limit};

#[tokio::test]
async fn injected_429s_carry_retry_after_and_rate_limit_headers_then_the_endpoint_answers() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    t.emu.inject("/ex/jira", Fault { status: 429, retry_after: Some(7) }, 2);
    for _ in 0..2 {
        let res = t.get(&token, &path).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = res.headers();
        assert_eq!(h["retry-after"], "7");
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert!(h.contains_key("x-ratelimit-limit"));
        assert_eq!(h["ratelimit-reason"], "jira-burst-based");
        assert!(!h.contains_key("x-ratelimit-nearlimit"), "a burst says nothing of the hourly quota");
        // ISO 8601 in UTC to the second, 7 s from now: the moment the wait ends.
        let reset = h["x-ratelimit-reset"].to_str().unwrap();
        let at = time::OffsetDateTime::parse(reset, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(reset.ends_with('Z') && !reset.contains('.'), "{reset}");
        let ahead = (at - time::OffsetDateTime::now_utc()).whole_seconds();
        assert!((5..=7).contains(&ahead), "{reset} is {ahead} s ahead");
        assert_eq!(body(res).await["code"], 429);
    }
    assert_eq!(t.get(&token, &path).await.status(), StatusCode::OK);
    assert_eq!(t.get(&token, "/me").await.status(), StatusCode::OK, "other paths unaffected");
}

#[tokio::test]
async fn quota_429s_name_the_product_and_say_the_quota_is_spent() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    t.emu.inject_limit("/ex/jira", Limit::GlobalQuota, None, 1);
    t.emu.inject_limit("/ex/confluence", Limit::TenantQuota, Some(30), 1);
    let res = t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers();
    assert!(!h.contains_key("retry-after"), "only the reset says how long");
    assert_eq!(h["ratelimit-reason"], "jira-quota-global-based");
    assert_eq!(h["x-ratelimit-nearlimit"], "true", "the hourly quota is what ran out");
    let res = t.get(&token, &format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/api/v2/spaces")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["ratelimit-reason"], "confluence-quota-tenant-based");
    assert_eq!(res.headers()["retry-after"], "30");
}

#[tokio::test]
async fn the_near_limit_knob_marks_successful_product_answers_only() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let jira = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    assert!(!t.get(&token, &jira).await.headers().contains_key("x-ratelimit-nearlimit"));
    t.emu.set_near_limit(true);
    let res = t.get(&token, &jira).await;
    assert_eq!((res.status(), res.headers()["x-ratelimit-nearlimit"].to_str().unwrap()), (StatusCode::OK, "true"));
    let missing = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/ACME-9999");
    assert!(!t.get(&token, &missing).await.headers().contains_key("x-ratelimit-nearlimit"), "errors are not marked");
    assert!(!t.get(&token, "/me").await.headers().contains_key("x-ratelimit-nearlimit"), "only the products'");
    t.emu.set_near_limit(false);
    assert!(!t.get(&token, &jira).await.headers().contains_key("x-ratelimit-nearlimit"));
}

#[tokio::test]
async fn injected_503_and_500_faults_reach_the_token_endpoint_too() {
    let t = spawn().await;
    let code = t.code(ALICE, SCOPES).await;
    t.emu.inject("/oauth/token", Fault { status: 503, retry_after: Some(3) }, 1);
    t.emu.inject("/oauth/token", Fault { status: 500, retry_after: None }, 1);
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "3");
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get("retry-after").is_none());
    assert_eq!(t.exchange(&code).await.status(), StatusCode::OK, "faults never touched the code");
}

#[tokio::test]
async fn latency_applies_to_matching_paths_until_set_back_to_zero() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    t.emu.set_latency("/me", Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(t.get(&token, "/me").await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    t.get(&token, "/oauth/token/accessible-resources").await;
    assert!(started.elapsed() < Duration::from_millis(400));
    t.emu.set_latency("/me", Duration::ZERO);
    let started = Instant::now();
    t.get(&token, "/me").await;
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn the_request_log_counts_calls_and_grant_types_and_never_holds_a_secret() {
    let t = spawn().await;
    let tokens = t.sign_in(ALICE, SCOPES).await;
    t.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    t.refresh("unknown").await;
    t.get(tokens["access_token"].as_str().unwrap(), "/me").await;
    let log = t.emu.requests();
    let paths: Vec<(&str, &str, u16)> = log.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.status)).collect();
    assert_eq!(
        paths,
        [
            ("GET", "/authorize", 302),
            ("POST", "/oauth/token", 200),
            ("POST", "/oauth/token", 200),
            ("POST", "/oauth/token", 403),
            ("GET", "/me", 200)
        ]
    );
    assert_eq!(log[1].grant_type.as_deref(), Some("authorization_code"));
    assert_eq!(log[3].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(t.emu.token_grants("authorization_code"), 1);
    assert_eq!(t.emu.token_grants("refresh_token"), 1);
    assert_eq!(t.emu.count("/oauth/token"), 3);
    assert_eq!(t.emu.count("/authorize"), 1);
    let secrets = t.emu.issued_secrets();
    assert!(secrets.contains(&SECRET.to_owned()));
    assert!(secrets.contains(&tokens["access_token"].as_str().unwrap().to_owned()));
    assert_eq!(secrets.len(), 1 + 1 + 2 + 2, "secret, code, two access and two refresh tokens");
    let dump = format!("{log:?}");
    assert!(secrets.iter().all(|s| !dump.contains(s.as_str())));
}

#[tokio::test]
async fn access_tokens_vary_in_length_so_clients_cannot_assume_one() {
    let t = spawn().await;
    let mut lengths = HashSet::new();
    for _ in 0..5 {
        lengths.insert(t.access_token(ALICE).await.len());
    }
    assert!(lengths.len() > 1, "{lengths:?}");
    assert!(lengths.iter().all(|l| *l >= 200));
}

#[tokio::test]
async fn stop_shuts_the_server_down() {
    let t = spawn().await;
    let url = format!("{}/me", t.emu.base_url());
    assert_eq!(t.http.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    t.emu.stop().await;
    assert!(t.http.get(&url).send().await.is_err());
}
