//! Running threelo: metrics, a Redis outage and recovery, graceful shutdown.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{RedisServer, TestApp, browser_with_jar, env_for, free_port, start_emulator};
use threelo_emulator::seed::ids::ACME_SITE;
use threelo_emulator::{Emulator, Fault};

fn acme_issues() -> String {
    let acme = Emulator::sites().iter().find(|s| s.name == ACME_SITE).expect("seed site").cloud_id;
    format!("/sites/{acme}/jira/issues")
}

/// The value of one metric line, `name{labels}`, in a /metrics text (0 when absent).
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_count_sign_ins_refreshes_rate_limits_and_requests() {
    let app = TestApp::spawn().await;
    let before = app.page("/metrics").await;
    assert!(before.ends_with("# EOF\n"), "OpenMetrics text:\n{before}");
    assert_eq!(metric(&before, "threelo_sign_ins_total{outcome=\"success\"}"), 0);

    app.sign_in().await;
    app.emulator.expire_access_tokens();
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);
    let jira = format!("/ex/jira/{}", &acme_issues()[7..43]);
    app.emulator.inject(&jira, Fault { status: 429, retry_after: Some(1) }, 1);
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);

    let answer = app.get("/metrics").await;
    let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    let after = answer.text().await.unwrap();
    // OpenMetrics names a counter's family without `_total`; its series carry it.
    assert!(after.contains("# TYPE threelo_http_requests counter"), "{after}");
    assert_eq!(metric(&after, "threelo_sign_ins_total{outcome=\"success\"}"), 1, "{after}");
    assert_eq!(metric(&after, "threelo_token_refreshes_total{outcome=\"refreshed\"}"), 1, "{after}");
    assert_eq!(metric(&after, "threelo_upstream_rate_limited_total{product=\"jira\"}"), 1, "{after}");
    let pages = "threelo_http_requests_total{route=\"/sites/{cloud_id}/jira/issues\",method=\"GET\",status=\"200\"}";
    assert_eq!(metric(&after, pages), 2, "{after}");
    assert!(after.contains("threelo_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/\"}"), "{after}");
}

/// Sends one request over a raw TCP connection (reqwest would refuse such methods) and returns
/// the answer's status line.
async fn raw_request(port: u16, method: String, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned()
    })
    .await
    .expect("the request thread")
}

/// The series of a /metrics text: `name{labels}` of every sample line.
fn series(text: &str) -> std::collections::BTreeSet<&str> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(s, _)| s)
        .collect()
}

#[tokio::test]
async fn made_up_http_methods_add_one_series_and_barely_grow_the_metrics() {
    let app = TestApp::spawn().await;
    // Once each first, so that the series of these two requests exist before counting.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.page("/metrics").await;
    let before = app.page("/metrics").await;

    for i in 0..50 {
        // 50 different methods of 1 to 8 KB, all valid tokens as HTTP defines them.
        let method = format!("JUNK{i}{}", "X".repeat(1024 + i * 146));
        let status = raw_request(app.port, method, "/healthz").await;
        assert!(status.starts_with("HTTP/1.1 4"), "the app answers a made-up method: {status:?}");
    }

    let after = app.page("/metrics").await;
    let (old, new) = (series(&before), series(&after));
    let added: Vec<&str> = new.difference(&old).copied().collect();
    assert_eq!(added.len(), 1, "one new series, not one per method: {added:?}");
    assert!(added[0].starts_with("threelo_http_requests_total{") && added[0].contains("method=\"other\""), "{added:?}");
    assert!(!after.contains("JUNK"), "no method spelled out in /metrics");
    assert!(after.len() < before.len() + 1024, "/metrics grew from {} to {} bytes", before.len(), after.len());
    assert_eq!(metric(&after, added[0]), 50, "{after}");
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address_off_the_public_port() {
    let port = free_port();
    let app = TestApp::spawn_with(&[("THREELO_METRICS_LISTEN", &format!("127.0.0.1:{port}"))]).await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND, "not on the public port");
    let own = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.text().await.unwrap().contains("threelo_http_requests_total"));
}

#[tokio::test]
async fn a_redis_outage_gives_503s_and_recovery_keeps_everyone_signed_in() {
    let mut app = TestApp::spawn().await;
    app.sign_in().await;
    app.redis.stop_keeping_data();
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("Temporarily unavailable"));
    assert_eq!(app.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let metrics = app.page("/metrics").await;
    assert!(metric(&metrics, "threelo_redis_errors_total") >= 1, "{metrics}");

    app.redis.start_again();
    // After a failure Redis is left alone for a moment (the circuit), then asked again.
    ready_within(&app, Duration::from_secs(5)).await;
    assert!(app.is_signed_in().await, "the session survived the outage");
}

/// Waits until `/readyz` answers 200: the app recovers by itself, within `bound`.
async fn ready_within(app: &TestApp, bound: Duration) {
    let start = Instant::now();
    while app.get("/readyz").await.status() != StatusCode::OK {
        assert!(start.elapsed() < bound, "the app did not recover within {bound:?} of Redis answering again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_redis_that_stops_answering_gives_503s_and_the_app_recovers_when_it_answers_again() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);
    app.redis.freeze();
    // Its sockets stay open, so no connection error says anything is wrong: only the deadline can.
    // A liveness guard, not a speed check: without the deadline these requests would hang.
    for _ in 0..3 {
        let page = tokio::time::timeout(Duration::from_secs(20), app.get(&acme_issues()))
            .await
            .expect("a Redis that does not answer must not hang a page");
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    app.redis.thaw();
    // The connections that timed out were dropped; fresh ones serve the same session.
    ready_within(&app, Duration::from_secs(5)).await;
    assert!(app.is_signed_in().await, "the session survived");
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn while_redis_stalls_requests_fail_fast_and_the_failure_is_logged_once_with_a_count() {
    let redis = RedisServer::start();
    let emulator = start_emulator().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    command.envs(env_for(&address, &emulator, Some(&redis))).env("THREELO_LISTEN", format!("127.0.0.1:{port}"));
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = command.arg("serve").stdout(Stdio::null()).stderr(log.reopen().unwrap()).spawn().unwrap();
    let _running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{address}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (client, _) = browser_with_jar();
    support::sign_in(&client, &format!("{address}/auth/login")).await;

    redis.freeze();
    // 40 page views one after another. Waiting the whole 2 s deadline each would take 80 s; with
    // the circuit only about one call per second waits. The bound is generous, not a speed check.
    let start = Instant::now();
    for _ in 0..40 {
        let page = tokio::time::timeout(Duration::from_secs(20), client.get(format!("{address}/")).send())
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "40 pages took {took:?} while Redis stalled: no failing fast");
    redis.thaw();
    let recovered = Instant::now();
    while !support::signed_in_at(&client, &format!("{address}/")).await {
        assert!(recovered.elapsed() < Duration::from_secs(5), "not recovered within 5 s of Redis answering");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let text = std::fs::read_to_string(log.path()).unwrap();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("\"level\":\"WARN\"")).collect();
    let about_redis: Vec<&&str> = warnings.iter().filter(|l| l.contains("Redis is failing")).collect();
    assert!(!about_redis.is_empty(), "the outage is logged: {text}");
    assert!(warnings.len() <= 3, "a handful of WARN lines, not one per request: {warnings:#?}");
    assert!(text.contains("failed_calls"), "with a count of the calls that failed: {text}");
    assert!(text.contains("Redis answers again"), "and the recovery: {text}");
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
async fn sigterm_during_a_slow_upstream_call_lets_it_finish() {
    let redis = RedisServer::start();
    let emulator = start_emulator().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    command.envs(env_for(&address, &emulator, Some(&redis))).env("THREELO_LISTEN", format!("127.0.0.1:{port}"));
    let child = command.arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{address}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (client, _) = browser_with_jar();
    support::sign_in(&client, &format!("{address}/auth/login")).await;

    emulator.set_latency("/ex/jira", Duration::from_millis(1500));
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), format!("{address}{}", acme_issues()));
        async move { client.get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let term = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(term.success());

    let status = slow.await.unwrap().expect("the in-flight request is answered");
    assert_eq!(status, StatusCode::OK, "the slow page finished despite SIGTERM");
    let exited = tokio::task::spawn_blocking(move || running.0.wait()).await.unwrap().unwrap();
    assert!(exited.success(), "a clean exit after draining: {exited:?}");
}
