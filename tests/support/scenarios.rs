//! What every Redis deployment must carry, as functions of its URL, so that the cluster and the
//! Sentinel test files run the same checks: signing in, pages, the session list, signing out
//! everywhere, a refresh storm over two instances, and a failover under a polling client.

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use reqwest::cookie::CookieStore;
use reqwest::header::COOKIE;
use threelo_emulator::seed::ids::{ACME_SITE, ALICE, BOB, SHOWCASE_ISSUE};
use threelo_emulator::{ConsentMode, Emulator};

use super::{browser, browser_with_jar, csrf_of, env_for, launch, sign_in, signed_in_at, start_emulator};

/// An app (and its emulator) on a Redis given by URL.
pub struct Instance {
    pub address: String,
    pub emulator: Emulator,
    pub env: Vec<(String, String)>,
}

impl Instance {
    pub async fn spawn(redis_url: &str) -> Instance {
        let emulator = start_emulator().await;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = format!("http://127.0.0.1:{}", listener.local_addr().expect("local addr").port());
        let mut env = env_for(&address, &emulator, None);
        env.push(("THREELO_REDIS_URL".to_owned(), redis_url.to_owned()));
        launch(listener, &env, &emulator).await;
        Instance { address, emulator, env }
    }

    /// A second instance with the same settings, emulator and Redis.
    pub async fn sibling(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = format!("http://127.0.0.1:{}", listener.local_addr().expect("local addr").port());
        let mut env = self.env.clone();
        env.push(("THREELO_PUBLIC_URL".to_owned(), address.clone()));
        launch(listener, &env, &self.emulator).await;
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A fresh browser signed in as `login`.
    pub async fn signed_in_browser(&self, login: &str) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
        let (client, jar) = browser_with_jar();
        self.emulator.set_consent(ConsentMode::Accept { login: login.to_owned() });
        let done = sign_in(&client, &self.url("/auth/login")).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "the callback redirects once signed in");
        assert!(signed_in_at(&client, &self.url("/")).await, "signed in as {login}");
        (client, jar)
    }
}

pub fn acme_issues() -> String {
    let acme = Emulator::sites().iter().find(|s| s.name == ACME_SITE).expect("seed site").cloud_id;
    format!("/sites/{acme}/jira/issues")
}

/// Signs bob in from two browsers, browses, lists both sessions, signs the other out from the
/// first ("sign out everywhere else"), then signs out.
pub async fn sign_in_browse_and_sign_out_everywhere(redis_url: &str) {
    let app = Instance::spawn(redis_url).await;
    let (first, _) = app.signed_in_browser(BOB).await;
    let (second, _) = app.signed_in_browser(BOB).await;
    for path in ["/", "/sites", &acme_issues(), "/account"] {
        let page = first.get(app.url(path)).send().await.expect("GET");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
    }
    let account = first.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(account.contains("This browser"), "this session is listed:\n{account:.3000}");
    assert_eq!(account.matches("name=\"session\" value=").count(), 1, "the other one too:\n{account:.3000}");
    let csrf = csrf_of(&account);
    let ended =
        first.post(app.url("/account/sessions/end-others")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in_at(&second, &app.url("/")).await, "the other session ended");
    assert!(signed_in_at(&first, &app.url("/")).await, "this one goes on");
    let home = first.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let out = first.post(app.url("/auth/logout")).form(&[("csrf", csrf_of(&home).as_str())]).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in_at(&first, &app.url("/")).await, "signed out");
}

/// Fifty requests over two instances on one expired session: exactly one token request.
pub async fn refresh_storm_over_two_instances(redis_url: &str) {
    let app = Instance::spawn(redis_url).await;
    let (_, jar) = app.signed_in_browser(ALICE).await;
    let sibling = app.sibling().await;
    app.emulator.expire_access_tokens();
    let origin = reqwest::Url::parse(&app.url("/")).expect("URL");
    let cookie = jar.cookies(&origin).and_then(|v| v.to_str().ok().map(str::to_owned)).expect("a session cookie");
    let client = browser();
    let requests = (0..50).map(|n| {
        let base = if n % 2 == 0 { app.address.clone() } else { sibling.clone() };
        let (client, cookie) = (client.clone(), cookie.clone());
        async move {
            let answer = client.get(format!("{base}{}", acme_issues())).header(COOKIE, cookie).send().await.unwrap();
            (answer.status(), answer.text().await.unwrap_or_default())
        }
    });
    for (status, body) in join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body:.300}");
        assert!(body.contains(SHOWCASE_ISSUE));
    }
    assert_eq!(app.emulator.token_grants("refresh_token"), 1, "one refresh across both instances");
}

/// Polls a signed-in page every 100 ms while `kill` takes the primary away: only 200s and 503s,
/// the same cookie gets a 200 again within 15 s, and a new sign-in works after. Then the token
/// expires and 20 requests over this instance and a sibling (started before the failover, so it
/// had to follow it too) refresh it exactly once.
pub async fn failover_under_a_polling_client(
    app: &Instance,
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    kill: impl FnOnce(),
) {
    let sibling = app.sibling().await;
    let url = app.url(&acme_issues());
    let poll = |client: reqwest::Client, url: String| async move {
        let answer = tokio::time::timeout(Duration::from_secs(10), client.get(url).send())
            .await
            .expect("a page must not hang while Redis fails over")
            .expect("GET");
        let status = answer.status();
        (status, answer.text().await.unwrap_or_default())
    };
    for _ in 0..5 {
        assert_eq!(poll(client.clone(), url.clone()).await.0, StatusCode::OK, "fine before the failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill();
    let killed = Instant::now();
    let mut seen = Vec::new();
    let recovered = loop {
        let (status, body) = poll(client.clone(), url.clone()).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "only 200s and 503s during a failover, got {status}: {body:.300}"
        );
        seen.push(status.as_u16());
        if status == StatusCode::OK && seen.contains(&503) {
            assert!(body.contains(SHOWCASE_ISSUE), "the same cookie still signed in: {body:.300}");
            break killed.elapsed();
        }
        if status == StatusCode::OK && killed.elapsed() > Duration::from_secs(3) {
            // No 503 at all is fine too: the failover was fast enough not to show.
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "no 200 within 15 s of the kill: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "failover: {} polls, {} answered 503, 200 again {} ms after the kill",
        seen.len(),
        seen.iter().filter(|s| **s == 503).count(),
        recovered.as_millis()
    );
    let (fresh, _) = app.signed_in_browser(BOB).await;
    let page = fresh.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "a new sign-in works after the failover");

    let refreshes = app.emulator.token_grants("refresh_token");
    app.emulator.expire_access_tokens();
    let origin = reqwest::Url::parse(&app.url("/")).expect("URL");
    let cookie = jar.cookies(&origin).and_then(|v| v.to_str().ok().map(str::to_owned)).expect("a session cookie");
    let requests = (0..20).map(|n| {
        let base = if n % 2 == 0 { app.address.clone() } else { sibling.clone() };
        let (client, cookie) = (browser(), cookie.clone());
        async move {
            let answer = client.get(format!("{base}{}", acme_issues())).header(COOKIE, cookie).send().await.unwrap();
            (base, answer.status(), answer.text().await.unwrap_or_default())
        }
    });
    for (base, status, body) in join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{base} serves the session after the failover: {body:.400}");
    }
    assert_eq!(app.emulator.token_grants("refresh_token") - refreshes, 1, "one refresh after the failover");
}

/// `threelo check-config` with `redis_url`: (exit code, stdout, stderr).
pub fn check_config(redis_url: &str) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    for (name, _) in std::env::vars() {
        if name.starts_with("THREELO_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("check-config")
        .env("THREELO_PUBLIC_URL", "https://tools.example.com/atl")
        .env("THREELO_CLIENT_ID", "threelo-test-client")
        .env("THREELO_CLIENT_SECRET", "test-client-secret-8c1f2d9a")
        .env("THREELO_SESSION_SECRET", threelo::config::random_b64(64))
        .env("THREELO_TOKEN_KEYS", format!("k1:{}", threelo::config::random_b64(32)))
        .env("THREELO_REDIS_URL", redis_url)
        .output()
        .expect("threelo runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
