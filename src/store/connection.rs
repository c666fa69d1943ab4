//! Connections to Redis: one connection per thread, made on that thread, to one server, to the
//! primary the Sentinels name, or to a Redis Cluster.
//!
//! Why not a pool: a pool checks every connection it hands out (deadpool-redis sends `UNWATCH` and
//! `PING`), which doubled the commands and round trips of every page. And a connection made on
//! one actix worker's runtime and used from another costs a cross-thread wake-up per command.
//! A multiplexed connection (and a cluster connection, which multiplexes to every node) serves any
//! number of concurrent requests of its thread, so each worker thread keeps one, created lazily on
//! its own runtime: a Redis that is down at start-up is simply connected to later.
//!
//! A connection that turns out dead (Redis restarted, the socket closed) is dropped and the call
//! made once more on a fresh one. That is safe because every command threelo sends may be repeated:
//! reads, plain writes, and conditional writes whose second run changes nothing (see
//! `conditional.rs`), though a repeat may answer differently (a compare-and-set that landed says
//! "not replaced" the second time). A call that times out is not repeated.
//!
//! Sentinel: redis-rs does not move live connections to a new primary after a failover. Here a
//! dropped connection, a timeout or a `READONLY` answer (the old primary, back as a replica) makes
//! every thread forget its connection (the generation moves on) and the next call asks the
//! Sentinels again (`sentinel.rs`). `READONLY` means the write did not run, so it is repeated once.
//!
//! Cluster: redis-rs's cluster connection follows `MOVED`/`ASK` and refreshes its slot map by
//! itself. Every command and script of threelo touches one key, so nothing is cross-slot.
//!
//! Whatever the deployment, each target has a circuit (`circuit.rs`): after a failure calls fail
//! fast for a moment, then one probe goes.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};
use secrecy::ExposeSecret;
use tokio::time::{Instant, timeout_at};

use super::circuit::{Admission, Circuit};
use super::sentinel::{SentinelError, find_master};
use super::{REDIS_DEADLINE, StoreError};
use crate::config::{Nodes, RedisTopology, RedisUrl, SentinelTarget};

/// The Redis threelo talks to: how to reach it, and the connections each thread made.
#[derive(Clone)]
pub struct RedisPool(Arc<Inner>);

struct Inner {
    target: Target,
    config: AsyncConnectionConfig,
    /// Moves on when every thread must drop its connection (a Sentinel failover).
    generation: AtomicU64,
    circuit: Circuit,
}

enum Target {
    Single(Client),
    Sentinel {
        nodes: Nodes,
        target: SentinelTarget,
        master: Mutex<Option<(u64, Client)>>,
        asking: tokio::sync::Mutex<()>,
    },
    Cluster(ClusterClient),
}

/// A connection of any deployment; redis-rs's commands and scripts run on it.
#[derive(Clone)]
pub enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

thread_local! {
    /// This thread's connection to each Redis (tests run several apps in one process), with an id
    /// so that only the connection that failed is dropped.
    static CONNECTIONS: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

struct Cached {
    redis: Weak<Inner>,
    id: u64,
    generation: u64,
    connection: Conn,
}

/// Ids of connections, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A Cluster client seeded with every node of the URL, each call within the Redis deadline;
/// `retries` for MOVED/ASK and CLUSTERDOWN (none for check-config, which reports at once).
fn cluster_client(nodes: &Nodes, retries: u32) -> Result<ClusterClient, RedisError> {
    let seeds: Vec<String> =
        nodes.hosts.iter().map(|h| nodes.node_url(h, 0, true).expose_secret().to_owned()).collect();
    ClusterClient::builder(seeds)
        .connection_timeout(REDIS_DEADLINE / 2)
        .response_timeout(REDIS_DEADLINE / 2)
        .retries(retries)
        .min_retry_wait(50)
        .max_retry_wait(300)
        .build()
}

/// A Redis client for `url`. Connects lazily: a Redis that is down at start-up is reported by
/// `/readyz` and by pages, and picked up by itself once it answers.
pub fn redis_pool(url: &RedisUrl) -> Result<RedisPool, StoreError> {
    let target = match url.topology().map_err(StoreError::Config)? {
        RedisTopology::Single => Target::Single(Client::open(url.expose()).map_err(StoreError::Url)?),
        RedisTopology::Sentinel(nodes, target) => {
            Target::Sentinel { nodes, target, master: Mutex::new(None), asking: tokio::sync::Mutex::new(()) }
        }
        // MOVED/ASK and a failover's brief CLUSTERDOWN are retried inside the deadline.
        RedisTopology::Cluster(nodes) => Target::Cluster(cluster_client(&nodes, 3).map_err(StoreError::Url)?),
    };
    // Redis's own timeouts are the deadline's backstop; `run` enforces the deadline itself.
    let config =
        AsyncConnectionConfig::new().set_connection_timeout(REDIS_DEADLINE).set_response_timeout(REDIS_DEADLINE);
    let circuit = Circuit::new(url.masked());
    Ok(RedisPool(Arc::new(Inner { target, config, generation: AtomicU64::new(0), circuit })))
}

impl RedisPool {
    /// This thread's connection and its id, made now if it has none.
    async fn connection(&self) -> Result<(u64, Conn), StoreError> {
        let generation = self.0.generation.load(Ordering::Acquire);
        let cached = CONNECTIONS.with_borrow(|all| {
            all.iter().find(|c| self.is(&c.redis) && c.generation == generation).map(|c| (c.id, c.connection.clone()))
        });
        if let Some(found) = cached {
            return Ok(found);
        }
        let connection = match &self.0.target {
            Target::Single(client) => Conn::Single(
                client
                    .get_multiplexed_async_connection_with_config(&self.0.config)
                    .await
                    .map_err(StoreError::Connect)?,
            ),
            Target::Sentinel { .. } => {
                let client = self.master(generation).await?;
                match client.get_multiplexed_async_connection_with_config(&self.0.config).await {
                    Ok(connection) => Conn::Single(connection),
                    Err(_) => {
                        // The primary we knew is gone (an instance idle through a failover finds
                        // out only now): ask the Sentinels at once rather than fail this call.
                        self.ask_sentinels_again(generation);
                        let generation = self.0.generation.load(Ordering::Acquire);
                        let client = self.master(generation).await?;
                        let connection = client
                            .get_multiplexed_async_connection_with_config(&self.0.config)
                            .await
                            .map_err(StoreError::Connect)?;
                        return Ok(self.keep(generation, Conn::Single(connection)));
                    }
                }
            }
            Target::Cluster(client) => Conn::Cluster(client.get_async_connection().await.map_err(StoreError::Connect)?),
        };
        Ok(self.keep(generation, connection))
    }

    /// Makes `connection` this thread's connection; returns it with its id.
    fn keep(&self, generation: u64, connection: Conn) -> (u64, Conn) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        CONNECTIONS.with_borrow_mut(|all| {
            // Connections of dropped clients (an app that stopped) go too.
            all.retain(|c| c.redis.strong_count() > 0 && !self.is(&c.redis));
            all.push(Cached { redis: Arc::downgrade(&self.0), id, generation, connection: connection.clone() });
        });
        (id, connection)
    }

    /// The primary's client for `generation`, asking the Sentinels when there is none yet. One
    /// question at a time: the others wait for its answer.
    async fn master(&self, generation: u64) -> Result<Client, StoreError> {
        let Target::Sentinel { nodes, target, master, asking } = &self.0.target else {
            return Err(StoreError::Unexpected("not a Sentinel deployment".to_owned()));
        };
        let known = |master: &Mutex<Option<(u64, Client)>>| {
            let guard = master.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_ref().filter(|(g, _)| *g == generation).map(|(_, c)| c.clone())
        };
        if let Some(client) = known(master) {
            return Ok(client);
        }
        let _asking = asking.lock().await;
        if let Some(client) = known(master) {
            return Ok(client);
        }
        let (address, client) = find_master(nodes, target).await.map_err(StoreError::Sentinel)?;
        tracing::info!(master = %address, name = %target.master_name, "the Sentinels name this primary");
        *master.lock().unwrap_or_else(|p| p.into_inner()) = Some((generation, client.clone()));
        Ok(client)
    }

    /// The primary may have moved: every thread drops its connection and the next call asks the
    /// Sentinels. Only once per generation, however many calls noticed.
    fn ask_sentinels_again(&self, seen: u64) {
        if matches!(self.0.target, Target::Sentinel { .. }) {
            let _ = self.0.generation.compare_exchange(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Drops this thread's connection `id` (if it is still the one in use), so that the next call
    /// makes a fresh one. A connection made since by another request stays.
    fn forget(&self, id: u64) {
        CONNECTIONS.with_borrow_mut(|all| all.retain(|c| c.id != id));
    }

    fn is(&self, other: &Weak<Inner>) -> bool {
        std::ptr::eq(other.as_ptr(), Arc::as_ptr(&self.0))
    }

    /// Runs `call` on this thread's connection within the Redis deadline. When the connection
    /// turns out dead, it is dropped and `call` runs once more on a fresh one; a connection that
    /// does not answer in time is dropped too, but the call is not repeated (it may have run).
    /// While the circuit is open, fails at once.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let circuit = &self.0.circuit;
        let probe = match circuit.admit() {
            Admission::Refused => return Err(StoreError::CircuitOpen),
            Admission::Probe => Some(ProbeGuard(circuit)),
            Admission::Go => None,
        };
        let deadline = Instant::now() + REDIS_DEADLINE;
        let outcome = match self.attempt(&call, deadline).await {
            Err(Failure::Dead(_)) => match self.attempt(&call, deadline).await {
                Ok(value) => Ok(value),
                Err(Failure::Dead(err) | Failure::Other(err)) => Err(err),
            },
            Ok(value) => Ok(value),
            Err(Failure::Other(err)) => Err(err),
        };
        match &outcome {
            Err(err) if err.is_outage() => circuit.failed(err),
            _ => circuit.answered(),
        }
        if let Some(probe) = probe {
            std::mem::forget(probe);
        }
        outcome
    }

    /// One try of `call`, on this thread's connection, until `deadline`.
    async fn attempt<T, F, Fut>(&self, call: &F, deadline: Instant) -> Result<T, Failure>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let generation = self.0.generation.load(Ordering::Acquire);
        let (id, connection) = match timeout_at(deadline, self.connection()).await {
            Ok(made) => made.map_err(Failure::Other)?,
            Err(_) => return Err(Failure::Other(StoreError::Timeout)),
        };
        let lost = |this: &Self| {
            this.forget(id);
            this.ask_sentinels_again(generation);
        };
        match timeout_at(deadline, call(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) if err.is_timeout() => {
                lost(self);
                Err(Failure::Other(StoreError::Timeout))
            }
            Ok(Err(err)) if is_dead_connection(&err) => {
                lost(self);
                Err(Failure::Dead(StoreError::Command(err)))
            }
            Ok(Err(err)) if err.kind() == ErrorKind::ReadOnly && matches!(self.0.target, Target::Sentinel { .. }) => {
                // The old primary, now a replica: the write did not run; ask for the new one.
                lost(self);
                Err(Failure::Dead(StoreError::Command(err)))
            }
            Ok(Err(err)) => Err(Failure::Other(StoreError::Command(err))),
            Err(_) => {
                // A connection that does not answer may be wedged: the next call starts afresh.
                lost(self);
                Err(Failure::Other(StoreError::Timeout))
            }
        }
    }
}

/// Gives the probe back if its call is dropped before it ends (a cancelled request).
struct ProbeGuard<'a>(&'a Circuit);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.0.probe_abandoned();
    }
}

/// Why one try failed: a dead connection (worth one more try on a fresh one) or anything else.
enum Failure {
    Dead(StoreError),
    Other(StoreError),
}

/// Whether an error means the connection itself is unusable (rather than the command failing).
fn is_dead_connection(err: &RedisError) -> bool {
    err.is_connection_dropped() || err.is_io_error() || err.is_unrecoverable_error()
}

impl StoreError {
    /// Whether this says Redis itself is unavailable (rather than one command being wrong): such
    /// failures open the circuit.
    pub(crate) fn is_outage(&self) -> bool {
        match self {
            StoreError::Connect(_) | StoreError::Timeout | StoreError::Sentinel(_) | StoreError::CircuitOpen => true,
            StoreError::Command(err) => {
                is_dead_connection(err)
                    || err.is_timeout()
                    || matches!(
                        err.kind(),
                        ErrorKind::ReadOnly
                            | ErrorKind::ClusterDown
                            | ErrorKind::MasterDown
                            | ErrorKind::TryAgain
                            | ErrorKind::BusyLoadingError
                            | ErrorKind::ClusterConnectionNotFound
                            | ErrorKind::AuthenticationFailed
                    )
            }
            StoreError::Url(_) | StoreError::Config(_) | StoreError::Unexpected(_) | StoreError::Encode(_) => false,
        }
    }
}

/// Checks that the deployment `url` names answers as configured, for `check-config`: a clear
/// sentence on success (which primary, how many cluster nodes), or on failure what is wrong.
/// `Err(true)` is a misconfiguration (unknown master, not a cluster, refused credentials),
/// `Err(false)` Redis being unreachable right now.
pub async fn check(url: &RedisUrl) -> Result<String, (bool, String)> {
    let work = async {
        match url.topology().map_err(|why| (true, why))? {
            RedisTopology::Single => {
                let client = Client::open(url.expose()).map_err(|err| (true, err.to_string()))?;
                let mut connection = client.get_multiplexed_async_connection().await.map_err(|err| classify(&err))?;
                ping(&mut connection).await?;
                Ok("answers".to_owned())
            }
            RedisTopology::Sentinel(nodes, target) => match find_master(&nodes, &target).await {
                Ok((address, client)) => {
                    let mut connection =
                        client.get_multiplexed_async_connection().await.map_err(|err| classify(&err))?;
                    ping(&mut connection).await?;
                    Ok(format!("answers: the Sentinels name master `{}` at {address}", target.master_name))
                }
                Err(err @ SentinelError::NoSentinel(_)) => Err((false, err.to_string())),
                Err(err @ SentinelError::UnknownMaster { .. }) => Err((true, err.to_string())),
                Err(err @ SentinelError::MasterUnusable { .. }) => {
                    Err((err.to_string().contains("auth") || err.to_string().contains("WRONGPASS"), err.to_string()))
                }
            },
            RedisTopology::Cluster(nodes) => {
                let client = cluster_client(&nodes, 0).map_err(|err| (true, err.to_string()))?;
                let mut connection =
                    client.get_async_connection().await.map_err(|err| cluster_problem(&nodes, &err))?;
                let nodes_line: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut connection)
                    .await
                    .map_err(|err| cluster_problem(&nodes, &err))?;
                let masters = nodes_line.lines().filter(|l| l.contains("master") && !l.contains("fail")).count();
                let all = nodes_line.lines().filter(|l| !l.trim().is_empty()).count();
                Ok(format!("answers: a cluster of {all} node(s), {masters} of them primaries"))
            }
        }
    };
    match tokio::time::timeout(REDIS_DEADLINE * 3, work).await {
        Ok(result) => result,
        Err(_) => Err((false, format!("no answer within {} s", (REDIS_DEADLINE * 3).as_secs()))),
    }
}

async fn ping(connection: &mut MultiplexedConnection) -> Result<(), (bool, String)> {
    redis::cmd("PING").query_async::<()>(connection).await.map_err(|err| classify(&err))
}

/// `(misconfigured, message)` for an error from one server.
fn classify(err: &RedisError) -> (bool, String) {
    let text = super::sentinel::describe(err);
    let misconfigured = matches!(err.kind(), ErrorKind::AuthenticationFailed)
        || text.contains("WRONGPASS")
        || text.contains("NOAUTH")
        || text.contains("NOPERM");
    (misconfigured, text)
}

fn cluster_problem(nodes: &Nodes, err: &RedisError) -> (bool, String) {
    let text = super::sentinel::describe(err);
    if text.contains("cluster support disabled") || text.contains("cluster_enabled") {
        let hosts = nodes.hosts.join(", ");
        return (
            true,
            format!(
                "a node ({hosts}) is not in cluster mode (`cluster-enabled yes`): use a redis:// URL for a single server ({text})"
            ),
        );
    }
    classify(err)
}
