//! Findings of an abuse review, each driven through the real app: a `return_to` that leaves the
//! path prefix, error pages a shared cache could keep, and what the example configs log.

mod support;

use reqwest::StatusCode;
use reqwest::header::CACHE_CONTROL;
use support::{TestApp, browser, location, sign_in};

/// Where a browser lands after following `location`, resolved by WHATWG URL rules as a browser
/// does (so `%2e%2e` counts as `..`).
fn landing_path(location: &str) -> String {
    reqwest::Url::parse(location).map(|url| url.path().to_owned()).unwrap_or_else(|_| location.to_owned())
}

#[tokio::test]
async fn sign_in_behind_a_prefix_never_lands_outside_it_whatever_return_to_hides() {
    let (app, _nginx, _direct) = TestApp::spawn_behind_nginx("/atl", &[]).await;
    for hostile in [
        "/atl/%2e%2e/evilapp",
        "/atl/%2E%2e/evilapp",
        "/atl/.%2e/evilapp",
        "/atl/%252e%252e/evilapp",
        "/atl/..%2fevilapp",
        "/atl/%2e%2e%5cevilapp",
        "/atl//evil.example/",
    ] {
        let mut login = reqwest::Url::parse(&app.url("/atl/auth/login")).expect("login URL");
        login.query_pairs_mut().append_pair("return_to", hostile);
        // A fresh browser each time, so every value goes through the whole sign-in.
        let client = browser();
        let callback = sign_in(&client, login.as_str()).await;
        assert_eq!(callback.status(), StatusCode::SEE_OTHER, "the sign-in still works with {hostile:?}");
        let landed = location(callback.headers());
        assert!(landed.starts_with(&app.address), "{landed} is on our origin");
        let path = landing_path(&landed);
        assert!(path.starts_with("/atl/"), "return_to {hostile:?} sent the browser to {path} ({landed})");
        assert_eq!(path, "/atl/", "a refused return_to falls back to the start page");
    }
    // A plain path under the prefix still works, through the same proxy.
    let mut login = reqwest::Url::parse(&app.url("/atl/auth/login")).expect("login URL");
    login.query_pairs_mut().append_pair("return_to", "/atl/sites");
    let callback = sign_in(&browser(), login.as_str()).await;
    assert_eq!(landing_path(&location(callback.headers())), "/atl/sites");
}

#[tokio::test]
async fn error_pages_tell_caches_not_to_store_them() {
    let app = TestApp::spawn().await;
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
    let expired = app.get("/auth/callback?code=x&state=unknown").await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    assert_eq!(expired.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
}

#[test]
fn the_example_nginx_access_log_writes_the_path_never_the_query() {
    let config = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/nginx/threelo.conf"))
        .expect("the example nginx config");
    let start = config.find("log_format threelo").expect("a log_format named threelo");
    let end = start + config[start..].find(';').expect("the end of log_format");
    let format = &config[start..end];
    assert!(format.contains("$uri"), "the access log names the path: {format}");
    for query_bearing in ["$request ", "$request\"", "$request_uri", "$args", "$query_string", "$arg_"] {
        assert!(!format.contains(query_bearing), "{query_bearing} would log the callback's code: {format}");
    }
}

#[tokio::test]
async fn a_site_listed_once_per_product_is_one_site_whose_jira_and_confluence_pages_both_work() {
    let app = TestApp::spawn().await;
    // Atlassian's other shape of accessible-resources: acme (Jira and Confluence) twice, once
    // with its Jira scopes, once with its Confluence scopes.
    app.emulator.set_resources_per_product(true);
    app.sign_in().await;
    let acme = threelo::emulator::Emulator::sites()[0].cloud_id;

    let sites = app.get("/sites").await;
    assert_eq!(sites.status(), StatusCode::OK);
    let page = sites.text().await.expect("a body");
    // The list itself, not the header's site switcher.
    let sites = page.split_once("<ul class=\"sites\">").map(|(_, list)| list).unwrap_or_default();
    assert_eq!(sites.matches("class=\"card site\"").count(), 2, "acme and beta, each once:\n{page}");
    assert_eq!(sites.matches(&format!("/sites/{acme}/jira/issues\"")).count(), 1, "{sites}");
    assert_eq!(sites.matches(&format!("/sites/{acme}/confluence/spaces\"")).count(), 1, "{sites}");

    let issues = app.get(&format!("/sites/{acme}/jira/issues")).await;
    assert_eq!(issues.status(), StatusCode::OK, "acme's Jira issues");
    let spaces = app.get(&format!("/sites/{acme}/confluence/spaces")).await;
    assert_eq!(spaces.status(), StatusCode::OK, "acme's Confluence spaces");
}
