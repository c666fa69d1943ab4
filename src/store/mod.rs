//! Key-value storage shared by sessions, token records and leases: Redis in production, an
//! in-memory map for `threelo demo`. Both answer the same calls and pass the same tests.
//!
//! Every Redis call has a short deadline, so an outage turns into a quick, clear error instead of
//! a request that hangs.

mod circuit;
mod conditional;
mod connection;
mod memory;
mod sentinel;
mod window;

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;

pub use circuit::{OPEN_FOR, REPORT_EVERY};
pub use connection::{Conn, RedisPool, check, redis_pool};
pub use memory::{Change, MemoryKv};
pub use sentinel::SentinelError;
pub use window::Budget;

/// How long one Redis command (including getting a connection) may take.
pub const REDIS_DEADLINE: Duration = Duration::from_secs(2);

/// Prefix of every key threelo writes, so a shared Redis stays tidy.
pub const KEY_PREFIX: &str = "threelo:";

/// Storage is unreachable or failing: pages answer 503 "temporarily unavailable". The Redis
/// error, where there is one, stays attached as the source, so the log shows the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the Redis URL cannot be used")]
    Url(#[source] redis::RedisError),
    #[error("the Redis URL cannot be used: {0}")]
    Config(String),
    #[error("no Redis primary")]
    Sentinel(#[source] SentinelError),
    #[error("Redis failed moments ago; it is asked again shortly")]
    CircuitOpen,
    #[error("no connection to Redis")]
    Connect(#[source] redis::RedisError),
    #[error("a Redis command failed")]
    Command(#[source] redis::RedisError),
    #[error("Redis did not answer in time")]
    Timeout,
    #[error("Redis gave an unexpected answer: {0}")]
    Unexpected(String),
    #[error("a value could not be encoded for storage")]
    Encode(#[source] serde_json::Error),
}

/// The storage backend.
#[derive(Clone)]
pub enum Kv {
    Redis(RedisPool),
    Memory(Arc<MemoryKv>),
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kv::Redis(_) => "Kv::Redis",
            Kv::Memory(_) => "Kv::Memory",
        })
    }
}

impl Kv {
    /// A fresh in-memory store.
    pub fn memory() -> Kv {
        Kv::Memory(Arc::new(MemoryKv::default()))
    }

    /// Runs `call` on a connection to `pool` within the Redis deadline. `call` may run twice (on a
    /// fresh connection when the first was dead), so running it twice must leave Redis as running it
    /// once would. Its answer may differ on the repeat (a compare-and-set that landed the first
    /// time says "not replaced"); callers re-read where that matters (`tokens/refresh.rs`).
    pub(crate) async fn redis_call<T, F, Fut>(pool: &RedisPool, call: F) -> Result<T, StoreError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        pool.run(call).await
    }

    /// The value at `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            Kv::Redis(pool) => Self::redis_call(pool, |mut c| async move { c.get(key).await }).await,
            Kv::Memory(map) => Ok(map.get(key)),
        }
    }

    /// The values at `first` and `second`, asked for together: one round trip to one server (the
    /// multiplexed connection writes both at once), and to two nodes of a Cluster at the same time
    /// (a pipeline could not span their slots).
    pub async fn get_both(&self, first: &str, second: &str) -> Result<(Option<String>, Option<String>), StoreError> {
        let (first, second) = tokio::join!(self.get(first), self.get(second));
        Ok((first?, second?))
    }

    /// Sets `key` to `value`, expiring after `ttl`.
    pub async fn set_ex(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let secs = ttl.as_secs().max(1);
        match self {
            Kv::Redis(pool) => Self::redis_call(pool, |mut c| async move { c.set_ex(key, value, secs).await }).await,
            Kv::Memory(map) => {
                map.set(key, value.to_owned(), Duration::from_secs(secs));
                Ok(())
            }
        }
    }

    /// Sets `key` to `value`, expiring after `ttl`, only if it exists (`SET XX EX`); false when it
    /// did not (it expired meanwhile). Repeating it changes nothing more.
    pub async fn set_ex_if_exists(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let secs = ttl.as_secs().max(1);
        match self {
            Kv::Redis(pool) => {
                let answer: redis::Value = Self::redis_call(pool, |mut c| async move {
                    redis::cmd("SET").arg(key).arg(value).arg("XX").arg("EX").arg(secs).query_async(&mut c).await
                })
                .await?;
                match answer {
                    redis::Value::Okay => Ok(true),
                    redis::Value::Nil => Ok(false),
                    other => Err(StoreError::Unexpected(format!("{other:?}"))),
                }
            }
            Kv::Memory(map) => Ok(map.change_text(key, |_| Change::Set(value.to_owned(), Duration::from_secs(secs)))),
        }
    }

    /// Deletes `key` (absent is fine).
    pub async fn del(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Kv::Redis(pool) => Self::redis_call(pool, |mut c| async move { c.del::<_, ()>(key).await }).await,
            Kv::Memory(map) => {
                map.remove(key);
                Ok(())
            }
        }
    }

    /// Moves the expiry of `key` to `ttl` from now (absent keys stay absent).
    pub async fn expire(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let secs = ttl.as_secs().max(1);
        match self {
            Kv::Redis(pool) => {
                Self::redis_call(pool, |mut c| async move { c.expire::<_, ()>(key, secs as i64).await }).await
            }
            Kv::Memory(map) => {
                map.touch(key, Duration::from_secs(secs));
                Ok(())
            }
        }
    }

    /// Sets `field` of the hash at `key`, and the whole hash to expire after `ttl`, atomically.
    pub async fn hset_ex(&self, key: &str, field: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let secs = ttl.as_secs().max(1);
        match self {
            Kv::Redis(pool) => {
                Self::redis_call(pool, |mut c| async move {
                    redis::pipe()
                        .atomic()
                        .hset(key, field, value)
                        .ignore()
                        .expire(key, secs as i64)
                        .ignore()
                        .query_async::<()>(&mut c)
                        .await
                })
                .await
            }
            Kv::Memory(map) => {
                map.hset(key, field, value.to_owned(), Duration::from_secs(secs));
                Ok(())
            }
        }
    }

    /// Removes `field` from the hash at `key`.
    pub async fn hdel(&self, key: &str, field: &str) -> Result<(), StoreError> {
        match self {
            Kv::Redis(pool) => {
                Self::redis_call(pool, |mut c| async move { c.hdel::<_, _, ()>(key, field).await }).await
            }
            Kv::Memory(map) => {
                map.hdel(key, field);
                Ok(())
            }
        }
    }

    /// Every field and value of the hash at `key` (empty when absent).
    pub async fn hgetall(&self, key: &str) -> Result<Vec<(String, String)>, StoreError> {
        match self {
            Kv::Redis(pool) => Self::redis_call(pool, |mut c| async move { c.hgetall(key).await }).await,
            Kv::Memory(map) => Ok(map.hgetall(key)),
        }
    }

    /// Whether the backend answers (Redis PING).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Kv::Redis(pool) => {
                Self::redis_call(pool, |mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await }).await
            }
            Kv::Memory(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_values_expire() {
        let kv = Kv::memory();
        kv.set_ex("a", "1", Duration::from_secs(60)).await.unwrap();
        assert_eq!(kv.get("a").await.unwrap().as_deref(), Some("1"));
        kv.del("a").await.unwrap();
        assert_eq!(kv.get("a").await.unwrap(), None);
        kv.ping().await.unwrap();
    }
}
