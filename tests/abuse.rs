//! Findings of an abuse review, each driven through the real app: a `return_to` that leaves the
//! path prefix.

mod support;

use reqwest::StatusCode;
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
