//! Connections to Redis: one multiplexed connection per thread, made on that thread.
//!
//! Why not a pool: a pool checks every connection it hands out (deadpool-redis sends `UNWATCH` and
//! `PING`), which doubled the commands and round trips of every page. And a connection made on
//! one actix worker's runtime and used from another costs a cross-thread wake-up per command.
//! A multiplexed connection serves any number of concurrent requests of its thread, so each
//! worker thread keeps one, created lazily on its own runtime: a Redis that is down at start-up is
//! simply connected to later.
//!
//! A connection that turns out dead (Redis restarted, the socket closed) is dropped and the call
//! made once more on a fresh one. That is safe because every command threelo sends may be repeated:
//! reads, plain writes, and conditional writes whose second run changes nothing (see
//! `conditional.rs`), though a repeat may answer differently (a compare-and-set that landed says
//! "not replaced" the second time). A call that times out is not repeated.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::time::{Instant, timeout_at};

use super::{REDIS_DEADLINE, StoreError};
use crate::config::RedisUrl;

/// The Redis threelo talks to: a client, and the connections each thread made with it.
#[derive(Clone)]
pub struct RedisPool(Arc<Inner>);

struct Inner {
    client: Client,
    config: AsyncConnectionConfig,
}

thread_local! {
    /// This thread's connection to each Redis (tests run several apps in one process), with an id
    /// so that only the connection that failed is dropped.
    static CONNECTIONS: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

struct Cached {
    redis: Weak<Inner>,
    id: u64,
    connection: MultiplexedConnection,
}

/// Ids of connections, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A Redis client for `url`. Connects lazily: a Redis that is down at start-up is reported by
/// `/readyz` and by pages, and picked up by itself once it answers.
pub fn redis_pool(url: &RedisUrl) -> Result<RedisPool, StoreError> {
    let client = Client::open(url.expose()).map_err(StoreError::Url)?;
    // Redis's own timeouts are the deadline's backstop; `run` enforces the deadline itself.
    let config =
        AsyncConnectionConfig::new().set_connection_timeout(REDIS_DEADLINE).set_response_timeout(REDIS_DEADLINE);
    Ok(RedisPool(Arc::new(Inner { client, config })))
}

impl RedisPool {
    /// This thread's connection and its id, made now if it has none.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), StoreError> {
        let cached =
            CONNECTIONS.with_borrow(|all| all.iter().find(|c| self.is(&c.redis)).map(|c| (c.id, c.connection.clone())));
        if let Some(found) = cached {
            return Ok(found);
        }
        let connection = self
            .0
            .client
            .get_multiplexed_async_connection_with_config(&self.0.config)
            .await
            .map_err(StoreError::Connect)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        CONNECTIONS.with_borrow_mut(|all| {
            // Connections of dropped clients (an app that stopped) go too.
            all.retain(|c| c.redis.strong_count() > 0 && !self.is(&c.redis));
            all.push(Cached { redis: Arc::downgrade(&self.0), id, connection: connection.clone() });
        });
        Ok((id, connection))
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
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let deadline = Instant::now() + REDIS_DEADLINE;
        match self.attempt(&call, deadline).await {
            Err(Failure::Dead(_)) => match self.attempt(&call, deadline).await {
                Ok(value) => Ok(value),
                Err(Failure::Dead(err) | Failure::Other(err)) => Err(err),
            },
            Ok(value) => Ok(value),
            Err(Failure::Other(err)) => Err(err),
        }
    }

    /// One try of `call`, on this thread's connection, until `deadline`.
    async fn attempt<T, F, Fut>(&self, call: &F, deadline: Instant) -> Result<T, Failure>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let (id, connection) = match timeout_at(deadline, self.connection()).await {
            Ok(made) => made.map_err(Failure::Other)?,
            Err(_) => return Err(Failure::Other(StoreError::Timeout)),
        };
        match timeout_at(deadline, call(connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) if err.is_timeout() => {
                self.forget(id);
                Err(Failure::Other(StoreError::Timeout))
            }
            Ok(Err(err)) if is_dead_connection(&err) => {
                self.forget(id);
                Err(Failure::Dead(StoreError::Command(err)))
            }
            Ok(Err(err)) => Err(Failure::Other(StoreError::Command(err))),
            Err(_) => {
                // A connection that does not answer may be wedged: the next call starts afresh.
                self.forget(id);
                Err(Failure::Other(StoreError::Timeout))
            }
        }
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
