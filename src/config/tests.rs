use super::*;

fn raw(pairs: &[(&str, &str)]) -> RawConfig {
    RawConfig::load(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn key32() -> String {
    format!("k1:{}", random_b64(32))
}

fn valid() -> Vec<(&'static str, String)> {
    vec![
        ("THREELO_CLIENT_ID", "abc".to_owned()),
        ("THREELO_CLIENT_SECRET", "shh".to_owned()),
        ("THREELO_SESSION_SECRET", random_b64(64)),
        ("THREELO_TOKEN_KEYS", key32()),
    ]
}

fn load(pairs: Vec<(&'static str, String)>) -> Result<Settings, ConfigError> {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Settings::from_raw(Mode::Serve, raw(&pairs))
}

#[test]
fn serve_with_the_required_values_uses_the_documented_defaults() {
    let settings = load(valid()).unwrap();
    assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.public_url.callback_url(), "http://localhost:8080/auth/callback");
    assert_eq!(settings.auth_url.as_str(), "https://auth.atlassian.com/");
    assert!(settings.scopes.contains(&"offline_access".to_owned()));
    assert_eq!(settings.session.idle_timeout, Duration::from_secs(12 * 3600));
    assert_eq!(settings.session.lifetime, Duration::from_secs(7 * 86_400));
    assert!(settings.redis_url.is_none());
    assert_eq!(settings.redis_url_or_default().masked(), "redis://127.0.0.1:6379");
}

#[test]
fn every_problem_is_reported_at_once_with_its_fix() {
    let err = load(vec![
        ("THREELO_PUBLIC_URL", "localhost:8080".to_owned()),
        ("THREELO_TOKEN_KEYS", format!("k1:{}", random_b64(16))),
        ("THREELO_SESSION_SECRET", random_b64(10)),
        ("THREELO_REDIS_URL", "http://nope".to_owned()),
        ("THREELO_LISTEN", "everywhere".to_owned()),
        ("THREELO_SESSION_LIFETIME", "forever".to_owned()),
    ])
    .unwrap_err();
    let text = err.to_string();
    for expected in [
        "THREELO_CLIENT_ID: required but not set; copy it from your app's Settings page",
        "THREELO_CLIENT_SECRET: required but not set",
        "THREELO_PUBLIC_URL: `localhost:8080`",
        "THREELO_TOKEN_KEYS: key `k1` decodes to 16 bytes, need 32; generate one with `threelo gen-secret`",
        "THREELO_SESSION_SECRET: decodes to 10 bytes, need at least 64",
        "THREELO_REDIS_URL: scheme `http`",
        "THREELO_LISTEN: `everywhere`",
        "THREELO_SESSION_LIFETIME: `forever`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(err.0.len(), 8, "{text}");
}

#[test]
fn demo_mode_invents_missing_credentials() {
    let settings = Settings::from_raw(Mode::Demo, raw(&[])).unwrap();
    assert_eq!(settings.client_id, "threelo-demo");
    assert!(settings.session_secret_bytes().len() >= 64);
}

#[test]
fn an_idle_timeout_longer_than_the_lifetime_is_refused() {
    let mut pairs = valid();
    pairs.push(("THREELO_SESSION_IDLE_TIMEOUT", "8d".to_owned()));
    let err = load(pairs).unwrap_err();
    assert!(err.to_string().contains("longer than THREELO_SESSION_LIFETIME"), "{err}");
}

#[test]
fn scopes_without_offline_access_are_refused() {
    let mut pairs = valid();
    pairs.push(("THREELO_SCOPES", "read:me read:jira-work".to_owned()));
    let err = load(pairs).unwrap_err();
    assert!(err.to_string().contains("`offline_access` is missing"), "{err}");
}

#[test]
fn durations_take_units() {
    assert_eq!(parse_duration(Some("90")).unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration(Some("15m")).unwrap(), Duration::from_secs(900));
    assert_eq!(parse_duration(Some("2d")).unwrap(), Duration::from_secs(172_800));
    for bad in ["0", "-1h", "1w", "h", "999999999999999999d"] {
        assert!(parse_duration(Some(bad)).is_err(), "{bad}");
    }
}

#[test]
fn no_secret_value_appears_in_a_problem_or_in_debug_output() {
    let secret = "super-secret-client-secret";
    let mut pairs = valid();
    pairs[1].1 = secret.to_owned();
    pairs.push(("THREELO_REDIS_URL", "redis://u:redispw@localhost".to_owned()));
    let settings = load(pairs).unwrap();
    let debug = format!("{settings:?}");
    assert!(!debug.contains(secret) && !debug.contains("redispw"), "{debug}");
}

#[test]
fn the_api_body_limit_defaults_to_one_mebibyte_and_takes_sizes() {
    assert_eq!(load(valid()).unwrap().api_max_body, 1024 * 1024);
    let mut pairs = valid();
    pairs.push(("THREELO_API_MAX_BODY", "512k".to_owned()));
    assert_eq!(load(pairs).unwrap().api_max_body, 512 * 1024);
    for bad in ["0", "1g", "-1", "ten", "65m", "1.5m"] {
        let mut pairs = valid();
        pairs.push(("THREELO_API_MAX_BODY", bad.to_owned()));
        let err = load(pairs).unwrap_err().to_string();
        assert!(err.contains("THREELO_API_MAX_BODY"), "{bad}: {err}");
    }
}
