//! Access keys: made through a consent of their own, shown once, stored as hashes, independent of
//! browser sessions, revocable at once, read-only when asked, budgeted, and never a way into pages.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::{TestApp, location};
use threelo_emulator::seed::ids::{ACME_SITE, ALICE, BOB};
use threelo_emulator::{ConsentMode, Emulator};

fn acme() -> &'static str {
    Emulator::sites().iter().find(|s| s.name == ACME_SITE).expect("seed site").cloud_id
}

fn search_path() -> String {
    format!("/api/ex/jira/{}/rest/api/3/search/jql", acme())
}

/// A client with no cookies, as a script is.
fn script() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The key shown on a "new access key" page.
fn key_of(page: &str) -> String {
    let start = page.find("thr_").expect("a key on the page");
    page[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

/// Posts the new-key form and follows the consent; returns the final response.
async fn ask_for_key(app: &TestApp, name: &str, access: &str, days: &str) -> reqwest::Response {
    ask_for_key_at(&app.client, &app.address, name, access, days).await
}

/// The same with a signed-in `client` of the app at `base`.
async fn ask_for_key_at(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    access: &str,
    days: &str,
) -> reqwest::Response {
    let account = client.get(format!("{base}/account")).send().await.unwrap().text().await.unwrap();
    let csrf = support::csrf_of(&account);
    let form = [("name", name), ("access", access), ("days", days), ("csrf", &csrf)];
    let posted = client.post(format!("{base}/account/keys")).form(&form).send().await.unwrap();
    if posted.status() != StatusCode::SEE_OTHER {
        return posted;
    }
    let authorize = client.get(location(posted.headers())).send().await.unwrap();
    assert_eq!(authorize.status(), StatusCode::FOUND, "the emulator consents at once");
    client.get(location(authorize.headers())).send().await.unwrap()
}

/// Makes a key as alice and returns it.
async fn make_key(app: &TestApp, name: &str, access: &str) -> String {
    let response = ask_for_key(app, name, access, "30").await;
    assert_eq!(response.status(), StatusCode::OK);
    key_of(&response.text().await.unwrap())
}

async fn call(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    script().get(app.url(path)).bearer_auth(key).send().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("a JSON body");
    body["error"].as_str().expect("an error code").to_owned()
}

#[tokio::test]
async fn a_key_comes_from_a_consent_of_its_own_is_shown_once_and_calls_the_proxy() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let grants_before = app.emulator.token_grants("authorization_code");
    let response = ask_for_key(&app, "ci <bot>", "read", "30").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let page = response.text().await.unwrap();
    let key = key_of(&page);
    assert!(key.len() >= 4 + 43, "{key}");
    assert!(
        page.contains(&format!(
            "curl -H \"Authorization: Bearer {key}\" {}",
            app.url("/api/oauth/token/accessible-resources")
        )),
        "{page}"
    );
    assert!(page.contains("ci &") && !page.contains("ci <bot>"), "the name is escaped");
    assert_eq!(app.emulator.token_grants("authorization_code") - grants_before, 1, "a grant of its own");
    assert!(app.is_signed_in().await, "the browser's session is as it was");

    let me = call(&app, &key, "/api/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["nickname"], ALICE);
    let search = call(&app, &key, &format!("{}?jql=project%20%3D%20ACME&maxResults=2", search_path())).await;
    assert_eq!(search.status(), StatusCode::OK);

    let account = app.page("/account").await;
    assert!(account.contains("Access keys") && account.contains("ci &") && account.contains(">read<"), "{account}");
    assert!(!account.contains(&key), "the key is never shown again");
    assert!(!account.contains("<td>never</td>"), "last used is filled in:\n{account}");
    assert!(account.contains("does not revoke keys"), "the page says keys outlive sign-outs");
}

#[tokio::test]
async fn a_key_survives_signing_out_everywhere() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "survivor", "read").await;
    let csrf = app.csrf().await;
    let out = app.post_form("/auth/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!app.is_signed_in().await);
    assert_eq!(app.stored_count("threelo:session"), 0, "no session left");
    assert_eq!(call(&app, &key, "/api/me").await.status(), StatusCode::OK, "the key still works");
}

#[tokio::test]
async fn a_revoked_key_stops_at_the_next_call_without_reaching_atlassian() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "leaked", "write").await;
    assert_eq!(call(&app, &key, "/api/me").await.status(), StatusCode::OK);
    let account = app.page("/account").await;
    let marker = "name=\"id\" value=\"";
    let id_start = account.find(marker).expect("a revoke form") + marker.len();
    let id = account[id_start..].split('"').next().unwrap().to_owned();
    let csrf = support::csrf_of(&account);
    let revoked = app.post_form("/account/keys/revoke", &[("id", &id), ("csrf", &csrf)]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let before = app.emulator.requests().len();
    let response = call(&app, &key, "/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_eq!(error_code(response).await, "unauthorized");
    assert_eq!(app.emulator.requests().len(), before, "nothing reached Atlassian");
    assert!(!app.page("/account").await.contains("leaked"), "gone from the list");
    assert_eq!(app.stored_count("threelo:apikey:"), 0);
    let metrics = app.page("/metrics").await;
    assert!(metrics.contains("threelo_access_keys_total{event=\"revoked\"} 1"), "{metrics}");
    assert!(metrics.contains("threelo_access_keys_total{event=\"created\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_read_key_is_refused_on_post_and_a_write_key_is_not() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let read = make_key(&app, "reader", "read").await;
    let write = make_key(&app, "writer", "write").await;
    let body = r#"{"jql":"project = ACME","maxResults":1}"#;
    let post = |key: &str| {
        script().post(app.url(&search_path())).bearer_auth(key).header("content-type", "application/json").body(body)
    };
    let before = app.emulator.count("/ex/");
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let request = script()
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(&search_path()))
            .bearer_auth(&read);
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
        assert_eq!(error_code(response).await, "read_only_key");
    }
    assert_eq!(app.emulator.count("/ex/"), before, "no refused call reached Atlassian");
    let written = post(&write).send().await.unwrap();
    assert_eq!(written.status(), StatusCode::OK, "no X-CSRF needed with a key");
    let get = call(&app, &read, &format!("{}?jql=project%20%3D%20ACME", search_path())).await;
    assert_eq!(get.status(), StatusCode::OK, "a read key GETs");
}

#[tokio::test]
async fn keys_never_open_pages() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "not a browser", "write").await;
    for path in ["/", "/account", "/sites", &format!("/sites/{}/jira/issues", acme())] {
        let response = call(&app, &key, path).await;
        let text_status = response.status();
        let body = response.text().await.unwrap();
        assert!(!body.contains("Signed in as"), "{path}");
        assert!(text_status == StatusCode::OK || text_status == StatusCode::SEE_OTHER, "{path}: {text_status}");
        if path != "/" {
            assert_eq!(text_status, StatusCode::SEE_OTHER, "{path} asks to sign in");
        }
    }
}

#[tokio::test]
async fn redis_holds_only_a_hash_of_the_key_and_every_key_has_a_ttl() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "hashed", "read").await;
    assert_eq!(call(&app, &key, "/api/me").await.status(), StatusCode::OK);
    let dump = app.redis.dump();
    let secret = key.trim_start_matches("thr_");
    for (name, value) in &dump {
        assert!(!name.contains(secret) && !value.contains(secret), "the key in plaintext at {name}");
        for token in app.emulator.issued_secrets() {
            assert!(!value.contains(&token), "a token in plaintext at {name}");
        }
        assert!(app.redis.ttl(name) > 0, "{name} has no TTL");
    }
    use sha2::Digest;
    let hash: String = sha2::Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert!(dump.iter().any(|(name, _)| *name == format!("threelo:apikey:{hash}")), "{dump:?}");
}

#[tokio::test]
async fn an_expired_key_is_refused_at_once() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "short", "read").await;
    let (name, value) = app.stored("threelo:apikey:").expect("the key's entry");
    let mut entry: Value = serde_json::from_str(&value).unwrap();
    entry["expires_at"] = Value::from(entry["created_at"].as_i64().unwrap() - 1);
    app.redis.set(&name, &entry.to_string());
    let before = app.emulator.requests().len();
    let response = call(&app, &key, "/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.emulator.requests().len(), before);
    assert!(!app.page("/account").await.contains("short"), "an expired key is not listed");
}

#[tokio::test]
async fn a_key_whose_grant_ends_stops_working() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "doomed", "read").await;
    app.emulator.revoke_grants(ALICE);
    let response = call(&app, &key, "/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "grant_ended");
    assert_eq!(call(&app, &key, "/api/me").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_past_its_budget_gets_429_with_retry_after_and_no_upstream_call() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "runaway", "read").await;
    let budget = threelo::access_keys::BUDGET.calls as usize;
    let mut refused_at = None;
    let me_before = app.emulator.count("/me");
    for n in 0..(2 * budget + 2) {
        let response = call(&app, &key, "/api/me").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = response.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            assert_eq!(error_code(response).await, "key_rate_limited");
            refused_at = Some(n);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let refused_at = refused_at.expect("the budget ran out");
    // A minute may turn during the loop, so between one and two budgets' worth passed.
    assert!((budget..=2 * budget + 1).contains(&refused_at), "{refused_at}");
    assert_eq!(app.emulator.count("/me") - me_before, refused_at, "the refused call made none");
    assert_eq!(app.get("/api/me").await.status(), StatusCode::OK, "the browser's session has its own budget");
}

#[tokio::test]
async fn the_key_form_is_checked_and_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    for (name, access, days) in [("", "read", "30"), ("x", "admin", "30"), ("x", "read", "0"), ("x", "read", "91")] {
        let response = ask_for_key(&app, name, access, days).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name} {access} {days}");
    }
    let no_csrf = app.post_form("/account/keys", &[("name", "x"), ("access", "read"), ("days", "1")]).await;
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.stored_count("threelo:apikey"), 0, "no key was made");
    assert_eq!(app.emulator.token_grants("authorization_code"), 1, "only the sign-in's consent");
}

#[tokio::test]
async fn a_consent_given_for_another_account_makes_no_key() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    app.emulator.set_consent(ConsentMode::Accept { login: BOB.to_owned() });
    let response = ask_for_key(&app, "bob's?", "read", "30").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(!response.text().await.unwrap().contains("thr_"));
    assert_eq!(app.stored_count("threelo:apikey"), 0);
    assert!(app.is_signed_in().await, "alice is still signed in");
}

#[tokio::test]
async fn an_account_holds_at_most_twenty_keys() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    for n in 0..threelo::access_keys::MAX_KEYS_PER_ACCOUNT {
        make_key(&app, &format!("key {n}"), "read").await;
    }
    let grants = app.emulator.token_grants("authorization_code");
    let response = ask_for_key(&app, "one too many", "read", "30").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.emulator.token_grants("authorization_code"), grants, "refused before the consent");
}

#[tokio::test]
async fn the_example_script_runs_with_a_key() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "example", "read").await;
    let output = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/api_with_key.sh"))
        .env("THREELO_URL", &app.address)
        .env("THREELO_KEY", &key)
        .output()
        .expect("bash runs (the script needs curl and jq)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(threelo_emulator::seed::ids::ALICE_NAME), "{stdout}");
    assert!(stdout.contains("ACME-"), "alice's open issues: {stdout}");
    assert!(!stdout.contains(&key) && !stderr.contains(&key));
}

/// Kills the child when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_real_serve_never_logs_a_key_or_its_tokens() {
    use std::io::Read;
    let redis = support::RedisServer::start();
    let emulator = support::start_emulator().await;
    let port = support::free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_threelo"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("THREELO_")) {
        command.env_remove(name);
    }
    command.envs(support::env_for(&address, &emulator, Some(&redis)));
    command.env("THREELO_LISTEN", format!("127.0.0.1:{port}")).env("RUST_LOG", "debug");
    let child = command.arg("serve").stdout(std::process::Stdio::null()).stderr(log.reopen().unwrap()).spawn().unwrap();
    let _running = Running(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reqwest::get(format!("{address}/healthz")).await.map_or(true, |r| r.status() != StatusCode::OK) {
        assert!(std::time::Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let (client, _) = support::browser_with_jar();
    assert_eq!(support::sign_in(&client, &format!("{address}/auth/login")).await.status(), StatusCode::SEE_OTHER);
    let made = ask_for_key_at(&client, &address, "logged?", "write", "7").await;
    assert_eq!(made.status(), StatusCode::OK);
    let key = key_of(&made.text().await.unwrap());
    let me = script().get(format!("{address}/api/me")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let bad = script().get(format!("{address}/api/me")).bearer_auth(format!("{key}x")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let mut logs = String::new();
    log.reopen().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("access key created"), "the log is being captured:\n{logs}");
    let mut secrets = emulator.issued_secrets();
    secrets.push(key.trim_start_matches("thr_").to_owned());
    for secret in secrets {
        assert!(!logs.contains(&secret), "a secret leaked into the logs:\n{logs}");
    }
}

#[tokio::test]
async fn a_keys_429_is_remembered_for_the_account_so_the_next_call_waits_without_reaching_atlassian() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "busy", "read").await;
    let prefix = format!("/ex/jira/{}", acme());
    let myself = format!("/api/ex/jira/{}/rest/api/3/myself", acme());
    app.emulator.inject(&prefix, threelo_emulator::Fault { status: 429, retry_after: Some(20) }, 1);
    assert_eq!(call(&app, &key, &myself).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let before = app.emulator.count(&prefix);
    let again = call(&app, &key, &myself).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(again.headers().get("retry-after").is_some());
    assert_eq!(error_code(again).await, "rate_limited");
    assert_eq!(app.get(&myself).await.status(), StatusCode::TOO_MANY_REQUESTS, "the browser's calls wait too");
    assert_eq!(app.emulator.count(&prefix), before, "no call in between");
    assert_eq!(call(&app, &key, "/api/me").await.status(), StatusCode::OK, "identity carries on");
}

#[tokio::test]
async fn a_keys_expired_token_is_refreshed_once_for_many_concurrent_calls_and_its_record_keeps_the_keys_ttl() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let key = make_key(&app, "parallel", "read").await; // 30 days
    app.emulator.expire_access_tokens();
    let before = app.emulator.token_grants("refresh_token");
    let calls = (0..10).map(|_| call(&app, &key, "/api/me"));
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(app.emulator.token_grants("refresh_token") - before, 1, "one refresh for all of them");
    let dump = app.redis.dump();
    let entry: Value = serde_json::from_str(&app.stored("threelo:apikey:").unwrap().1).unwrap();
    let record = format!("threelo:token:{}", entry["token_record"].as_str().unwrap());
    assert!(dump.iter().any(|(name, _)| *name == record), "the key's record: {record}");
    let ttl = app.redis.ttl(&record);
    assert!(ttl > 0 && ttl <= 30 * 86_400, "the refreshed record ends with its key, not later: {ttl}");
}
