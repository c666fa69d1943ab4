//! actix-session storage: sessions in Redis in production, an in-memory twin for the demo.
//!
//! `SessionBackend` wraps both so the middleware has one type, and adds a deadline on every call,
//! and "unreadable session state means signed out" instead of a 500.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key};
use actix_web::cookie::time::Duration;
use redis::Value;

use super::{KEY_PREFIX, Kv, MemoryKv, REDIS_DEADLINE, RedisPool, StoreError};

type State = HashMap<String, String>;

/// The Redis key of a session.
pub fn session_key_name(session_key: &str) -> String {
    format!("{KEY_PREFIX}session:{session_key}")
}

fn ttl_of(ttl: &Duration) -> StdDuration {
    StdDuration::from_secs(u64::try_from(ttl.whole_seconds()).unwrap_or(0).max(1))
}

/// Sessions in a [`MemoryKv`], stored exactly as the Redis store stores them (JSON of the state).
#[derive(Clone)]
pub struct MemorySessionStore {
    kv: Arc<MemoryKv>,
}

impl MemorySessionStore {
    /// Sessions kept in `kv`.
    pub fn new(kv: Arc<MemoryKv>) -> Self {
        MemorySessionStore { kv }
    }
}

impl SessionStore for MemorySessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        match self.kv.get(&session_key_name(session_key.as_ref())) {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json).map_err(|err| LoadError::Deserialization(err.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let json = serde_json::to_string(&state).map_err(|err| SaveError::Serialization(err.into()))?;
        let key = generate_session_key();
        self.kv.set(&session_key_name(key.as_ref()), json, ttl_of(ttl));
        Ok(key)
    }

    async fn update(&self, session_key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let name = session_key_name(session_key.as_ref());
        if !self.kv.contains(&name) {
            // Like the Redis store: a session that expired meanwhile gets a fresh key.
            return self.save(state, ttl).await.map_err(|err| match err {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            });
        }
        let json = serde_json::to_string(&state).map_err(|err| UpdateError::Serialization(err.into()))?;
        self.kv.set(&name, json, ttl_of(ttl));
        Ok(session_key)
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        self.kv.touch(&session_key_name(session_key.as_ref()), ttl_of(ttl));
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        self.kv.remove(&session_key_name(session_key.as_ref()));
        Ok(())
    }
}

/// Sessions in Redis, stored exactly as actix-session's `RedisSessionStore` stores them (the state
/// as JSON under `threelo:session:<key>`, with the same commands: GET; SET NX EX; SET XX EX falling
/// back to a new key; EXPIRE; DEL), but on threelo's own connections (`connection.rs`): actix's
/// store takes a pooled connection per call, and the pool pings each one it hands out.
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: RedisPool,
}

fn other(err: StoreError) -> anyhow::Error {
    anyhow::anyhow!(err)
}

impl SessionStore for RedisSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let name = session_key_name(session_key.as_ref());
        let name = name.as_str();
        let value: Option<String> =
            Kv::redis_call(&self.redis, |mut c| async move { redis::cmd("GET").arg(name).query_async(&mut c).await })
                .await
                .map_err(|err| LoadError::Other(other(err)))?;
        match value {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json).map_err(|err| LoadError::Deserialization(err.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let json = serde_json::to_string(&state).map_err(|err| SaveError::Serialization(err.into()))?;
        let key = generate_session_key();
        let (name, json, secs) = (session_key_name(key.as_ref()), json.as_str(), ttl.whole_seconds());
        let name = name.as_str();
        Kv::redis_call(&self.redis, |mut c| async move {
            redis::cmd("SET").arg(name).arg(json).arg("NX").arg("EX").arg(secs).query_async::<()>(&mut c).await
        })
        .await
        .map_err(|err| SaveError::Other(other(err)))?;
        Ok(key)
    }

    async fn update(&self, session_key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let json = serde_json::to_string(&state).map_err(|err| UpdateError::Serialization(err.into()))?;
        let (name, body, secs) = (session_key_name(session_key.as_ref()), json.as_str(), ttl.whole_seconds());
        let name = name.as_str();
        let answer: Value = Kv::redis_call(&self.redis, |mut c| async move {
            redis::cmd("SET").arg(name).arg(body).arg("XX").arg("EX").arg(secs).query_async(&mut c).await
        })
        .await
        .map_err(|err| UpdateError::Other(other(err)))?;
        match answer {
            // The session expired between load and update: like actix's store, save it under a new key.
            Value::Nil => self.save(state, ttl).await.map_err(|err| match err {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            }),
            Value::Okay => Ok(session_key),
            other => Err(UpdateError::Other(anyhow::anyhow!("unexpected answer to SET XX: {other:?}"))),
        }
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let (name, secs) = (session_key_name(session_key.as_ref()), ttl.whole_seconds());
        let name = name.as_str();
        Kv::redis_call(&self.redis, |mut c| async move {
            redis::cmd("EXPIRE").arg(name).arg(secs).query_async::<()>(&mut c).await
        })
        .await
        .map_err(other)
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let name = session_key_name(session_key.as_ref());
        let name = name.as_str();
        Kv::redis_call(&self.redis, |mut c| async move { redis::cmd("DEL").arg(name).query_async::<()>(&mut c).await })
            .await
            .map_err(other)
    }
}

/// The session store the middleware uses: one of the two backends.
#[derive(Clone)]
pub enum SessionBackend {
    Redis(RedisSessionStore),
    Memory(MemorySessionStore),
}

impl SessionBackend {
    /// Sessions in the Redis of `redis`, with our key prefix.
    pub async fn redis(redis: RedisPool) -> anyhow::Result<Self> {
        Ok(SessionBackend::Redis(RedisSessionStore { redis }))
    }
}

/// A visitor who is not signed in only has pending sign-ins, which expire after minutes: their
/// session need not (and, so that visitors cannot fill Redis, must not) outlive them.
fn ttl_for(state: &State, ttl: &Duration) -> Duration {
    if crate::session::state_is_signed_in(state) {
        *ttl
    } else {
        (*ttl).min(Duration::seconds(crate::session::PENDING_TTL.as_secs() as i64))
    }
}

/// Runs a store call under the Redis deadline; `timed_out` builds the call's own error type.
async fn within<T, E>(
    work: impl Future<Output = Result<T, E>>,
    timed_out: impl FnOnce(anyhow::Error) -> E,
) -> Result<T, E> {
    // A little longer than the Redis deadline, so that the Redis call's own deadline fires first
    // and drops a connection that does not answer.
    match tokio::time::timeout(REDIS_DEADLINE + StdDuration::from_millis(250), work).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(anyhow::anyhow!("the session store did not answer in time"))),
    }
}

impl SessionStore for SessionBackend {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let work = async {
            match self {
                SessionBackend::Redis(s) => s.load(session_key).await,
                SessionBackend::Memory(s) => s.load(session_key).await,
            }
        };
        match within(work, LoadError::Other).await {
            // Unreadable state (written by something else, or corrupted) is a signed-out visitor,
            // not a failed request.
            Err(LoadError::Deserialization(err)) => {
                tracing::warn!(error = %err, "unreadable session state; treating the visitor as signed out");
                Ok(None)
            }
            other => other,
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let ttl = &ttl_for(&state, ttl);
        let work = async {
            match self {
                SessionBackend::Redis(s) => s.save(state, ttl).await,
                SessionBackend::Memory(s) => s.save(state, ttl).await,
            }
        };
        within(work, SaveError::Other).await
    }

    async fn update(&self, session_key: SessionKey, state: State, ttl: &Duration) -> Result<SessionKey, UpdateError> {
        let ttl = &ttl_for(&state, ttl);
        let work = async {
            match self {
                SessionBackend::Redis(s) => s.update(session_key, state, ttl).await,
                SessionBackend::Memory(s) => s.update(session_key, state, ttl).await,
            }
        };
        within(work, UpdateError::Other).await
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let work = async {
            match self {
                SessionBackend::Redis(s) => s.update_ttl(session_key, ttl).await,
                SessionBackend::Memory(s) => s.update_ttl(session_key, ttl).await,
            }
        };
        within(work, |e| e).await
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let work = async {
            match self {
                SessionBackend::Redis(s) => s.delete(session_key).await,
                SessionBackend::Memory(s) => s.delete(session_key).await,
            }
        };
        within(work, |e| e).await
    }
}
