//! `threelo check-config` as the self-hosting guide runs it: the shipped env example, the secrets
//! as credential files, the Redis URL (with its password) in `THREELO_REDIS_URL_FILE`.

mod support;

use std::process::Command;

use support::RedisServer;

/// The env example's settings, as the guide's `mapfile … grep -Ev "^\s*(#|$)"` reads them.
fn env_example() -> Vec<(String, String)> {
    include_str!("../config/systemd/threelo.env.example")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// check-config with `env`, the three secrets and the Redis URL as files, as the guide says.
fn check_config(env: &[(String, String)], redis_url: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path
    };
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    for (name, _) in std::env::vars() {
        if name.starts_with("THREELO_") {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("check-config")
        .envs(env.iter().cloned())
        .env("THREELO_CLIENT_SECRET_FILE", file("client_secret", "s3cret-client"))
        .env("THREELO_SESSION_SECRET_FILE", file("session_secret", &threelo::config::random_b64(64)))
        .env("THREELO_TOKEN_KEYS_FILE", file("token_keys", &format!("k1:{}", threelo::config::random_b64(32))))
        .env("THREELO_REDIS_URL_FILE", file("redis_url", redis_url))
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_env_examples_placeholder_client_id_is_refused_by_check_config() {
    let redis = RedisServer::start_with_user("file-pw-8086");
    let env: Vec<_> = env_example().into_iter().filter(|(k, _)| k != "THREELO_REDIS_URL").collect();
    let (code, out, err) = check_config(&env, &redis.url());
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("THREELO_CLIENT_ID") && err.contains("placeholder"), "{err}");
}

#[test]
fn check_config_checks_the_redis_of_the_url_file_and_prints_what_differs_between_hosts() {
    let redis = RedisServer::start_with_user("file-pw-8086");
    let mut env: Vec<_> = env_example()
        .into_iter()
        .filter(|(k, _)| k != "THREELO_REDIS_URL")
        .map(|(k, v)| if k == "THREELO_CLIENT_ID" { (k, "a1B2c3D4e5".to_owned()) } else { (k, v) })
        .collect();
    env.push(("THREELO_METRICS_LISTEN".to_owned(), "127.0.0.1:18080".to_owned()));
    let (code, out, err) = check_config(&env, &redis.url());
    assert_eq!(code, 0, "{out}{err}");
    let masked = redis.url().replace("file-pw-8086", "****");
    assert!(out.contains(&format!("Redis:         {masked}")), "the URL file's Redis, masked:\n{out}");
    assert!(out.contains("Redis check:   answers"), "{out}");
    assert!(out.contains("trusted proxies: 127.0.0.1/32, ::1/128"), "{out}");
    assert!(out.contains("metrics:       http://127.0.0.1:18080/metrics"), "{out}");
    assert!(out.contains("log format:    json"), "{out}");
    assert!(!format!("{out}{err}").contains("file-pw-8086"), "the password is never printed");
}
