//! The in-memory backend for `threelo demo`: a map with per-key expiry, swept as it grows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries are swept for expiry every this many writes, so the map cannot grow without bound.
const SWEEP_EVERY: u64 = 1024;

/// What [`MemoryKv::change_text`] does to a value.
pub enum Change {
    Keep,
    Set(String, Duration),
    Expire(Duration),
    Remove,
}

/// A string or a hash, like the two Redis types threelo uses.
enum Value {
    Text(String),
    Hash(BTreeMap<String, String>),
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (Value, Instant)>,
    writes: u64,
}

impl Inner {
    fn live(&self, key: &str) -> Option<&Value> {
        self.entries.get(key).filter(|(_, expires)| *expires > Instant::now()).map(|(v, _)| v)
    }

    fn count_write(&mut self) {
        self.writes += 1;
        if self.writes.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            self.entries.retain(|_, (_, expires)| *expires > now);
        }
    }
}

/// A map of string keys to string values with expiry, safe to share between workers.
#[derive(Default)]
pub struct MemoryKv {
    inner: Mutex<Inner>,
}

impl MemoryKv {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written (every change is one
        // insert or remove), so a poisoned lock is still safe to use.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live value at `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.lock().live(key) {
            Some(Value::Text(text)) => Some(text.clone()),
            _ => None,
        }
    }

    /// Whether `key` holds a live value.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, expiring after `ttl`.
    pub fn set(&self, key: &str, value: String, ttl: Duration) {
        let mut inner = self.lock();
        inner.count_write();
        inner.entries.insert(key.to_owned(), (Value::Text(value), Instant::now() + ttl));
    }

    /// Sets `field` of the hash at `key` and moves the hash's expiry to `ttl` from now.
    pub fn hset(&self, key: &str, field: &str, value: String, ttl: Duration) {
        let mut inner = self.lock();
        inner.count_write();
        let mut hash = match inner.entries.remove(key) {
            Some((Value::Hash(hash), expires)) if expires > Instant::now() => hash,
            _ => BTreeMap::new(),
        };
        hash.insert(field.to_owned(), value);
        inner.entries.insert(key.to_owned(), (Value::Hash(hash), Instant::now() + ttl));
    }

    /// Removes `field` from the hash at `key`.
    pub fn hdel(&self, key: &str, field: &str) {
        let mut inner = self.lock();
        let now_empty = match inner.entries.get_mut(key) {
            Some((Value::Hash(hash), _)) => {
                hash.remove(field);
                hash.is_empty()
            }
            _ => false,
        };
        if now_empty {
            inner.entries.remove(key);
        }
    }

    /// Every field of the hash at `key`.
    pub fn hgetall(&self, key: &str) -> Vec<(String, String)> {
        match self.lock().live(key) {
            Some(Value::Hash(hash)) => hash.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    /// Moves the expiry of a live `key`; false when it is absent.
    pub fn touch(&self, key: &str, ttl: Duration) -> bool {
        let mut inner = self.lock();
        let now = Instant::now();
        match inner.entries.get_mut(key) {
            Some((_, expires)) if *expires > now => {
                *expires = now + ttl;
                true
            }
            _ => false,
        }
    }

    /// Sets `key` only when it holds no live value; true when it was set (Redis `SET NX`).
    pub fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let mut inner = self.lock();
        if inner.live(key).is_some() {
            return false;
        }
        inner.count_write();
        inner.entries.insert(key.to_owned(), (Value::Text(value.to_owned()), Instant::now() + ttl));
        true
    }

    /// Applies `change` to the live text at `key` atomically: `Keep`, `Set(value, ttl)`, `Expire(ttl)`
    /// or `Remove`. Returns whether something changed.
    pub fn change_text(&self, key: &str, change: impl FnOnce(&str) -> Change) -> bool {
        let mut inner = self.lock();
        let Some(Value::Text(current)) = inner.live(key) else {
            return false;
        };
        match change(current) {
            Change::Keep => false,
            Change::Set(value, ttl) => {
                inner.entries.insert(key.to_owned(), (Value::Text(value), Instant::now() + ttl));
                true
            }
            Change::Expire(ttl) => {
                if let Some((_, expires)) = inner.entries.get_mut(key) {
                    *expires = Instant::now() + ttl;
                }
                true
            }
            Change::Remove => {
                inner.entries.remove(key);
                true
            }
        }
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        self.lock().entries.remove(key);
    }

    /// Every live key and value (for tests that look for plaintext secrets).
    pub fn dump(&self) -> Vec<(String, String)> {
        let now = Instant::now();
        self.lock()
            .entries
            .iter()
            .filter(|(_, (_, expires))| *expires > now)
            .map(|(k, (v, _))| {
                let text = match v {
                    Value::Text(text) => text.clone(),
                    Value::Hash(hash) => hash.iter().map(|(f, v)| format!("{f} {v}")).collect::<Vec<_>>().join(" "),
                };
                (k.clone(), text)
            })
            .collect()
    }
}
