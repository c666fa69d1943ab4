//! Findings of an abuse review, each driven through the real app: a `return_to` that leaves the
//! path prefix, error pages a shared cache could keep, and what the example configs log.

mod support;

use std::time::{Duration, Instant};

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
    let acme = threelo_emulator::Emulator::sites()[0].cloud_id;

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

/// A plain connection to the test's Redis, as a crashed instance's leftovers are planted with.
fn redis_conn(app: &TestApp) -> redis::Connection {
    redis::Client::open(app.redis.url()).and_then(|c| c.get_connection()).expect("a Redis connection")
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_instance_delays_a_refresh_by_seconds_not_the_whole_page() {
    let app = TestApp::spawn().await;
    // Tokens that are always due for refresh (the app refreshes within 60 s of expiry).
    app.emulator.set_access_token_ttl(Duration::from_secs(30));
    app.sign_in().await;
    let acme = threelo_emulator::Emulator::sites()[0].cloud_id;
    let issues = format!("/sites/{acme}/jira/issues");

    // Learn the lease a holder sets (key and TTL) by watching a real refresh that is slowed down.
    app.emulator.set_latency("/oauth/token", Duration::from_millis(1200));
    let page = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url(&issues));
        async move { client.get(url).send().await.map(|r| r.status()) }
    });
    let mut conn = redis_conn(&app);
    let (mut lease, mut ttl_ms) = (None, 0_i64);
    let watch_until = Instant::now() + Duration::from_secs(5);
    while !page.is_finished() && Instant::now() < watch_until {
        let keys: Vec<String> = redis::cmd("KEYS").arg("threelo:lease:*").query(&mut conn).expect("KEYS");
        if let Some(key) = keys.into_iter().next() {
            let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).expect("PTTL");
            ttl_ms = ttl_ms.max(pttl);
            lease = Some(key);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(page.await.expect("the page task").expect("the page"), StatusCode::OK);
    app.emulator.set_latency("/oauth/token", Duration::ZERO);
    let lease = lease.expect("the refresh took a lease in Redis");
    assert!(ttl_ms > 0, "the lease has a TTL");
    // What an instance that crashed right after renewing its lease leaves behind: the full TTL.
    let crashed_ttl_ms = (ttl_ms + 999) / 1000 * 1000;

    redis::cmd("SET")
        .arg(&lease)
        .arg("held-by-a-crashed-instance")
        .arg("PX")
        .arg(crashed_ttl_ms)
        .query::<()>(&mut conn)
        .expect("SET the lease");
    let refreshes_before = app.emulator.token_grants("refresh_token");
    let started = Instant::now();
    let response = app.get(&issues).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK, "the page still works (lease TTL {crashed_ttl_ms} ms)");
    assert!(response.text().await.expect("a body").contains("ACME-"), "the page lists acme's issues");
    assert_eq!(app.emulator.token_grants("refresh_token"), refreshes_before + 1, "exactly one token request");
    assert!(waited < Duration::from_secs(10), "a crashed holder stalled the page for {waited:?}");
}

/// `{"type": kind, "content": [child]}`, built by hand (the `json!` macro would recurse).
fn adf_node(kind: &str, child: serde_json::Value) -> serde_json::Value {
    let mut node = serde_json::Map::new();
    node.insert("type".into(), kind.into());
    node.insert("content".into(), serde_json::Value::Array(vec![child]));
    serde_json::Value::Object(node)
}

/// An ADF doc whose paragraph saying `words` sits inside `levels` levels of `wrap`.
fn deep_doc(levels: usize, words: &str, wrap: impl Fn(serde_json::Value) -> serde_json::Value) -> serde_json::Value {
    let mut node = serde_json::json!({"type": "paragraph", "content": [{"type": "text", "text": words}]});
    for _ in 0..levels {
        node = wrap(node);
    }
    let mut doc = adf_node("doc", node);
    doc["version"] = 1.into();
    doc
}

#[tokio::test]
async fn an_issue_whose_description_nests_past_the_json_limit_still_shows_its_page_and_text() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let acme = threelo_emulator::Emulator::sites()[0].cloud_id;
    let lists = deep_doc(31, "words inside 31 lists", |n| adf_node("bulletList", adf_node("listItem", n)));
    let quotes = deep_doc(63, "words inside 63 quotes", |n| adf_node("blockquote", n));
    for (key, doc, words) in [("ACME-1", lists, "words inside 31 lists"), ("ACME-2", quotes, "words inside 63 quotes")]
    {
        app.emulator.set_issue_description(key, doc);
        let response = app.get(&format!("/sites/{acme}/jira/issues/{key}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{key}'s page");
        let page = response.text().await.expect("a body");
        assert!(page.contains(words), "the description's text, flattened past the cap:\n{page}");
        assert!(page.contains("<h1") && page.contains(key), "the rest of the page:\n{page}");
    }
}
