//! The `threelo` binary as an operator runs it: help, usage errors, check-config, gen-secret, a
//! port in use, and a real `serve` whose logs must never hold a secret.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{RedisServer, browser_with_jar, env_for, free_port, start_emulator};

fn threelo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    // Only what a test passes explicitly: the developer's own THREELO_* must not leak in.
    for (name, _) in std::env::vars() {
        if name.starts_with("THREELO_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> (i32, String, String) {
    let output = command.output().expect("threelo runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_explains_every_command() {
    let (code, out, _) = run(threelo().arg("--help"));
    assert_eq!(code, 0);
    for command in ["serve", "demo", "check-config", "gen-secret", "--config"] {
        assert!(out.contains(command), "{command} missing from --help");
    }
}

#[test]
fn each_command_has_its_own_help_and_the_version_is_printed() {
    let (code, out, _) = run(threelo().args(["check-config", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("Usage: threelo check-config"), "{out}");
    assert!(out.contains("callback URL"), "{out}");
    let (code, out, _) = run(threelo().args(["help", "gen-secret"]));
    assert_eq!(code, 0);
    assert!(out.contains("THREELO_TOKEN_KEYS"), "{out}");
    let (code, out, _) = run(threelo().arg("--version"));
    assert_eq!((code, out), (0, format!("threelo {}\n", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let (code, _, err) = run(threelo().arg("frobnicate"));
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand 'frobnicate'"), "{err}");
    let (code, _, err) = run(threelo().args(["serve", "--frobnicate"]));
    assert_eq!(code, 2);
    assert!(err.contains("unexpected argument '--frobnicate'"), "{err}");
    let (code, _, err) = run(threelo().arg("--config"));
    assert_eq!(code, 2);
    assert!(err.contains("--config <PATH>"), "{err}");
}

#[test]
fn help_version_and_gen_secret_into_a_closed_pipe_exit_cleanly() {
    for args in [&["--help"][..], &["--version"], &["gen-secret"], &["demo", "--help"]] {
        let mut child = threelo().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Close the reading end before the child writes, as `| head -0` would.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_config_file_comes_from_the_flag_or_else_from_threelo_config() {
    let dir = tempfile::tempdir().unwrap();
    let from_env = dir.path().join("env.toml");
    std::fs::write(&from_env, "public_url = \"https://env.example.com\"\n").unwrap();
    let from_flag = dir.path().join("flag.toml");
    std::fs::write(&from_flag, "public_url = \"https://flag.example.com\"\n").unwrap();
    let (code, _, err) = run(threelo().arg("check-config").env("THREELO_CONFIG", &from_env));
    assert_eq!(code, 1, "no client id yet");
    assert!(err.contains("https://env.example.com/auth/callback"), "{err}");
    // After the command too: --config is a global option.
    let (_, _, err) =
        run(threelo().arg("check-config").arg("--config").arg(&from_flag).env("THREELO_CONFIG", &from_env));
    assert!(err.contains("https://flag.example.com/auth/callback"), "{err}");
}

#[test]
fn check_config_lists_every_problem_and_fails() {
    let (code, out, err) = run(threelo()
        .arg("check-config")
        .env("THREELO_PUBLIC_URL", "not a url")
        .env("THREELO_TOKEN_KEYS", "k1:c2hvcnQ=")
        .env("THREELO_REDIS_URL", "http://x"));
    assert_eq!(code, 1, "{out}");
    for expected in [
        "THREELO_CLIENT_ID",
        "THREELO_CLIENT_SECRET",
        "THREELO_SESSION_SECRET",
        "THREELO_PUBLIC_URL",
        "key `k1` decodes to 5 bytes, need 32",
        "THREELO_REDIS_URL",
    ] {
        assert!(err.contains(expected), "{expected} missing in:\n{err}");
    }
}

#[test]
fn check_config_shows_the_callback_url_even_before_the_app_is_registered() {
    let (code, _, err) = run(threelo().arg("check-config").env("THREELO_PUBLIC_URL", "https://tools.example.com/atl"));
    assert_eq!(code, 1);
    assert!(err.contains("THREELO_CLIENT_ID"), "{err}");
    assert!(err.contains("https://tools.example.com/atl/auth/callback"), "{err}");
}

#[test]
fn gen_secret_prints_values_that_check_config_accepts_and_shows_the_callback() {
    let (code, out, _) = run(threelo().arg("gen-secret"));
    assert_eq!(code, 0);
    let mut command = threelo();
    for line in out.lines().filter(|l| l.starts_with("THREELO_")) {
        let (name, value) = line.split_once('=').unwrap();
        command.env(name, value);
    }
    let (code, out, err) = run(command
        .arg("check-config")
        .env("THREELO_CLIENT_ID", "id")
        .env("THREELO_CLIENT_SECRET", "secret")
        .env("THREELO_PUBLIC_URL", "https://tools.example.com/atl/")
        .env("THREELO_REDIS_URL", "redis://app:hunter2@redis.internal:6379/0"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("https://tools.example.com/atl/auth/callback"), "{out}");
    assert!(out.contains("redis://app:****@redis.internal:6379/0"), "{out}");
    assert!(!out.contains("hunter2") && !out.contains("secret\n"), "{out}");
    // The default scopes leave the optional features off, and say how to turn them on.
    assert!(out.contains("feature on:    Jira issue lists, issues and their comments: read:jira-work\n"), "{out}");
    assert!(
        out.contains("feature off:   comments on the issue page: write:jira-work (or all of the granular"),
        "{out}"
    );
    assert!(out.contains("(add it to THREELO_SCOPES and to the app in the developer console)"), "{out}");
    assert!(out.contains("search:confluence (add it"), "{out}");
}

#[test]
fn check_config_says_which_features_the_scopes_turn_on() {
    let (_, out, _) = run(threelo().arg("gen-secret"));
    let mut command = threelo();
    for line in out.lines().filter(|l| l.starts_with("THREELO_")) {
        let (name, value) = line.split_once('=').unwrap();
        command.env(name, value);
    }
    let scopes = "read:me read:jira-work offline_access write:jira-work";
    let (code, out, err) = run(command
        .arg("check-config")
        .env("THREELO_CLIENT_ID", "id")
        .env("THREELO_CLIENT_SECRET", "secret")
        .env("THREELO_SCOPES", scopes));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("feature on:    comments on the issue page: write:jira-work\n"), "{out}");
    assert!(out.contains("feature on:    \"Assign to me\" on the issue page: write:jira-work\n"), "{out}");
    assert!(out.contains("on the issue page: read:jira-work write:jira-work\n"), "moving issues: {out}");
    assert!(out.contains("feature off:   Confluence pages in search results"), "{out}");
}

#[test]
fn check_config_counts_granular_scopes_and_names_what_a_partial_set_lacks() {
    let (_, out, _) = run(threelo().arg("gen-secret"));
    let mut command = threelo();
    for line in out.lines().filter(|l| l.starts_with("THREELO_")) {
        let (name, value) = line.split_once('=').unwrap();
        command.env(name, value);
    }
    let granular =
        format!("read:me {} write:issue:jira offline_access", threelo_emulator::seed::ids::JIRA_GRANULAR_READ);
    let (code, out, err) = run(command
        .arg("check-config")
        .env("THREELO_CLIENT_ID", "id")
        .env("THREELO_CLIENT_SECRET", "secret")
        .env("THREELO_SCOPES", &granular));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("feature on:    Jira issue lists, issues and their comments: read:issue-details:jira"),
        "{out}"
    );
    assert!(out.contains("feature on:    \"Assign to me\" on the issue page: write:issue:jira\n"), "{out}");
    assert!(out.contains("; missing write:comment:jira (add it"), "{out}");
    assert!(out.contains("; missing write:issue.property:jira (add it"), "moving issues: {out}");
}

#[test]
fn secrets_can_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client_secret");
    std::fs::write(&file, "from-a-file\n").unwrap();
    let (_, _, err) = run(threelo().arg("check-config").env("THREELO_CLIENT_SECRET_FILE", &file));
    assert!(!err.contains("THREELO_CLIENT_SECRET:"), "{err}");
    let (_, _, err) = run(threelo().arg("check-config").env("THREELO_CLIENT_SECRET_FILE", dir.path().join("missing")));
    assert!(err.contains("THREELO_CLIENT_SECRET_FILE: cannot read"), "{err}");
}

#[test]
#[cfg(feature = "demo")] // the command that listens without any configuration
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(threelo().arg("demo").env("THREELO_LISTEN", &address).stdin(Stdio::null()));
    assert_eq!(code, 1);
    assert!(err.contains(&format!("cannot listen on {address}")), "{err}");
}

/// Kills the child when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until_up(url: &str, log: &tempfile::NamedTempFile) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up; its log:\n{}", read(log));
}

fn read(log: &tempfile::NamedTempFile) -> String {
    let mut text = String::new();
    log.reopen().and_then(|mut f| f.read_to_string(&mut text)).expect("read the log");
    text
}

#[tokio::test]
async fn a_real_serve_never_logs_a_token_code_secret_or_cookie() {
    let redis = RedisServer::start();
    let emulator = start_emulator().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let log_file = tempfile::NamedTempFile::new().unwrap();
    let env = env_for(&address, &emulator, Some(&redis));
    let mut command = threelo();
    command.envs(env.clone()).env("THREELO_LISTEN", format!("127.0.0.1:{port}")).env("RUST_LOG", "debug");
    let child = command.arg("serve").stdout(Stdio::null()).stderr(log_file.reopen().unwrap()).spawn().unwrap();
    let _running = Running(child);
    wait_until_up(&format!("{address}/healthz"), &log_file).await;

    let (client, jar) = browser_with_jar();
    let callback = support::sign_in(&client, &format!("{address}/auth/login?return_to=/")).await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    let page = client.get(&address).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Signed in as"));
    use reqwest::cookie::CookieStore;
    let cookie = jar.cookies(&address.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    let cookie_value = cookie.split_once('=').unwrap().1.to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = read(&log_file);
    assert!(logs.contains("signed in"), "the log is being captured:\n{logs}");
    let mut secrets = emulator.issued_secrets();
    secrets.push(cookie_value);
    secrets.push(support::CLIENT_SECRET.to_owned());
    for (name, value) in env {
        if name == "THREELO_SESSION_SECRET" || name == "THREELO_TOKEN_KEYS" {
            secrets.extend(value.split([',', ':']).filter(|part| part.len() > 8).map(str::to_owned));
        }
    }
    for secret in secrets {
        assert!(!logs.contains(&secret), "a secret leaked into the logs:\n{logs}");
    }
}

#[tokio::test]
async fn serve_talks_to_a_tls_redis_with_a_rediss_url() {
    let redis = RedisServer::start_tls();
    let emulator = start_emulator().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let log_file = tempfile::NamedTempFile::new().unwrap();
    let cert = redis.tls_cert().expect("a TLS server").to_owned();
    let child = threelo()
        .envs(env_for(&address, &emulator, Some(&redis)))
        .env("THREELO_LISTEN", format!("127.0.0.1:{port}"))
        // rustls-native-certs reads the trusted roots from here: our self-signed certificate.
        .env("SSL_CERT_FILE", &cert)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let _running = Running(child);
    wait_until_up(&format!("{address}/healthz"), &log_file).await;
    let ready = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "Redis over TLS answers:\n{}", read(&log_file));
    let (client, _) = browser_with_jar();
    let callback = support::sign_in(&client, &format!("{address}/auth/login")).await;
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    assert!(support::signed_in_at(&client, &address).await, "a session stored over TLS");
}

#[tokio::test]
async fn a_redis_outage_is_logged_a_few_times_not_once_per_request() {
    let mut redis = RedisServer::start();
    let emulator = start_emulator().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    emulator.add_redirect_uri(&format!("{address}/auth/callback"));
    let log_file = tempfile::NamedTempFile::new().unwrap();
    let mut command = threelo();
    command.envs(env_for(&address, &emulator, Some(&redis))).env("THREELO_LISTEN", format!("127.0.0.1:{port}"));
    let child = command.arg("serve").stdout(Stdio::null()).stderr(log_file.reopen().unwrap()).spawn().unwrap();
    let _running = Running(child);
    wait_until_up(&format!("{address}/healthz"), &log_file).await;
    let (client, _) = browser_with_jar();
    assert_eq!(support::sign_in(&client, &format!("{address}/auth/login")).await.status(), StatusCode::SEE_OTHER);

    redis.stop();
    for _ in 0..200 {
        let page = client.get(&address).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = read(&log_file);
    let warnings = logs.lines().filter(|l| l.contains("WARN") || l.contains("\"level\":\"WARN\"")).count();
    assert!(warnings <= 5, "{warnings} warning lines for 200 failed requests:\n{logs}");
    assert!(logs.contains("Redis is failing"), "the outage is logged at all:\n{logs}");
}
