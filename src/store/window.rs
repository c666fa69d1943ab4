//! A fixed-window budget shared by every instance: at most `calls` a window of `secs`, counted
//! with INCR + EXPIRE on one key per subject and window, so it costs one key per subject at a
//! time. Used for access keys' calls and for writes made from forms.

use std::time::Duration;

use super::{Change, KEY_PREFIX, Kv, StoreError};

/// A budget: `calls` per window of `secs` seconds, under keys `threelo:{name}:{subject}:{window}`.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub name: &'static str,
    pub calls: u64,
    pub secs: i64,
}

impl Budget {
    /// Spends one call for `subject` at `now` (unix seconds): `None` when allowed, else the
    /// seconds until the window turns.
    pub async fn spend(&self, kv: &Kv, subject: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let window = now.div_euclid(self.secs);
        let key = format!("{KEY_PREFIX}{}:{subject}:{window}", self.name);
        let ttl = self.secs.unsigned_abs() + 1;
        let calls: u64 = match kv {
            Kv::Redis(pool) => {
                // May run twice on a dead connection (see `Kv::redis_call`): a call counted twice
                // at worst, never one let through uncounted.
                Kv::redis_call(pool, |mut c| {
                    let key = key.clone();
                    async move {
                        let (calls,): (u64,) = redis::pipe()
                            .atomic()
                            .incr(&key, 1)
                            .expire(&key, ttl as i64)
                            .ignore()
                            .query_async(&mut c)
                            .await?;
                        Ok(calls)
                    }
                })
                .await?
            }
            Kv::Memory(map) => {
                let life = Duration::from_secs(ttl);
                if map.set_nx(&key, "1", life) {
                    1
                } else {
                    let mut calls = 0;
                    map.change_text(&key, |text| {
                        calls = text.parse::<u64>().unwrap_or(0) + 1;
                        Change::Set(calls.to_string(), life)
                    });
                    calls
                }
            }
        };
        if calls > self.calls {
            let wait = (window + 1) * self.secs - now;
            Ok(Some(wait.max(1).unsigned_abs()))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_allows_its_calls_per_window_and_then_says_how_long_to_wait() {
        let kv = Kv::memory();
        let budget = Budget { name: "test-budget", calls: 3, secs: 60 };
        let start = 6_000; // a window boundary
        for _ in 0..3 {
            assert_eq!(budget.spend(&kv, "a", start + 10).await.unwrap(), None);
        }
        assert_eq!(budget.spend(&kv, "a", start + 10).await.unwrap(), Some(50));
        assert_eq!(budget.spend(&kv, "b", start + 10).await.unwrap(), None, "per subject");
        assert_eq!(budget.spend(&kv, "a", start + 60).await.unwrap(), None, "the next window");
    }
}
