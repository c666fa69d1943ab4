//! Atlassian's "slow down", remembered: after a 429 (or a 503 with `Retry-After`) for one account
//! on one site and product, nobody calls Atlassian for that again until the time is up, on any
//! instance. Other sites and products of the same account carry on.
//!
//! The memory lives in Redis, one small hash per account (field `<product>:<site>`, value the
//! Unix second the wait ends), expiring with the longest wait in it. This process keeps what it
//! learnt itself, and what it read of an account's hash for [`REREAD_SECS`]: a page costs no Redis
//! command for this (a page's budget is two: its session and its token record), and another
//! instance's 429 reaches this one within seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::unix_now;
use crate::metrics::Product;
use crate::store::{KEY_PREFIX, Kv, StoreError};

/// The longest wait honoured: a `Retry-After` beyond it is capped (an hour is Atlassian's quota
/// window).
pub const MAX_WAIT_SECS: u64 = 3600;
/// Assumed when a 429 says nothing usable about how long to wait.
pub const DEFAULT_WAIT_SECS: u64 = 30;
/// Waits this process remembers at most (each a few dozen bytes); beyond it Redis alone knows.
const MAX_LOCAL: usize = 10_000;
/// An account's hash, once read, is trusted this long before it is read again.
pub const REREAD_SECS: u64 = 5;

/// What a wait applies to: one account's calls to one product on one site (`""` for identity).
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub product: Product,
    pub site: &'a str,
}

impl Target<'_> {
    fn field(&self) -> String {
        format!("{}:{}", self.product.as_str(), self.site)
    }
}

/// The waits Atlassian asked for, per account.
#[derive(Debug)]
pub struct RateLimits {
    kv: Kv,
    /// (account, field) -> Unix second the wait ends.
    local: Mutex<HashMap<(String, String), i64>>,
    /// account -> when its hash was read, and what it said.
    read: Mutex<HashMap<String, (Instant, Waits)>>,
}

/// One account's waits as read from Redis, for the rest of a request.
#[derive(Clone, Debug, Default)]
pub struct Waits(HashMap<String, i64>);

impl RateLimits {
    pub fn new(kv: Kv) -> Self {
        RateLimits { kv, local: Mutex::default(), read: Mutex::default() }
    }

    fn key(account_id: &str) -> String {
        format!("{KEY_PREFIX}ratelimit:{account_id}")
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), i64>> {
        // Each change is one insert or retain: a poisoned lock still holds consistent data.
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Seconds left to wait for `target` that this process already knows of.
    pub fn known_wait(&self, account_id: &str, target: Target<'_>) -> Option<u64> {
        let until = *self.local().get(&(account_id.to_owned(), target.field()))?;
        remaining(until)
    }

    /// The account's waits, every instance's: from Redis, unless read in the last few seconds.
    pub async fn read(&self, account_id: &str) -> Result<Waits, StoreError> {
        {
            let read = self.read.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, waits)) = read.get(account_id)
                && at.elapsed() < Duration::from_secs(REREAD_SECS)
            {
                return Ok(waits.clone());
            }
        }
        let waits = self.read_from_redis(account_id).await?;
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if read.len() >= MAX_LOCAL {
            read.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(REREAD_SECS));
        }
        if read.len() < MAX_LOCAL {
            read.insert(account_id.to_owned(), (Instant::now(), waits.clone()));
        }
        Ok(waits)
    }

    async fn read_from_redis(&self, account_id: &str) -> Result<Waits, StoreError> {
        let now = unix_now();
        let waits = self
            .kv
            .hgetall(&Self::key(account_id))
            .await?
            .into_iter()
            .filter_map(|(field, until)| Some((field, until.parse::<i64>().ok()?)))
            .filter(|(_, until)| *until > now)
            .collect();
        Ok(Waits(waits))
    }

    /// Remembers that Atlassian asked to wait `secs` for `target`, here and in Redis. `waits` is
    /// what this request read (and now learnt), so the hash's TTL covers its longest wait.
    pub async fn note(&self, account_id: &str, target: Target<'_>, secs: u64, waits: &Mutex<Waits>) {
        let until = unix_now() + secs.clamp(1, MAX_WAIT_SECS) as i64;
        let field = target.field();
        {
            let mut local = self.local();
            if local.len() >= MAX_LOCAL {
                let now = unix_now();
                local.retain(|_, until| *until > now);
            }
            if local.len() < MAX_LOCAL {
                local.insert((account_id.to_owned(), field.clone()), until);
            }
        }
        let longest = {
            let mut waits = waits.lock().unwrap_or_else(|p| p.into_inner());
            waits.0.insert(field.clone(), until);
            waits.0.values().copied().max().unwrap_or(until)
        };
        let ttl = Duration::from_secs((longest - unix_now()).max(1) as u64);
        if let Err(err) = self.kv.hset_ex(&Self::key(account_id), &field, &until.to_string(), ttl).await {
            // This process still remembers; the other instances learn it from their own 429.
            tracing::warn!(error = %crate::cause::chain(&err), "could not share Atlassian's rate limit");
        }
    }
}

impl Waits {
    /// Seconds left to wait for `target`, if any.
    pub fn wait(&self, target: Target<'_>) -> Option<u64> {
        remaining(*self.0.get(&target.field())?)
    }
}

fn remaining(until: i64) -> Option<u64> {
    let left = until - unix_now();
    (left > 0).then_some(left as u64)
}
