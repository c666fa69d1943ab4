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
    assert!(before.contains("# TYPE threelo_http_requests_total counter"));
    assert_eq!(metric(&before, "threelo_sign_ins_total{outcome=\"success\"}"), 0);

    app.sign_in().await;
    app.emulator.expire_access_tokens();
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);
    let jira = format!("/ex/jira/{}", &acme_issues()[7..43]);
    app.emulator.inject(&jira, Fault { status: 429, retry_after: Some(1) }, 1);
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);

    let after = app.page("/metrics").await;
    assert_eq!(metric(&after, "threelo_sign_ins_total{outcome=\"success\"}"), 1, "{after}");
    assert_eq!(metric(&after, "threelo_token_refreshes_total{outcome=\"refreshed\"}"), 1, "{after}");
    assert_eq!(metric(&after, "threelo_upstream_rate_limited_total{product=\"jira\"}"), 1, "{after}");
    let pages = "threelo_http_requests_total{route=\"/sites/{cloud_id}/jira/issues\",method=\"GET\",status=\"200\"}";
    assert_eq!(metric(&after, pages), 2, "{after}");
    assert!(after.contains("threelo_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"}"));
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
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK, "the app recovers by itself");
    assert!(app.is_signed_in().await, "the session survived the outage");
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
    assert!(app.is_signed_in().await, "the session survived");
    assert_eq!(app.get(&acme_issues()).await.status(), StatusCode::OK);
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
