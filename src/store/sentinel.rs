//! Finding the primary through Sentinels.
//!
//! Our own few lines rather than redis-rs's `Sentinel` because we need what it lacks: a deadline
//! on each Sentinel (a Sentinel that stalls must not hold up the others), and errors that tell
//! "no Sentinel answered" from "the Sentinels do not know this master" from "the address they gave
//! is not a primary (yet)", for `check-config` and for the logs. redis-rs's client also stays on
//! the primary it first found (its issue 1438); following a failover is `connection.rs`'s job,
//! which asks here again whenever a connection drops, times out or answers `READONLY`.

use std::time::Duration;

use redis::{Client, Value};
use secrecy::ExposeSecret;
use tokio::time::timeout;

use crate::config::{Nodes, SentinelTarget};

/// How long one Sentinel (or the primary it names) may take to answer.
const PER_NODE: Duration = Duration::from_millis(700);

/// Why no primary was found.
#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    #[error("no Sentinel answered ({0})")]
    NoSentinel(String),
    #[error(
        "the Sentinels that answered ({answered}) do not know a master named `{name}` (check the name after the hosts in THREELO_REDIS_URL and `sentinel monitor` in sentinel.conf)"
    )]
    UnknownMaster { name: String, answered: usize },
    #[error("the master the Sentinels name ({address}) cannot be used: {why}")]
    MasterUnusable { address: String, why: String },
}

/// The primary's client, as the first Sentinel that knows `target` names it, checked to be a
/// primary (`ROLE`): during a failover a Sentinel may still name the old one.
pub async fn find_master(nodes: &Nodes, target: &SentinelTarget) -> Result<(String, Client), SentinelError> {
    let mut unreachable = Vec::new();
    let mut answered = 0;
    let mut unusable = None;
    for host in &nodes.hosts {
        let url = nodes.node_url(host, 0, false);
        let asked = async {
            let client = Client::open(url.expose_secret())?;
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&target.master_name)
                .query_async::<Option<(String, u16)>>(&mut connection)
                .await
        };
        let address = match timeout(PER_NODE, asked).await {
            Ok(Ok(Some((ip, port)))) => {
                answered += 1;
                if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
            }
            Ok(Ok(None)) => {
                answered += 1;
                continue;
            }
            Ok(Err(err)) => {
                unreachable.push(format!("{host}: {}", describe(&err)));
                continue;
            }
            Err(_) => {
                unreachable.push(format!("{host}: no answer within {} ms", PER_NODE.as_millis()));
                continue;
            }
        };
        match check_primary(nodes, target, &address).await {
            Ok(client) => return Ok((address, client)),
            Err(why) => unusable = Some(SentinelError::MasterUnusable { address, why }),
        }
    }
    if let Some(unusable) = unusable {
        return Err(unusable);
    }
    if answered > 0 {
        return Err(SentinelError::UnknownMaster { name: target.master_name.clone(), answered });
    }
    Err(SentinelError::NoSentinel(unreachable.join("; ")))
}

/// A client of `address` once it says it is a primary.
async fn check_primary(nodes: &Nodes, target: &SentinelTarget, address: &str) -> Result<Client, String> {
    let url = nodes.node_url(address, target.db, true);
    let client = Client::open(url.expose_secret()).map_err(|err| describe(&err))?;
    let role = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("ROLE").query_async::<Value>(&mut connection).await
    };
    match timeout(PER_NODE, role).await {
        Ok(Ok(Value::Array(parts))) if matches!(parts.first(), Some(Value::BulkString(r)) if r == b"master") => {
            Ok(client)
        }
        Ok(Ok(_)) => Err("it is not a primary (a failover may be under way)".to_owned()),
        Ok(Err(err)) => Err(describe(&err)),
        Err(_) => Err(format!("no answer within {} ms", PER_NODE.as_millis())),
    }
}

/// A Redis error in words that never include a password (redis-rs's errors do not carry URLs,
/// but say so here once rather than trust every caller).
pub fn describe(err: &redis::RedisError) -> String {
    let text = err.to_string();
    if err.is_connection_refusal() { format!("connection refused ({text})") } else { text }
}
