//! actix-session's storage, over threelo's own key-value store (`store::Kv`: Redis, or memory for
//! the demo), so sessions share its connections, deadlines and error handling.
//!
//! A signed-in session's key is its token record's id and a keyed hash of it
//! ([`SessionKeys`]: `{id}.{tag}`), so ending a session anywhere (another browser's "sign out
//! everywhere", the cap on sessions per account) deletes its stored state too, without an index
//! of session keys. The key stays unguessable without the session secret, and the cookie carries
//! it encrypted. Because the key names the record, loading a session reads its sealed token
//! record in the same round trip ([`tokens::read_with`]) and hands it on in the state
//! ([`PREFETCHED_TOKEN`], never stored), so a page costs one round trip to Redis, not two.
//!
//! Stored as actix-session's own Redis store stores them: the state as JSON under
//! `threelo:session:<key>`. Ours rather than actix's `RedisSessionStore` because that one takes a
//! pooled connection per call, and the pool pings each connection it hands out (twice the
//! commands per page). Unreadable state means "signed out", never a 500.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError, generate_session_key};
use actix_web::cookie::time::Duration;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::sign_ins::PENDING_TTL;
use super::state::{PREFETCHED_TOKEN, Prefetched, SIGNED_IN, SessionData, state_is_signed_in};
use crate::store::{KEY_PREFIX, Kv, REDIS_DEADLINE, StoreError};
use crate::tokens;

type State = HashMap<String, String>;

/// The sessions of the app, in `kv`.
#[derive(Clone, Debug)]
pub struct KvSessionStore {
    kv: Kv,
    keys: SessionKeys,
}

impl KvSessionStore {
    pub fn new(kv: Kv, keys: SessionKeys) -> Self {
        KvSessionStore { kv, keys }
    }

    /// The key to save `state` under: derived from its token record when signed in, else random.
    fn key_for(&self, state: &State) -> SessionKey {
        let record = state.get(SIGNED_IN).and_then(|json| serde_json::from_str::<SessionData>(json).ok());
        match record.and_then(|data| SessionKey::try_from(self.keys.for_record(data.token_record)).ok()) {
            Some(key) => key,
            None => generate_session_key(),
        }
    }
}

/// Derives signed-in sessions' keys from their token records' ids.
#[derive(Clone)]
pub struct SessionKeys([u8; 32]);

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys")
    }
}

impl SessionKeys {
    /// Keys under a secret derived from the session secret for this purpose alone.
    pub fn new(session_secret: &[u8]) -> Self {
        let mut derived = Sha256::new();
        derived.update(b"threelo: the key that derives session keys, v1\0");
        derived.update(session_secret);
        SessionKeys(derived.finalize().into())
    }

    /// The session key of the session whose token record is `record`: `{record}.{tag}`.
    pub fn for_record(&self, record: Uuid) -> String {
        // HMAC accepts a key of any length: `new_from_slice` cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else { return String::new() };
        mac.update(record.as_bytes());
        format!("{}.{}", record.simple(), URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

/// The token record a signed-in session's key names (`None` for a random key). Not checked
/// against the tag: the cookie that carried the key is authenticated, and the record read is
/// used only if the session's own state names the same record.
fn record_of(session_key: &str) -> Option<Uuid> {
    let (record, _tag) = session_key.split_once('.')?;
    Uuid::try_parse(record).ok()
}

/// The storage key of a session.
pub fn session_key_name(session_key: &str) -> String {
    format!("{KEY_PREFIX}session:{session_key}")
}

/// Only a signed-in session lives as long as the idle timeout. Anything else (a session whose user
/// was just forgotten) is kept minutes at most, so that visitors cannot fill Redis.
fn ttl_for(state: &State, ttl: &Duration) -> StdDuration {
    let ttl = StdDuration::from_secs(u64::try_from(ttl.whole_seconds()).unwrap_or(0).max(1));
    if state_is_signed_in(state) { ttl } else { ttl.min(PENDING_TTL) }
}

/// Runs a store call under the Redis deadline, a little longer than it, so that the Redis call's
/// own deadline fires first and drops a connection that does not answer.
async fn within<T>(work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(REDIS_DEADLINE + StdDuration::from_millis(250), work).await.unwrap_or(Err(StoreError::Timeout))
}

impl SessionStore for KvSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let name = session_key_name(session_key.as_ref());
        let (stored, token) = match record_of(session_key.as_ref()) {
            Some(record) => within(tokens::read_with(&self.kv, &name, record)).await,
            None => within(self.kv.get(&name)).await.map(|stored| (stored, None)),
        }
        .map_err(|err| LoadError::Other(err.into()))?;
        let Some(json) = stored else { return Ok(None) };
        match serde_json::from_str::<State>(&json) {
            Ok(mut state) => {
                if let Some(record) = record_of(session_key.as_ref()) {
                    // JSON, as actix-session keeps every value.
                    let value = serde_json::to_string(&Prefetched { record, sealed: token })
                        .map_err(|err| LoadError::Deserialization(err.into()))?;
                    state.insert(PREFETCHED_TOKEN.to_owned(), value);
                }
                Ok(Some(state))
            }
            // Unreadable state (written by something else, or corrupted) is a signed-out visitor.
            Err(err) => {
                tracing::warn!(error = %err, "unreadable session state; treating the visitor as signed out");
                Ok(None)
            }
        }
    }

    async fn save(&self, mut state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        state.remove(PREFETCHED_TOKEN);
        let json = serde_json::to_string(&state).map_err(|err| SaveError::Serialization(err.into()))?;
        // A fresh key (random, or of a new token record): nothing can be there, so no NX.
        let key = self.key_for(&state);
        within(self.kv.set_ex(&session_key_name(key.as_ref()), &json, ttl_for(&state, ttl)))
            .await
            .map_err(|err| SaveError::Other(err.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        mut state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        state.remove(PREFETCHED_TOKEN);
        let json = serde_json::to_string(&state).map_err(|err| UpdateError::Serialization(err.into()))?;
        let name = session_key_name(session_key.as_ref());
        let replaced = within(self.kv.set_ex_if_exists(&name, &json, ttl_for(&state, ttl)))
            .await
            .map_err(|err| UpdateError::Other(err.into()))?;
        if replaced {
            return Ok(session_key);
        }
        // The session expired between load and update: like actix's store, save it under a new key.
        self.save(state, ttl).await.map_err(|err| match err {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let secs = StdDuration::from_secs(u64::try_from(ttl.whole_seconds()).unwrap_or(0).max(1));
        Ok(within(self.kv.expire(&session_key_name(session_key.as_ref()), secs)).await?)
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        Ok(within(self.kv.del(&session_key_name(session_key.as_ref()))).await?)
    }
}
