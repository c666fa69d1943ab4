//! Conditional writes, each atomic in Redis (one command or one Lua script) and in memory (one lock):
//! the building blocks of "refresh exactly once" across requests and instances.

use std::time::Duration;

use redis::Script;

use super::{Change, Kv, StoreError};

/// Takes a lease: sets the key (with a TTL) only if it is absent, or says yes if it already holds
/// this very value. Holder values are random per attempt, so that only happens when the same call
/// runs twice because the answer to the first was lost with its connection (`connection.rs`).
const SET_IF_ABSENT_OR_OURS: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return 1
end
return 0
"#;

/// Replaces the value only if it still starts with `prefix` (the version it was read at).
const REPLACE_IF_PREFIX: &str = r#"
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

/// Extends a lease only while we still hold it.
const EXPIRE_IF_EQUAL: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Releases a lease only if it is still ours (it may have expired and been taken by another).
const DELETE_IF_EQUAL: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

impl Kv {
    /// Sets `key` only if it is absent (`SET NX PX`); true when this call set it, or when it
    /// already holds `value` (a repeat of the same call, whose holder value is unique).
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        match self {
            Kv::Redis(pool) => {
                let set: i64 = Self::redis_call(pool, |mut c| async move {
                    Script::new(SET_IF_ABSENT_OR_OURS).key(key).arg(value).arg(millis(ttl)).invoke_async(&mut c).await
                })
                .await?;
                Ok(set == 1)
            }
            Kv::Memory(map) => Ok(map.set_nx(key, value, ttl) || map.get(key).as_deref() == Some(value)),
        }
    }

    /// Sets `key` to `value` only if its current value starts with `prefix`; true when replaced.
    pub async fn replace_if_prefix(
        &self,
        key: &str,
        prefix: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        match self {
            Kv::Redis(pool) => {
                let replaced: i64 = Self::redis_call(pool, |mut c| async move {
                    Script::new(REPLACE_IF_PREFIX)
                        .key(key)
                        .arg(prefix)
                        .arg(value)
                        .arg(millis(ttl))
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
                Ok(replaced == 1)
            }
            Kv::Memory(map) => Ok(map.change_text(key, |current| {
                if current.starts_with(prefix) { Change::Set(value.to_owned(), ttl) } else { Change::Keep }
            })),
        }
    }

    /// Moves the expiry of `key` only while it holds `value`; true when it did.
    pub async fn expire_if_equal(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        match self {
            Kv::Redis(pool) => {
                let extended: i64 = Self::redis_call(pool, |mut c| async move {
                    Script::new(EXPIRE_IF_EQUAL).key(key).arg(value).arg(millis(ttl)).invoke_async(&mut c).await
                })
                .await?;
                Ok(extended == 1)
            }
            Kv::Memory(map) => {
                Ok(map.change_text(key, |current| if current == value { Change::Expire(ttl) } else { Change::Keep }))
            }
        }
    }

    /// Deletes `key` only while it holds `value`; true when it did.
    pub async fn delete_if_equal(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        match self {
            Kv::Redis(pool) => {
                let deleted: i64 = Self::redis_call(pool, |mut c| async move {
                    Script::new(DELETE_IF_EQUAL).key(key).arg(value).invoke_async(&mut c).await
                })
                .await?;
                Ok(deleted == 1)
            }
            Kv::Memory(map) => {
                Ok(map.change_text(key, |current| if current == value { Change::Remove } else { Change::Keep }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a Redis Cluster a script may only touch keys of one slot. Each of ours touches exactly
    /// one key, so it runs on a cluster without hash tags; a second key would need one.
    #[test]
    fn every_script_touches_exactly_one_key() {
        for script in [SET_IF_ABSENT_OR_OURS, REPLACE_IF_PREFIX, EXPIRE_IF_EQUAL, DELETE_IF_EQUAL] {
            assert!(script.contains("KEYS[1]"), "{script}");
            assert!(!script.contains("KEYS[2]") && !script.contains("#KEYS"), "{script}");
        }
    }
}
