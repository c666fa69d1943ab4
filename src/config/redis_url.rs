//! The Redis URL: a secret (it may carry a password) that can still be shown masked.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A validated `redis://`, `rediss://` or `redis+unix://` URL.
#[derive(Clone, Debug)]
pub struct RedisUrl(SecretString);

impl RedisUrl {
    /// Checks the scheme and shape; connecting is left to start-up.
    pub fn parse(text: &str) -> Result<RedisUrl, String> {
        // Never echo the URL itself: it may hold a password.
        let url = Url::parse(text).map_err(|err| format!("not a URL ({err}); e.g. redis://127.0.0.1:6379"))?;
        match url.scheme() {
            "redis" | "rediss" if url.host_str().is_some_and(|h| !h.is_empty()) => {}
            "redis" | "rediss" => return Err("has no host; e.g. redis://127.0.0.1:6379".to_owned()),
            "redis+unix" | "unix" if !url.path().is_empty() => {}
            "redis+unix" | "unix" => {
                return Err("has no socket path; e.g. redis+unix:///run/redis.sock".to_owned());
            }
            other => {
                return Err(format!("scheme `{other}` is not redis://, rediss:// or redis+unix://"));
            }
        }
        redis::parse_redis_url(text).ok_or_else(|| "is not a Redis URL redis accepts".to_owned())?;
        Ok(RedisUrl(SecretString::from(text.to_owned())))
    }

    /// The URL with any password replaced by `****`, safe to print and log.
    pub fn masked(&self) -> String {
        match Url::parse(self.0.expose_secret()) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("****"));
                }
                // redis+unix URLs carry credentials in the query: `?user=app&pass=secret`.
                if url.query().is_some() {
                    let pairs: Vec<(String, String)> = url
                        .query_pairs()
                        .map(|(k, v)| {
                            let secret = matches!(k.as_ref(), "pass" | "password");
                            (k.into_owned(), if secret { "****".to_owned() } else { v.into_owned() })
                        })
                        .collect();
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            Err(_) => "<unparseable>".to_owned(),
        }
    }

    /// The URL itself, for connecting.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        let url = RedisUrl::parse("redis://app:hunter2@redis.internal:6380/2").unwrap();
        assert_eq!(url.masked(), "redis://app:****@redis.internal:6380/2");
        assert!(!format!("{url:?}").contains("hunter2"));
        let unix = RedisUrl::parse("redis+unix:///run/redis.sock?db=1&user=app&pass=hunter2").unwrap();
        assert_eq!(unix.masked(), "redis+unix:///run/redis.sock?db=1&user=app&pass=****");
    }

    #[test]
    fn other_schemes_and_junk_are_refused() {
        for bad in ["http://x", "redis://", "6379", "redis+unix://"] {
            assert!(RedisUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(RedisUrl::parse("redis+unix:///run/redis.sock").is_ok());
    }
}
