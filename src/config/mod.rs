//! Typed, layered, validated configuration. Everything is checked before anything binds, and every
//! problem is reported at once with how to fix it.

mod cidr;
mod public_url;
mod redis_url;
mod sources;
mod token_keys;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use url::Url;

pub use cidr::Cidr;
pub use public_url::PublicUrl;
pub use redis_url::{Nodes, RedisTopology, RedisUrl, SentinelTarget};
pub use sources::{KEYS, RawConfig, SECRET_KEYS, env_name};
pub use token_keys::{TokenKey, TokenKeys};

/// What the settings are for: `serve` needs real credentials, `demo` invents what is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Demo,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Session lifetimes, both enforced on the server.
#[derive(Clone, Copy, Debug)]
pub struct SessionSettings {
    /// A session unused for this long is over.
    pub idle_timeout: Duration,
    /// A session is over this long after sign-in, however much it is used.
    pub lifetime: Duration,
}

/// All of threelo's configuration, typed and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub public_url: PublicUrl,
    pub trusted_proxies: Vec<Cidr>,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub auth_url: Url,
    pub api_url: Url,
    /// `None`: `serve` uses the default Redis, `demo` uses in-memory stores.
    pub redis_url: Option<RedisUrl>,
    pub session_secret: SecretSlice<u8>,
    pub token_keys: Arc<TokenKeys>,
    pub log_format: LogFormat,
    pub session: SessionSettings,
    /// How long one call to Atlassian may take.
    pub upstream_timeout: Duration,
    /// Serve `/metrics` on this address instead of the public one.
    pub metrics_listen: Option<SocketAddr>,
    /// The largest request body `/api/…` passes on to Atlassian, in bytes.
    pub api_max_body: usize,
}

/// Every problem found in the configuration; `Display` lists them one per line.
#[derive(Debug, thiserror::Error)]
#[error("the configuration has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// The process's `THREELO_*` variables. `vars_os`: an unrelated variable that is not UTF-8 must not
/// stop threelo.
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(name, value)| {
        let name = name.into_string().ok()?;
        name.starts_with("THREELO_").then(|| (name, value.to_string_lossy().into_owned()))
    })
}

/// The Redis URL `serve` uses when none is configured.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

impl Settings {
    /// Loads from the real environment and the optional file.
    pub fn load(mode: Mode, file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::from_raw(mode, RawConfig::load(file, process_env()))
    }

    /// Builds typed settings from layered raw values, collecting every problem.
    pub fn from_raw(mode: Mode, raw: RawConfig) -> Result<Settings, ConfigError> {
        let mut problems = Problems(raw.problems.clone());

        let listen = problems.check("listen", parse_listen(raw.get("listen")));
        let public_url =
            problems.check("public_url", required(&raw, "public_url").and_then(|url| PublicUrl::parse(&url)));
        let trusted_proxies = problems
            .check("trusted_proxies", list(raw.get("trusted_proxies"), ',').into_iter().map(Cidr::parse).collect());
        let scopes = problems.check("scopes", parse_scopes(raw.get("scopes")));
        let auth_url = problems.check("auth_url", parse_base_url(raw.get("auth_url")));
        let api_url = problems.check("api_url", parse_base_url(raw.get("api_url")));
        let redis_url = problems.check("redis_url", raw.get("redis_url").map(RedisUrl::parse).transpose());
        let log_format = problems.check("log_format", parse_log_format(raw.get("log_format")));
        let idle_timeout = problems.check("session_idle_timeout", parse_duration(raw.get("session_idle_timeout")));
        let lifetime = problems.check("session_lifetime", parse_duration(raw.get("session_lifetime")));
        let upstream_timeout = problems.check("upstream_timeout", parse_duration(raw.get("upstream_timeout")));
        let metrics_listen =
            problems.check("metrics_listen", raw.get("metrics_listen").map(|v| parse_listen(Some(v))).transpose());
        let api_max_body = problems.check("api_max_body", parse_size(raw.get("api_max_body")));

        let demo = mode == Mode::Demo;
        let client_id = problems.check(
            "client_id",
            required_unless(demo, &raw, "client_id", "threelo-demo").and_then(|id| not_a_placeholder(&id).map(|()| id)),
        );
        let client_secret =
            problems.check("client_secret", required_unless(demo, &raw, "client_secret", &random_b64(32)));
        let session_secret = problems.check(
            "session_secret",
            required_unless(demo, &raw, "session_secret", &random_b64(64)).and_then(|s| parse_session_secret(&s)),
        );
        let token_keys = problems.check(
            "token_keys",
            match raw.get("token_keys") {
                None if demo => Ok(TokenKeys::random()),
                None => Err(missing("token_keys")),
                Some(spec) => TokenKeys::parse(spec).map_err(|p| p.join("; ")),
            },
        );

        if let (Some(idle), Some(life)) = (idle_timeout, lifetime)
            && idle > life
        {
            problems.0.push(format!(
                "THREELO_SESSION_IDLE_TIMEOUT ({}s) is longer than THREELO_SESSION_LIFETIME ({}s); make it shorter",
                idle.as_secs(),
                life.as_secs()
            ));
        }

        if !problems.0.is_empty() {
            return Err(ConfigError(problems.0));
        }
        // No problem was found, so every check returned its value.
        let lost = || ConfigError(vec!["internal error: a checked setting went missing".to_owned()]);
        Ok(Settings {
            listen: listen.ok_or_else(lost)?,
            public_url: public_url.ok_or_else(lost)?,
            trusted_proxies: trusted_proxies.ok_or_else(lost)?,
            client_id: client_id.ok_or_else(lost)?,
            client_secret: SecretString::from(client_secret.ok_or_else(lost)?),
            scopes: scopes.ok_or_else(lost)?,
            auth_url: auth_url.ok_or_else(lost)?,
            api_url: api_url.ok_or_else(lost)?,
            redis_url: redis_url.ok_or_else(lost)?,
            session_secret: session_secret.ok_or_else(lost)?,
            token_keys: Arc::new(token_keys.ok_or_else(lost)?),
            log_format: log_format.ok_or_else(lost)?,
            session: SessionSettings {
                idle_timeout: idle_timeout.ok_or_else(lost)?,
                lifetime: lifetime.ok_or_else(lost)?,
            },
            upstream_timeout: upstream_timeout.ok_or_else(lost)?,
            metrics_listen: metrics_listen.ok_or_else(lost)?,
            api_max_body: api_max_body.ok_or_else(lost)?,
        })
    }

    /// The Redis URL `serve` connects to.
    pub fn redis_url_or_default(&self) -> RedisUrl {
        self.redis_url.clone().unwrap_or_else(|| {
            RedisUrl::parse(DEFAULT_REDIS_URL).unwrap_or_else(|_| unreachable!("the default parses"))
        })
    }

    /// The session secret's bytes (at least 64).
    pub fn session_secret_bytes(&self) -> &[u8] {
        self.session_secret.expose_secret()
    }
}

/// Problems found so far; `check` records a failed parse under the setting's variable name.
struct Problems(Vec<String>);

impl Problems {
    fn check<T>(&mut self, key: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.0.push(format!("{}: {problem}", env_name(key)))).ok()
    }
}

fn missing(key: &str) -> String {
    let hint = match key {
        "client_id" | "client_secret" => "copy it from your app's Settings page in Atlassian's developer console",
        _ => "generate one with `threelo gen-secret`",
    };
    format!("required but not set; {hint}")
}

fn required(raw: &RawConfig, key: &str) -> Result<String, String> {
    raw.get(key).map(str::to_owned).ok_or_else(|| missing(key))
}

fn required_unless(demo: bool, raw: &RawConfig, key: &str, demo_value: &str) -> Result<String, String> {
    match raw.get(key) {
        Some(value) => Ok(value.to_owned()),
        None if demo => Ok(demo_value.to_owned()),
        None => Err(missing(key)),
    }
}

/// The example env file's `replace-with-your-client-id` (and the like) is not a client id.
fn not_a_placeholder(value: &str) -> Result<(), String> {
    if value.starts_with("replace-with") || value.contains("your-client-id") {
        return Err(format!(
            "`{value}` is the example's placeholder; copy the Client ID from your app's Settings page in Atlassian's developer console"
        ));
    }
    Ok(())
}

fn list(value: Option<&str>, separator: char) -> Vec<&str> {
    value.unwrap_or_default().split(separator).map(str::trim).filter(|s| !s.is_empty()).collect()
}

fn parse_listen(value: Option<&str>) -> Result<SocketAddr, String> {
    let value = value.ok_or("required; e.g. 127.0.0.1:8080")?;
    value.parse().map_err(|_| format!("`{value}` is not an address:port such as 127.0.0.1:8080 or [::]:8080"))
}

fn parse_scopes(value: Option<&str>) -> Result<Vec<String>, String> {
    let scopes: Vec<String> = list(value, ' ').into_iter().map(str::to_owned).collect();
    if scopes.is_empty() {
        return Err("no scopes; the default is in config/default.toml".to_owned());
    }
    if let Some(bad) = scopes.iter().find(|s| !s.chars().all(|c| c.is_ascii_graphic())) {
        return Err(format!("scope `{bad}` has characters a scope cannot have"));
    }
    for needed in ["read:me", "offline_access"] {
        if !scopes.iter().any(|s| s == needed) {
            return Err(format!(
                "`{needed}` is missing; threelo needs it (read:me names the user, offline_access keeps them signed in)"
            ));
        }
    }
    Ok(scopes)
}

fn parse_base_url(value: Option<&str>) -> Result<Url, String> {
    let value = value.ok_or("required")?;
    let url = Url::parse(value).map_err(|err| format!("`{value}` is not an absolute URL ({err})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{value}` must be an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{value}` must not carry a query or fragment"));
    }
    let trimmed = value.trim_end_matches('/');
    Url::parse(trimmed).map_err(|err| format!("`{value}`: {err}"))
}

fn parse_log_format(value: Option<&str>) -> Result<LogFormat, String> {
    match value {
        None => {
            use std::io::IsTerminal;
            Ok(if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json })
        }
        Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(format!("`{other}` is not `pretty` or `json`")),
    }
}

/// Parses `90`, `90s`, `15m`, `12h` or `7d`.
pub fn parse_duration(value: Option<&str>) -> Result<Duration, String> {
    let value = value.ok_or("required, e.g. 12h")?;
    let (number, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!("`{value}` is not a duration like 90s, 15m, 12h or 7d"));
        }
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => n
            .checked_mul(scale)
            .filter(|secs| *secs <= 400 * 86_400)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{value}` is longer than 400 days")),
        _ => Err(format!("`{value}` is not a positive duration like 90s, 15m, 12h or 7d")),
    }
}

/// Parses a size in bytes: `1048576`, `512k`, `1m` (binary units), at most 64 MiB.
pub fn parse_size(value: Option<&str>) -> Result<usize, String> {
    let value = value.ok_or("required, e.g. 1m")?;
    let lower = value.to_ascii_lowercase();
    let (number, unit) = lower.split_at(lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len()));
    let scale: usize = match unit {
        "" | "b" => 1,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        _ => return Err(format!("`{value}` is not a size like 65536, 512k or 1m")),
    };
    match number.parse::<usize>() {
        Ok(n) if n > 0 => n
            .checked_mul(scale)
            .filter(|bytes| *bytes <= 64 * 1024 * 1024)
            .ok_or_else(|| format!("`{value}` is more than 64m")),
        _ => Err(format!("`{value}` is not a positive size like 65536, 512k or 1m")),
    }
}

fn parse_session_secret(value: &str) -> Result<SecretSlice<u8>, String> {
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|_| "not valid base64; generate one with `threelo gen-secret`".to_owned())?;
    if bytes.len() < 64 {
        return Err(format!(
            "decodes to {} bytes, need at least 64; generate one with `threelo gen-secret`",
            bytes.len()
        ));
    }
    Ok(bytes.into())
}

/// `n` random bytes, base64 encoded: the formats `gen-secret` prints.
pub fn random_b64(n: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests;
