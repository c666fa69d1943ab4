//! Repeated failures of one kind are logged once per interval, with how many happened: an outage
//! that fails every request must not write a line per request (35,000 lines in 3 s were seen).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often one kind of failure is logged at most.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Per kind: when it was last logged, and how many were held back since.
#[derive(Debug, Default)]
pub struct LogThrottle {
    kinds: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl LogThrottle {
    /// Whether a failure of `kind` should be logged now; `Some(n)` when it should, `n` being how
    /// many of that kind were held back since the last line. Kinds are a fixed set of names.
    pub fn admit(&self, kind: &'static str) -> Option<u64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match kinds.get_mut(kind) {
            Some((last, held)) if now.duration_since(*last) < INTERVAL => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                let suppressed = *held;
                (*last, *held) = (now, 0);
                Some(suppressed)
            }
            None => {
                kinds.insert(kind, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_admitted_once_per_interval_and_counts_what_it_held_back() {
        let throttle = LogThrottle::default();
        assert_eq!(throttle.admit("redis"), Some(0));
        assert_eq!(throttle.admit("redis"), None);
        assert_eq!(throttle.admit("redis"), None);
        assert_eq!(throttle.admit("upstream"), Some(0), "kinds are counted apart");
        // Pretend the interval passed.
        throttle.kinds.lock().unwrap().get_mut("redis").unwrap().0 -= INTERVAL;
        assert_eq!(throttle.admit("redis"), Some(2));
    }
}
