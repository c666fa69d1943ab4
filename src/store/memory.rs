//! The in-memory backend for `threelo demo`: a map with per-key expiry, swept as it grows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries are swept for expiry every this many writes, so the map cannot grow without bound.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (String, Instant)>,
    writes: u64,
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
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live value at `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        let inner = self.lock();
        inner
            .entries
            .get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(value, _)| value.clone())
    }

    /// Whether `key` holds a live value.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, expiring after `ttl`.
    pub fn set(&self, key: &str, value: String, ttl: Duration) {
        let mut inner = self.lock();
        inner.writes += 1;
        if inner.writes.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            inner.entries.retain(|_, (_, expires)| *expires > now);
        }
        inner
            .entries
            .insert(key.to_owned(), (value, Instant::now() + ttl));
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
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}
