//! Refreshing tokens exactly once, across concurrent requests and instances, and ending the
//! session cleanly when Atlassian ends the grant.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use support::{TestApp, browser};
use threelo_emulator::Emulator;
use threelo_emulator::seed::ids::{ACME_SITE, ALICE, SHOWCASE_ISSUE};

fn acme() -> &'static str {
    Emulator::sites().iter().find(|s| s.name == ACME_SITE).expect("seed site acme").cloud_id
}

async fn status_and_body(client: &reqwest::Client, url: String, cookie: &str) -> (StatusCode, String) {
    let response = client.get(url).header(COOKIE, cookie).send().await.expect("request");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn fifty_concurrent_requests_after_the_token_expired_refresh_exactly_once() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.expire_access_tokens();
    let cookie = app.cookies().unwrap();
    let url = app.url(&format!("/sites/{}/jira/issues", acme()));
    let client = browser();
    let results = join_all((0..50).map(|_| status_and_body(&client, url.clone(), &cookie))).await;
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body:.300}");
        assert!(body.contains(SHOWCASE_ISSUE), "the issues are there");
    }
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "exactly one refresh");
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_before_use() {
    let app = TestApp::spawn().await;
    app.emulator.set_access_token_ttl(Duration::from_secs(30));
    assert_eq!(app.sign_in_as(ALICE).await.status(), StatusCode::SEE_OTHER);
    // Tokens from the refresh live an hour, so exactly one refresh is needed.
    app.emulator.set_access_token_ttl(Duration::from_secs(3600));
    let before = app.emulator.count("/ex/jira");
    let page = app.get(&format!("/sites/{}/jira/issues", acme())).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(app.emulator.token_grants("refresh_token"), 1);
    assert_eq!(app.emulator.count("/ex/jira") - before, 1, "no call was wasted on the old token");
}

#[tokio::test]
async fn two_instances_racing_on_one_expired_session_refresh_exactly_once() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let sibling = app.spawn_sibling(&[]).await;
    app.emulator.expire_access_tokens();
    let cookie = app.cookies().unwrap();
    let path = format!("/sites/{}/jira/issues", acme());
    let client = browser();
    let requests = (0..40).map(|n| {
        let base = if n % 2 == 0 { app.address.clone() } else { sibling.clone() };
        status_and_body(&client, format!("{base}{path}"), &cookie)
    });
    for (status, body) in join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body:.300}");
    }
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "one refresh across both instances");
}

#[tokio::test]
async fn refreshed_tokens_are_stored_before_use_and_keep_working() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    for _ in 0..3 {
        app.emulator.expire_access_tokens();
        let page = app.get(&format!("/sites/{}/jira/issues", acme())).await;
        assert_eq!(page.status(), StatusCode::OK);
    }
    assert_eq!(app.emulator.token_grants("refresh_token"), 3, "each refresh used the newest refresh token");
    let secrets = app.emulator.issued_secrets();
    for (key, value) in app.redis.dump() {
        assert!(!secrets.iter().any(|s| value.contains(s.as_str())), "plaintext token under {key}");
    }
}

#[tokio::test]
async fn a_revoked_grant_ends_the_session_with_a_page_that_says_why() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.revoke_grants(ALICE);
    app.emulator.expire_access_tokens();
    let page = app.get(&format!("/sites/{}/jira/issues", acme())).await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    let body = page.text().await.unwrap();
    assert!(body.contains("Your Atlassian sign-in has ended") && body.contains("/auth/login"), "{body}");
    assert!(app.page("/").await.contains("Sign in with Atlassian"), "signed out");
    assert!(app.stored_count("threelo:token:") == 0, "the record is gone");
}

#[tokio::test]
async fn a_rotated_out_refresh_token_reused_after_the_leeway_ends_the_session_cleanly() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (record_key, old_value) = app.stored("threelo:token:").expect("a token record");
    app.emulator.expire_access_tokens();
    assert_eq!(app.get(&format!("/sites/{}/jira/issues", acme())).await.status(), StatusCode::OK);
    // A stale copy of the record (holding the first refresh token) comes back, e.g. from a backup.
    app.redis.set(&record_key, &old_value);
    app.emulator.advance_clock(Duration::from_secs(11 * 60));
    app.emulator.expire_access_tokens();
    let page = app.get(&format!("/sites/{}/jira/issues", acme())).await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.text().await.unwrap().contains("Your Atlassian sign-in has ended"));
    assert!(app.page("/").await.contains("Sign in with Atlassian"));
}

#[tokio::test]
async fn a_refresh_that_times_out_is_not_repeated_at_once() {
    let app = TestApp::spawn_with(&[("THREELO_UPSTREAM_TIMEOUT", "1s")]).await;
    app.sign_in().await;
    app.emulator.expire_access_tokens();
    app.emulator.set_latency("/oauth/token", Duration::from_millis(1500));
    let path = format!("/sites/{}/jira/issues", acme());
    let first = app.get(&path).await;
    assert_eq!(first.status(), StatusCode::BAD_GATEWAY);
    app.emulator.set_latency("/oauth/token", Duration::ZERO);
    let second = app.get(&path).await;
    assert_eq!(second.status(), StatusCode::BAD_GATEWAY, "the unknown outcome is given a pause");
    // The slow refresh is logged by the emulator when it finally answers.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let sent = app.emulator.requests().iter().filter(|r| r.path == "/oauth/token").count();
    assert_eq!(sent, 2, "the sign-in's exchange and one refresh, not a second one at once");
}

#[tokio::test]
async fn a_refresh_reseals_the_record_under_the_new_first_key() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let old = app.env.iter().find(|(k, _)| k == "THREELO_TOKEN_KEYS").unwrap().1.clone();
    let rotated =
        app.spawn_sibling(&[("THREELO_TOKEN_KEYS", &format!("k2:{},{old}", threelo::config::random_b64(32)))]).await;
    let record = || app.stored("threelo:token:").unwrap().1;
    assert!(record().starts_with("1:k1."), "{}", record());
    app.emulator.expire_access_tokens();
    let cookie = app.cookies().unwrap();
    let (status, _) = status_and_body(&browser(), format!("{rotated}/sites/{}/jira/issues", acme()), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(record().starts_with("2:k2."), "resealed under k2 on its next write: {}", record());
}

#[tokio::test]
async fn a_page_at_the_edge_of_expiry_answers_with_the_old_token_while_one_refresh_runs_behind_it() {
    let app = TestApp::spawn().await;
    // Four minutes left: inside the five in which a refresh runs ahead of expiry.
    app.emulator.set_access_token_ttl(Duration::from_secs(240));
    assert_eq!(app.sign_in_as(ALICE).await.status(), StatusCode::SEE_OTHER);
    app.emulator.set_access_token_ttl(Duration::from_secs(3600));
    // A slow token endpoint: a page that waited for the refresh could not answer before it.
    app.emulator.set_latency("/oauth/token", Duration::from_secs(3));
    let issues = format!("/sites/{}/jira/issues", acme());
    let page = app.get(&issues).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(app.emulator.token_grants("refresh_token"), 0, "the page did not wait for the refresh");
    let mut waited = Duration::ZERO;
    while app.emulator.token_grants("refresh_token") == 0 && waited < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "the refresh ran behind the page");
    // Pages meanwhile and after use what they have, and nothing refreshes again.
    app.emulator.set_latency("/oauth/token", Duration::ZERO);
    for _ in 0..3 {
        assert_eq!(app.get(&issues).await.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "exactly one refresh");
}

#[tokio::test]
async fn a_refresh_answered_unauthorized_client_ends_the_session_as_a_revoked_grant_does() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.revoke_grants_for_reuse(ALICE);
    app.emulator.expire_access_tokens();
    let page = app.get(&format!("/sites/{}/jira/issues", acme())).await;
    assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
    assert!(page.text().await.unwrap().contains("Your Atlassian sign-in has ended"));
    assert!(app.stored_count("threelo:token:") == 0, "the record is gone");
    let refused = app.emulator.requests().into_iter().filter(|r| r.path == "/oauth/token" && r.status == 403).count();
    assert_eq!(refused, 1, "one refresh was tried, and not again");
}
