//! The Redis URL: a secret (it may carry a password) that can still be shown masked.
//!
//! Three deployments, told apart by the scheme:
//! - one server: `redis://`, `rediss://` (TLS), `redis+unix://` (as redis-rs reads them);
//! - Sentinel: `redis+sentinel://[user[:password]@]host:port[,host:port…]/<master-name>[/<db>]`
//!   (`rediss+sentinel://`: TLS to the Sentinels and the master);
//! - Cluster: `redis+cluster://[user[:password]@]host:port[,host:port…]` (`rediss+cluster://`).
//!
//! The credentials are the data nodes' (the master and replicas, every cluster node): Sentinels are
//! asked without them, as Redis's own `sentinel.conf` defaults have it.

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// A validated Redis URL in one of the forms above.
#[derive(Clone, Debug)]
pub struct RedisUrl(SecretString);

/// Which deployment a URL names, with what is needed to reach it.
#[derive(Clone, Debug)]
pub enum RedisTopology {
    /// One server; the URL as redis-rs takes it.
    Single,
    /// A primary found through Sentinels.
    Sentinel(Nodes, SentinelTarget),
    /// A Redis Cluster, through any of its seed nodes.
    Cluster(Nodes),
}

/// The hosts of a multi-host URL and how to speak to them.
#[derive(Clone, Debug)]
pub struct Nodes {
    pub tls: bool,
    /// `host:port` each (IPv6 hosts in brackets).
    pub hosts: Vec<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// What to ask the Sentinels for.
#[derive(Clone, Debug)]
pub struct SentinelTarget {
    pub master_name: String,
    pub db: i64,
}

impl Nodes {
    /// A single-server URL for `host:port` with these credentials (and database `db`), for
    /// redis-rs. A secret when it carries a password.
    pub fn node_url(&self, host_port: &str, db: i64, with_credentials: bool) -> SecretString {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let credentials = match (with_credentials, &self.username, &self.password) {
            (false, _, _) | (true, None, None) => String::new(),
            (true, user, password) => format!(
                "{}{}@",
                user.as_deref().map(encode).unwrap_or_default(),
                password.as_ref().map(|p| format!(":{}", encode(p.expose_secret()))).unwrap_or_default()
            ),
        };
        SecretString::from(format!("{scheme}://{credentials}{host_port}/{db}"))
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

fn decode(text: &str) -> Result<String, String> {
    percent_decode(text).ok_or_else(|| "has credentials that are not valid percent-encoded UTF-8".to_owned())
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

const SENTINEL_EXAMPLE: &str = "e.g. redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster";
const CLUSTER_EXAMPLE: &str = "e.g. redis+cluster://10.0.0.1:6379,10.0.0.2:6379";

/// Splits `scheme://[userinfo@]hosts[/path]` of a multi-host URL.
fn parse_multi(rest: &str, default_port: u16, example: &str) -> Result<(Nodes, Option<String>), String> {
    if rest.contains(['?', '#']) {
        return Err(format!("takes no query or fragment; {example}"));
    }
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path.to_owned())),
        None => (rest, None),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, password) = match info.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (info, None),
            };
            let user = Some(decode(user)?).filter(|u| !u.is_empty());
            let password = password.map(decode).transpose()?.filter(|p| !p.is_empty()).map(SecretString::from);
            (user, password)
        }
    };
    let mut list = Vec::new();
    for host in hosts.split(',') {
        list.push(parse_host_port(host, default_port, example)?);
    }
    Ok((Nodes { tls: false, hosts: list, username, password }, path))
}

/// `host[:port]`, `[v6][:port]`: checked, with the default port filled in.
fn parse_host_port(text: &str, default_port: u16, example: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(format!("has an empty host in its list; {example}"));
    }
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| format!("has an unclosed `[` in a host; {example}"))?;
        (format!("[{host}]"), after.strip_prefix(':'))
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        }
    };
    let port = match port {
        None => default_port,
        Some(port) => port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            format!("has a port that is not a number from 1 to 65535 (`{}`); {example}", port.escape_debug())
        })?,
    };
    let valid = url::Host::parse(&host).is_ok() && !host.contains(['/', '@', ' ']);
    if !valid || host == "[]" {
        return Err(format!("has a host that is not a host name or address; {example}"));
    }
    Ok(format!("{host}:{port}"))
}

impl RedisUrl {
    /// Checks the scheme and shape; connecting is left to start-up (and `check-config`).
    pub fn parse(text: &str) -> Result<RedisUrl, String> {
        let url = RedisUrl(SecretString::from(text.to_owned()));
        url.topology()?;
        Ok(url)
    }

    /// Which deployment the URL names. Never echoes the URL: it may hold a password.
    pub fn topology(&self) -> Result<RedisTopology, String> {
        let text = self.0.expose_secret();
        if let Some((scheme, rest)) = text.split_once("://") {
            let tls = scheme.starts_with("rediss");
            match scheme {
                "redis+sentinel" | "rediss+sentinel" => {
                    let (mut nodes, path) = parse_multi(rest, 26379, SENTINEL_EXAMPLE)?;
                    nodes.tls = tls;
                    let path = path.unwrap_or_default();
                    let mut parts = path.split('/');
                    let master_name = parts.next().unwrap_or_default().to_owned();
                    if master_name.is_empty() {
                        return Err(format!("names no master after the Sentinels; {SENTINEL_EXAMPLE}"));
                    }
                    let db = match parts.next() {
                        None | Some("") => 0,
                        Some(db) => db.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(|| {
                            format!(
                                "has a database that is not a number (`/{}`); {SENTINEL_EXAMPLE}/0",
                                db.escape_debug()
                            )
                        })?,
                    };
                    if parts.any(|p| !p.is_empty()) {
                        return Err(format!("has more path than /<master-name>/<db>; {SENTINEL_EXAMPLE}/0"));
                    }
                    return Ok(RedisTopology::Sentinel(nodes, SentinelTarget { master_name, db }));
                }
                "redis+cluster" | "rediss+cluster" => {
                    let (mut nodes, path) = parse_multi(rest, 6379, CLUSTER_EXAMPLE)?;
                    nodes.tls = tls;
                    if path.is_some_and(|p| !p.is_empty()) {
                        return Err(format!("has a path, but a Redis Cluster has only database 0; {CLUSTER_EXAMPLE}"));
                    }
                    return Ok(RedisTopology::Cluster(nodes));
                }
                _ => {}
            }
        }
        let url = Url::parse(text).map_err(|err| format!("not a URL ({err}); e.g. redis://127.0.0.1:6379"))?;
        match url.scheme() {
            "redis" | "rediss" if url.host_str().is_some_and(|h| !h.is_empty()) => {}
            "redis" | "rediss" => return Err("has no host; e.g. redis://127.0.0.1:6379".to_owned()),
            "redis+unix" | "unix" if !url.path().is_empty() => {}
            "redis+unix" | "unix" => {
                return Err("has no socket path; e.g. redis+unix:///run/redis.sock".to_owned());
            }
            other => {
                return Err(format!(
                    "scheme `{other}` is not redis://, rediss://, redis+unix://, redis+sentinel:// or redis+cluster://"
                ));
            }
        }
        redis::parse_redis_url(text).ok_or_else(|| "is not a Redis URL redis accepts".to_owned())?;
        Ok(RedisTopology::Single)
    }

    /// The deployment in a few words, for `check-config` and the start-up log line.
    pub fn mode(&self) -> String {
        match self.topology() {
            Ok(RedisTopology::Single) => "one server".to_owned(),
            Ok(RedisTopology::Sentinel(nodes, target)) => format!(
                "Sentinel: master `{}`, database {}, asked of {} Sentinel(s){}",
                target.master_name,
                target.db,
                nodes.hosts.len(),
                if nodes.tls { ", TLS" } else { "" }
            ),
            Ok(RedisTopology::Cluster(nodes)) => {
                format!("Cluster: {} seed node(s){}", nodes.hosts.len(), if nodes.tls { ", TLS" } else { "" })
            }
            Err(_) => "unusable".to_owned(),
        }
    }

    /// The URL with any password replaced by `****`, safe to print and log.
    pub fn masked(&self) -> String {
        let text = self.0.expose_secret();
        if let Ok(RedisTopology::Sentinel(nodes, _) | RedisTopology::Cluster(nodes)) = self.topology() {
            let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
            let path = rest.split_once('/').map(|(_, p)| format!("/{p}")).unwrap_or_default();
            let credentials = match (&nodes.username, &nodes.password) {
                (None, None) => String::new(),
                (user, password) => format!(
                    "{}{}@",
                    user.as_deref().map(encode).unwrap_or_default(),
                    if password.is_some() { ":****" } else { "" }
                ),
            };
            return format!("{scheme}://{credentials}{}{path}", nodes.hosts.join(","));
        }
        match Url::parse(text) {
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

    #[test]
    fn sentinel_urls_name_the_sentinels_the_master_and_the_database() {
        let url =
            RedisUrl::parse("rediss+sentinel://app:hun%40ter2@10.0.0.1:26380,[::1],s3.internal/mymaster/2").unwrap();
        let RedisTopology::Sentinel(nodes, target) = url.topology().unwrap() else { panic!("a Sentinel URL") };
        assert!(nodes.tls);
        assert_eq!(nodes.hosts, ["10.0.0.1:26380", "[::1]:26379", "s3.internal:26379"]);
        assert_eq!(nodes.username.as_deref(), Some("app"));
        assert_eq!(nodes.password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(), Some("hun@ter2"));
        assert_eq!((target.master_name.as_str(), target.db), ("mymaster", 2));
        assert_eq!(url.masked(), "rediss+sentinel://app:****@10.0.0.1:26380,[::1]:26379,s3.internal:26379/mymaster/2");
        assert!(!format!("{url:?}").contains("ter2"));
        let node = nodes.node_url("10.0.0.9:6379", 2, true);
        assert_eq!(node.expose_secret(), "rediss://app:hun%40ter2@10.0.0.9:6379/2");
        assert!(url.mode().starts_with("Sentinel: master `mymaster`, database 2, asked of 3 Sentinel(s)"));
        let plain = RedisUrl::parse("redis+sentinel://127.0.0.1:26379/m").unwrap();
        assert_eq!(plain.masked(), "redis+sentinel://127.0.0.1:26379/m");
    }

    #[test]
    fn cluster_urls_list_seed_nodes_and_mask_the_password() {
        let url = RedisUrl::parse("redis+cluster://:s3cret@10.0.0.1:7000,10.0.0.2").unwrap();
        let RedisTopology::Cluster(nodes) = url.topology().unwrap() else { panic!("a Cluster URL") };
        assert_eq!(nodes.hosts, ["10.0.0.1:7000", "10.0.0.2:6379"]);
        assert_eq!(nodes.username, None);
        assert_eq!(url.masked(), "redis+cluster://:****@10.0.0.1:7000,10.0.0.2:6379");
        assert_eq!(url.mode(), "Cluster: 2 seed node(s)");
    }

    #[test]
    fn broken_sentinel_and_cluster_urls_say_what_is_wrong_without_the_password() {
        let cases = [
            ("redis+sentinel://app:pw1@10.0.0.1:26379", "names no master"),
            ("redis+sentinel://app:pw1@10.0.0.1:26379/", "names no master"),
            ("redis+sentinel://app:pw1@10.0.0.1:99999/m", "port"),
            ("redis+sentinel://app:pw1@10.0.0.1:26379,/m", "empty host"),
            ("redis+sentinel://app:pw1@10.0.0.1/m/x", "database"),
            ("redis+sentinel://app:pw1@10.0.0.1/m/1/2", "more path"),
            ("redis+sentinel://app:pw1@10.0.0.1/m?x=1", "no query"),
            ("redis+cluster://app:pw1@10.0.0.1/3", "only database 0"),
            ("redis+cluster://app:pw1@", "empty host"),
            ("redis+cluster://app:pw1@a b", "not a host"),
        ];
        for (text, expected) in cases {
            let err = RedisUrl::parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("pw1"), "{text}: {err}");
        }
    }
}
