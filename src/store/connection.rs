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
//! `conditional.rs`).

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

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
    /// This thread's connection to each Redis (tests run several apps in one process).
    static CONNECTIONS: RefCell<Vec<(Weak<Inner>, MultiplexedConnection)>> = const { RefCell::new(Vec::new()) };
}

/// A Redis client for `url`. Connects lazily: a Redis that is down at start-up is reported by
/// `/readyz` and by pages, and picked up by itself once it answers.
pub fn redis_pool(url: &RedisUrl) -> Result<RedisPool, StoreError> {
    let client = Client::open(url.expose()).map_err(|err| StoreError(format!("cannot use the Redis URL: {err}")))?;
    let config =
        AsyncConnectionConfig::new().set_connection_timeout(REDIS_DEADLINE).set_response_timeout(REDIS_DEADLINE);
    Ok(RedisPool(Arc::new(Inner { client, config })))
}

impl RedisPool {
    /// This thread's connection, made now if it has none.
    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        let cached = CONNECTIONS.with_borrow(|all| all.iter().find(|(pool, _)| self.is(pool)).map(|(_, c)| c.clone()));
        if let Some(connection) = cached {
            return Ok(connection);
        }
        let connection = self
            .0
            .client
            .get_multiplexed_async_connection_with_config(&self.0.config)
            .await
            .map_err(|err| StoreError(format!("no Redis connection: {err}")))?;
        CONNECTIONS.with_borrow_mut(|all| {
            // Connections of dropped clients (an app that stopped) go too.
            all.retain(|(pool, _)| pool.strong_count() > 0 && !self.is(pool));
            all.push((Arc::downgrade(&self.0), connection.clone()));
        });
        Ok(connection)
    }

    /// Drops this thread's connection, so that the next call makes a fresh one.
    pub(crate) fn forget_connection(&self) {
        CONNECTIONS.with_borrow_mut(|all| all.retain(|(pool, _)| !self.is(pool)));
    }

    fn is(&self, other: &Weak<Inner>) -> bool {
        std::ptr::eq(other.as_ptr(), Arc::as_ptr(&self.0))
    }

    /// Runs `call` on this thread's connection; once more on a fresh connection if that one was
    /// dead. The caller bounds the whole with the Redis deadline.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let failed = |err: RedisError| StoreError(format!("Redis command failed: {err}"));
        match call(self.connection().await?).await {
            Ok(value) => Ok(value),
            Err(err) if is_dead_connection(&err) => {
                self.forget_connection();
                let result = call(self.connection().await?).await;
                if result.as_ref().is_err_and(is_dead_connection) {
                    self.forget_connection();
                }
                result.map_err(failed)
            }
            Err(err) => Err(failed(err)),
        }
    }
}

/// Whether an error means the connection itself is unusable (rather than the command failing).
fn is_dead_connection(err: &RedisError) -> bool {
    err.is_connection_dropped() || err.is_io_error() || err.is_unrecoverable_error()
}
