//! Where configuration values come from: the built-in `config/default.toml`, an optional file, then
//! `THREELO_*` environment variables, with `<NAME>_FILE` for secrets. Later sources win.
//!
//! Values are kept as plain strings here; `Settings::from_raw` gives them types. Unknown keys and
//! unknown `THREELO_*` variables are reported as problems, so a typo never silently means "default".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The built-in defaults, compiled in so the binary works from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Every configuration key. The environment variable is `THREELO_` + the key in upper case.
pub const KEYS: &[&str] = &[
    "listen",
    "public_url",
    "trusted_proxies",
    "client_id",
    "client_secret",
    "scopes",
    "auth_url",
    "api_url",
    "redis_url",
    "session_secret",
    "token_keys",
    "log_format",
    "session_idle_timeout",
    "session_lifetime",
    "upstream_timeout",
    "metrics_listen",
    "api_max_body",
];

/// Keys whose value may instead be read from a file named by `<key>_file` / `THREELO_<KEY>_FILE`.
pub const SECRET_KEYS: &[&str] = &["client_secret", "session_secret", "token_keys", "redis_url"];

/// Environment variables that are ours but are not configuration keys.
const OTHER_ENV: &[&str] = &["THREELO_CONFIG"];

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("THREELO_{}", key.to_ascii_uppercase())
}

/// One value, as a source set it.
#[derive(Clone, Debug)]
pub struct RawValue {
    pub value: String,
}

/// All values after layering, plus every problem met while reading them.
#[derive(Debug, Default)]
pub struct RawConfig {
    pub values: BTreeMap<String, RawValue>,
    pub problems: Vec<String>,
}

impl RawConfig {
    /// The value of `key`, if any source set it to something non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|v| v.value.trim()).filter(|v| !v.is_empty())
    }

    /// Reads every source in order. `file` is the optional operator file; `env` is the process
    /// environment (passed in so tests need not touch the real one).
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut raw = RawConfig::default();
        raw.merge_toml(DEFAULT_TOML, "config/default.toml");
        if let Some(path) = file {
            match std::fs::read_to_string(path) {
                Ok(text) => raw.merge_toml(&text, &path.display().to_string()),
                Err(err) => raw.problems.push(format!("config file {}: cannot read it: {err}", path.display())),
            }
        }
        raw.merge_env(env);
        raw
    }

    fn set(&mut self, key: &str, value: String) {
        self.values.insert(key.to_owned(), RawValue { value });
    }

    fn merge_toml(&mut self, text: &str, origin: &str) {
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(err) => {
                self.problems.push(format!("{origin}: not valid TOML: {}", err.message()));
                return;
            }
        };
        for (key, value) in table {
            let Some((key, from_file)) = known_key(&key) else {
                self.problems.push(format!("{origin}: unknown key `{key}` (known keys: {})", KEYS.join(", ")));
                continue;
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Array(items) => {
                    let parts: Option<Vec<String>> =
                        items.into_iter().map(|item| item.as_str().map(str::to_owned)).collect();
                    match parts {
                        Some(parts) => parts.join(list_separator(key)),
                        None => {
                            self.problems.push(format!("{origin}: `{key}` must be a list of strings"));
                            continue;
                        }
                    }
                }
                other => {
                    self.problems.push(format!("{origin}: `{key}` must be a string, not {}", other.type_str()));
                    continue;
                }
            };
            let origin = format!("`{key}` in {origin}");
            self.set_maybe_from_file(key, from_file, text, origin);
        }
    }

    fn merge_env(&mut self, env: impl IntoIterator<Item = (String, String)>) {
        // Sorted so that problems come out in a stable order.
        let vars: BTreeMap<String, String> = env.into_iter().filter(|(name, _)| name.starts_with("THREELO_")).collect();
        for key in SECRET_KEYS {
            let (plain, file) = (env_name(key), format!("{}_FILE", env_name(key)));
            if vars.contains_key(&plain) && vars.contains_key(&file) {
                self.problems.push(format!("{plain} and {file} are both set; keep one of them"));
            }
        }
        for (name, value) in vars {
            if OTHER_ENV.contains(&name.as_str()) {
                continue;
            }
            let lower = name["THREELO_".len()..].to_ascii_lowercase();
            let Some((key, from_file)) = known_key(&lower) else {
                self.problems.push(format!(
                    "{name}: not a threelo setting (check the spelling; settings are: {})",
                    KEYS.iter().map(|k| env_name(k)).collect::<Vec<_>>().join(", ")
                ));
                continue;
            };
            self.set_maybe_from_file(key, from_file, value, name);
        }
    }

    fn set_maybe_from_file(&mut self, key: &'static str, from_file: bool, value: String, origin: String) {
        if !from_file {
            self.set(key, value);
            return;
        }
        let path = PathBuf::from(value.trim());
        match std::fs::read_to_string(&path) {
            // Files written by `echo` end with a newline; it is never part of a secret.
            Ok(text) => self.set(key, text.trim_end_matches(['\n', '\r']).to_owned()),
            Err(err) => self.problems.push(format!("{origin}: cannot read {}: {err}", path.display())),
        }
    }
}

/// Resolves `name` to a known key, and whether it is the `_file` form of a secret.
fn known_key(name: &str) -> Option<(&'static str, bool)> {
    if let Some(key) = KEYS.iter().find(|k| **k == name) {
        return Some((key, false));
    }
    let base = name.strip_suffix("_file")?;
    SECRET_KEYS.iter().find(|k| **k == base).map(|k| (*k, true))
}

fn list_separator(key: &str) -> &'static str {
    if key == "scopes" { " " } else { "," }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_overrides_the_defaults() {
        let raw = RawConfig::load(None, env(&[("THREELO_LISTEN", "0.0.0.0:9000")]));
        assert_eq!(raw.get("listen"), Some("0.0.0.0:9000"));
        assert_eq!(raw.get("auth_url"), Some("https://auth.atlassian.com"));
        assert!(raw.problems.is_empty(), "{:?}", raw.problems);
    }

    #[test]
    fn a_misspelt_variable_is_a_problem_not_a_silent_default() {
        let raw = RawConfig::load(None, env(&[("THREELO_CLIENT_SECERT", "x")]));
        assert!(raw.problems[0].contains("THREELO_CLIENT_SECERT"), "{:?}", raw.problems);
    }

    #[test]
    fn a_file_layer_sits_between_defaults_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("threelo.toml");
        std::fs::write(&path, "listen = \"1.2.3.4:1\"\nscopes = [\"read:me\", \"offline_access\"]\nbogus = 1\n")
            .unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        let raw = RawConfig::load(Some(&path), env(&[("THREELO_CLIENT_SECRET_FILE", secret.to_str().unwrap())]));
        assert_eq!(raw.get("listen"), Some("1.2.3.4:1"));
        assert_eq!(raw.get("scopes"), Some("read:me offline_access"));
        assert_eq!(raw.get("client_secret"), Some("s3cret"));
        assert_eq!(raw.problems.len(), 1);
        assert!(raw.problems[0].contains("unknown key `bogus`"));
    }
}
