//! The `/api` proxy with the browser's session: which paths pass, who may call, CSRF, faithful
//! passing (status, headers, streamed body), bounds, refresh and metrics.

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use support::{TestApp, browser_with_jar};
use threelo_emulator::seed::ids::{
    ACME_SITE, ALICE, BETA_SITE, BOB, LARGE_ATTACHMENT, LARGE_ATTACHMENT_BYTES, SHOWCASE_ISSUE,
};
use threelo_emulator::{ConsentMode, Emulator, Fault};

fn site(name: &str) -> &'static str {
    Emulator::sites().iter().find(|s| s.name == name).expect("seed site").cloud_id
}

fn jira(name: &str, rest: &str) -> String {
    format!("/api/ex/jira/{}/rest/api/3/{rest}", site(name))
}

/// Checks the proxy's own error shape and returns its code.
async fn error_code(response: reqwest::Response) -> String {
    assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    body["error"].as_str().expect("an error code").to_owned()
}

/// Sends `request` (a whole HTTP/1.1 head, and a body) byte for byte, as no URL parser would let
/// a client send it; returns the status and the whole answer.
fn raw_status(app: &TestApp, request: &str) -> u16 {
    raw(app, request).0
}

fn raw(app: &TestApp, request: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", app.port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status =
        text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:.200}"));
    (status, text)
}

fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let cookie = app.cookies().unwrap_or_default();
    raw(app, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"))
}

#[tokio::test]
async fn a_signed_in_browser_reads_identity_and_jira_through_the_proxy() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let me = app.get("/api/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers().get("cache-control").unwrap(), "no-store");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["nickname"], ALICE);
    let sites: Value = app.get("/api/oauth/token/accessible-resources").await.json().await.unwrap();
    assert!(sites.as_array().is_some_and(|s| s.len() == 2), "{sites}");

    let search = app
        .get(&format!("{}?jql=project%20%3D%20ACME&fields=summary&maxResults=3", jira(ACME_SITE, "search/jql")))
        .await;
    assert_eq!(search.status(), StatusCode::OK);
    assert!(search.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
    let found: Value = search.json().await.unwrap();
    assert_eq!(found["issues"].as_array().map(Vec::len), Some(3), "{found}");
    let issue: Value = app.get(&jira(ACME_SITE, &format!("issue/{SHOWCASE_ISSUE}"))).await.json().await.unwrap();
    assert_eq!(issue["key"], SHOWCASE_ISSUE);
    let comments: Value =
        app.get(&jira(ACME_SITE, &format!("issue/{SHOWCASE_ISSUE}/comment"))).await.json().await.unwrap();
    assert_eq!(comments["comments"].as_array().map(Vec::len), Some(2), "{comments}");
    let pages = app.get(&format!("/api/ex/confluence/{}/wiki/api/v2/pages?limit=5", site(ACME_SITE))).await;
    assert_eq!(pages.status(), StatusCode::OK);

    let logged = app.emulator.requests();
    let call = logged.iter().rev().find(|r| r.path.ends_with("/search/jql")).expect("the search went up");
    assert_eq!(call.query, "jql=project%20%3D%20ACME&fields=summary&maxResults=3", "the query as sent");
    assert_eq!(call.bearer_issued, Some(true), "with alice's Atlassian token");
}

#[tokio::test]
async fn only_the_four_headers_go_up_and_never_the_callers_cookie() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let response = app
        .client
        .get(app.url("/api/me"))
        .header("Accept", "application/json")
        .header("Accept-Language", "de-CH")
        .header("X-Atlassian-Token", "no-check")
        .header("X-Forwarded-For", "10.9.8.7")
        .header("X-Custom", "private")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let call = app.emulator.requests().into_iter().rev().find(|r| r.path == "/me").unwrap();
    let names: Vec<&str> = call.headers.iter().map(|(name, _)| name.as_str()).collect();
    let value = |name: &str| call.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(value("accept-language"), Some("de-CH"));
    assert_eq!(value("x-atlassian-token"), Some("no-check"));
    assert_eq!(value("accept"), Some("application/json"));
    for refused in ["cookie", "x-custom", "x-forwarded-for"] {
        assert!(!names.contains(&refused), "{refused} went up: {names:?}");
    }
    assert_eq!(call.bearer_issued, Some(true));
}

#[tokio::test]
async fn without_credentials_the_proxy_answers_401_json_never_a_redirect() {
    let app = TestApp::spawn().await;
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cases: [(&str, Option<String>); 5] = [
        ("none", None),
        ("basic", Some("Basic YWxpY2U6c2VjcmV0".to_owned())),
        ("junk bearer", Some("Bearer abc".to_owned())),
        ("unknown key", Some(format!("Bearer thr_{}", "A".repeat(43)))),
        ("empty bearer", Some("Bearer ".to_owned())),
    ];
    for (what, authorization) in cases {
        for path in ["/api/me".to_owned(), jira(ACME_SITE, "search/jql")] {
            let mut request = anonymous.get(app.url(&path));
            if let Some(value) = &authorization {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what} {path}");
            assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer", "{what}");
            assert!(response.headers().get("location").is_none(), "{what}: never a redirect");
            assert_eq!(error_code(response).await, "unauthorized", "{what}");
        }
    }
    assert_eq!(app.emulator.count("/me") + app.emulator.count("/ex/"), 0, "nothing reached Atlassian");
}

#[tokio::test]
async fn paths_outside_the_four_shapes_are_404_json_and_reach_nothing() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let acme = site(ACME_SITE);
    let before = app.emulator.requests().len();
    for path in [
        "/api/".to_owned(),
        "/api/admin".to_owned(),
        "/api/Me".to_owned(),
        "/api/oauth/token".to_owned(),
        format!("/api/ex/jira/{acme}/wiki/api/v2/pages"),
        format!("/api/ex/bitbucket/{acme}/rest/x"),
        "/api/ex/jira/00000000-0000-4000-8000-000000000000/rest/api/3/myself".to_owned(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(response).await, "not_found", "{path}");
    }
    // Sent byte for byte: a URL parser would normalise these before they left the client.
    for path in [
        format!("/api/ex/jira/{acme}/rest/api/3/../../../../me"),
        format!("/api/ex/jira/{acme}/rest/api/3/%2e%2e/%2E%2E/myself"),
        format!("/api/ex/jira/{acme}/rest/api/3/.%2e/myself"),
        format!("/api/ex/jira/{acme}/rest/./api/3/myself"),
        format!("/api/ex/jira/{acme}/rest/api%2f3/myself"),
        format!("/api/ex/jira/{acme}/rest/api%2F3/myself"),
        format!("/api/ex/jira/{acme}/rest/api%5c3/myself"),
        format!("/api/ex/jira/{acme}/rest/api%5C3/myself"),
        format!("/api/ex/jira/{acme}/rest/api/3/%252e%252e/myself"),
        format!("/api/ex/jira/{acme}/rest//api/3/myself"),
        "/api/ex/jira/..%2f..%2fme".to_owned(),
        "/api/me/..".to_owned(),
    ] {
        let (status, answer) = raw_get(&app, &path);
        assert_eq!(status, 404, "{path}");
        assert!(answer.contains(r#"{"error":"not_found","#), "the proxy's own JSON: {answer}");
    }
    assert_eq!(app.emulator.requests().len(), before, "no call reached Atlassian");
    // The same client does reach a good path: the refusals were not about the session.
    assert_eq!(raw_get(&app, &jira(ACME_SITE, "myself")).0, 200);
}

#[tokio::test]
async fn a_cloud_id_outside_the_callers_grant_is_404_without_an_upstream_call() {
    let app = TestApp::spawn().await;
    let (bob, _) = browser_with_jar();
    app.emulator.set_consent(ConsentMode::Accept { login: BOB.to_owned() });
    support::sign_in(&bob, &app.url("/auth/login")).await;
    let before = app.emulator.count("/ex/");
    for path in [jira(BETA_SITE, "myself"), format!("/api/ex/confluence/{}/wiki/api/v2/pages", site(BETA_SITE))] {
        let response = bob.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    assert_eq!(app.emulator.count("/ex/"), before, "no call reached a product");
    let own = bob.get(app.url(&jira(ACME_SITE, "myself"))).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK, "bob's own site passes");
}

#[tokio::test]
async fn session_writes_need_x_csrf_and_must_not_be_cross_site() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let url = app.url(&jira(ACME_SITE, "search/jql"));
    let body = r#"{"jql":"project = ACME","maxResults":1}"#;
    let post = || app.client.post(&url).header("content-type", "application/json").body(body);
    let before = app.emulator.count("/ex/");
    let refused = [
        ("no X-CSRF", post()),
        ("X-CSRF: 0", post().header("X-CSRF", "0")),
        ("cross-site", post().header("X-CSRF", "1").header("Sec-Fetch-Site", "cross-site")),
        ("same-site", post().header("X-CSRF", "1").header("Sec-Fetch-Site", "same-site")),
        ("foreign origin", post().header("X-CSRF", "1").header("Origin", "https://evil.example")),
    ];
    for (what, request) in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        let code = error_code(response).await;
        assert!(code == "csrf" || code == "cross_site", "{what}: {code}");
    }
    assert_eq!(app.emulator.count("/ex/"), before, "no refused write reached Atlassian");
    let accepted = post().header("X-CSRF", "1").header("Origin", app.address.clone()).send().await.unwrap();
    assert_eq!(accepted.status(), StatusCode::OK);
    let found: Value = accepted.json().await.unwrap();
    assert_eq!(found["issues"].as_array().map(Vec::len), Some(1));
    // GET and HEAD need nothing.
    assert_eq!(app.client.head(app.url("/api/me")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_large_answer_is_streamed_as_it_comes_not_buffered() {
    let app = TestApp::spawn_with(&[("THREELO_UPSTREAM_TIMEOUT", "20s")]).await;
    app.sign_in().await;
    let mut response = app.get(&jira(ACME_SITE, &format!("attachment/content/{LARGE_ATTACHMENT}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("content-type").unwrap(), "application/octet-stream");
    let first = response.chunk().await.unwrap().expect("a first chunk");
    assert!(!first.is_empty());
    assert_eq!(app.emulator.finished_streams(), 0, "the first bytes arrived while Atlassian was still sending");
    let mut received = first.len();
    let mut chunks = 1;
    let mut pattern_ok = first.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8);
    while let Some(chunk) = response.chunk().await.unwrap() {
        pattern_ok &= chunk.iter().enumerate().all(|(i, b)| *b == ((received + i) % 251) as u8);
        received += chunk.len();
        chunks += 1;
    }
    assert_eq!(received, LARGE_ATTACHMENT_BYTES);
    assert!(pattern_ok, "every byte as Atlassian sent it");
    assert!(chunks > 1, "read in chunks");
    assert_eq!(app.emulator.finished_streams(), 1);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_nothing_is_sent() {
    let app = TestApp::spawn_with(&[("THREELO_API_MAX_BODY", "1k")]).await;
    app.sign_in().await;
    let path = jira(ACME_SITE, "search/jql");
    let before = app.emulator.count("/ex/");
    let big = format!(r#"{{"jql":"project = ACME","x":"{}"}}"#, "a".repeat(2000));
    let response = app
        .client
        .post(app.url(&path))
        .header("X-CSRF", "1")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(response).await, "body_too_large");
    // Chunked, with no length announced: counted as it arrives.
    let cookie = app.cookies().unwrap_or_default();
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF: 1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    assert_eq!(raw_status(&app, &chunked), 413);
    assert_eq!(app.emulator.count("/ex/"), before, "nothing was sent");
    let small = r#"{"jql":"project = ACME","maxResults":1}"#;
    let ok =
        app.client.post(app.url(&path)).header("X-CSRF", "1").header("content-type", "application/json").body(small);
    assert_eq!(ok.send().await.unwrap().status(), StatusCode::OK, "a body under the limit passes");
}

#[tokio::test]
async fn atlassians_status_and_rate_limit_headers_pass_back_without_a_retry() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    // Atlassian's cookies never reach the caller.
    let comments = app.get(&jira(ACME_SITE, &format!("issue/{SHOWCASE_ISSUE}/comment"))).await;
    assert_eq!(comments.status(), StatusCode::OK);
    for cookie in comments.headers().get_all("set-cookie") {
        assert!(!cookie.to_str().unwrap().contains("atlassian.xsrf.token"), "{cookie:?}");
    }
    // A 404 from the product is Atlassian's, passed back.
    let missing = app.get(&jira(ACME_SITE, "issue/ACME-999999")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert!(body["errorMessages"].is_array(), "{body}");

    let prefix = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&prefix, Fault { status: 429, retry_after: Some(7) }, 1);
    let before = app.emulator.count(&prefix);
    let response = app.get(&jira(ACME_SITE, "myself")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers();
    assert_eq!(headers.get("retry-after").unwrap(), "7");
    assert_eq!(headers.get("x-ratelimit-limit").unwrap(), "100");
    assert_eq!(headers.get("x-ratelimit-remaining").unwrap(), "0");
    assert!(headers.get("x-ratelimit-reset").is_some());
    assert_eq!(headers.get("ratelimit-reason").unwrap(), "jira-burst-based");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 429, "Atlassian's own body: {body}");
    assert_eq!(app.emulator.count(&prefix) - before, 1, "passed back, not retried");
}

#[tokio::test]
async fn a_429_is_remembered_for_the_site_and_shared_with_pages_and_other_instances() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let prefix = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&prefix, Fault { status: 429, retry_after: Some(30) }, 1);
    assert_eq!(app.get(&jira(ACME_SITE, "myself")).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let before = app.emulator.count(&prefix);
    let again = app.get(&jira(ACME_SITE, "myself")).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = again.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(error_code(again).await, "rate_limited");
    let page = app.get(&format!("/sites/{}/jira/issues", site(ACME_SITE))).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "the page waits too");
    // Another instance, sharing Redis, knows it without a call of its own.
    let sibling = app.spawn_sibling(&[]).await;
    let (client, _) = browser_with_jar();
    support::sign_in(&client, &format!("{sibling}/auth/login")).await;
    let elsewhere = client.get(format!("{sibling}{}", jira(ACME_SITE, "myself"))).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.emulator.count(&prefix), before, "no call in between");
    // Other sites and products carry on.
    assert_eq!(app.get(&jira(BETA_SITE, "myself")).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_a_get_sent_again() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.expire_access_tokens();
    let before = app.emulator.count("/me");
    let response = app.get("/api/me").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "one refresh");
    assert_eq!(app.emulator.count("/me") - before, 2, "a 401, then the same GET once more");
}

#[tokio::test]
async fn a_write_answered_401_is_passed_back_and_never_sent_twice() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.expire_access_tokens();
    let path = jira(ACME_SITE, "search/jql");
    let before = app.emulator.count("/ex/");
    let response = app
        .client
        .post(app.url(&path))
        .header("X-CSRF", "1")
        .header("content-type", "application/json")
        .body(r#"{"jql":"project = ACME"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.emulator.count("/ex/") - before, 1, "sent once");
    assert_eq!(app.emulator.token_grants("refresh_token"), 0, "no refresh for a request whose body was sent");
}

#[tokio::test]
async fn an_upstream_timeout_is_a_json_504() {
    let app = TestApp::spawn_with(&[("THREELO_UPSTREAM_TIMEOUT", "1s")]).await;
    app.sign_in().await;
    app.emulator.set_latency("/me", Duration::from_millis(2500));
    let response = app.get("/api/me").await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(error_code(response).await, "upstream_timeout");
}

#[tokio::test]
async fn proxy_calls_are_counted_by_product_method_class_and_status() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    assert_eq!(app.get(&jira(ACME_SITE, "myself")).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/nothing-here").await.status(), StatusCode::NOT_FOUND);
    let anonymous = reqwest::Client::new();
    let refused = anonymous.get(app.url("/api/me")).header("Authorization", "Bearer thr_x").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let metrics = app.page("/metrics").await;
    for line in [
        "threelo_api_requests_total{product=\"jira\",method=\"read\",caller=\"session\",status=\"200\"} 1",
        "threelo_api_requests_total{product=\"identity\",method=\"read\",caller=\"unknown\",status=\"404\"} 1",
        "threelo_api_requests_total{product=\"identity\",method=\"read\",caller=\"unknown\",status=\"401\"} 1",
        "threelo_access_keys_total{event=\"refused\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
}
