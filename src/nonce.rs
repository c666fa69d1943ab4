//! One-time form nonces: every form that changes something in Atlassian carries a fresh
//! `nonce` (when it was made, then 128 random bits), and the first request that presents it
//! claims it in the store (`SET NX` with a TTL, one key per account and nonce). Whoever finds it
//! claimed already (a double click, a resubmitted form, the same form sent to two instances)
//! makes no call and gets the answer a success would have given, so the same nonce makes one
//! change, never two.
//!
//! A form is good for [`FORM_LIFE`]; an older one is refused (the page is shown again with a
//! fresh form and the text as typed), so a claim need not be kept longer than that. With the
//! per-account budget of writes ([`WRITES`], checked before the claim), one account can hold at
//! most `WRITES.calls × FORM_LIFE / WRITES.secs` nonce keys, however it scripts its POSTs.
//!
//! A claim is released again only when Atlassian refused the write outright (nothing changed:
//! a 429, a 403, a 400, a connection that never opened), so that the very same form can be sent
//! again; when the outcome is unknown (a timeout, a 5xx) it stays claimed.

use std::time::Duration;

use crate::clock::unix_now;
use crate::error::AppError;
use crate::random::random_token;
use crate::store::{Budget, KEY_PREFIX, Kv};

/// How long a form stays good after its page was made.
pub const FORM_LIFE: Duration = Duration::from_secs(2 * 3600);
/// Writes one account may send from forms a minute, across every instance.
pub const WRITES: Budget = Budget { name: "writes", calls: 30, secs: 60 };
/// A form "made" further ahead than this (a clock apart between instances) is malformed.
const CLOCK_SKEW_SECS: i64 = 300;

/// A claim is kept this long: past the form's life, plus the clock skew a form may carry, so a
/// form is refused as aged before its claim can expire.
const CLAIM_TTL: Duration = Duration::from_secs(FORM_LIFE.as_secs() + CLOCK_SKEW_SECS as u64 + 60);

/// A nonce as forms carry it: URL-safe, 16 to 64 characters; `{unix seconds}_{random}` when made
/// by this version (older forms carry a random token alone).
pub fn is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// When the form carrying `nonce` was made.
fn issued_at(nonce: &str) -> Option<i64> {
    let (secs, _) = nonce.split_once('_')?;
    if secs.is_empty() || secs.len() > 12 || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    secs.parse().ok()
}

/// A fresh nonce for a form made now.
pub fn fresh() -> String {
    format!("{}_{}", unix_now(), random_token(16))
}

/// What claiming a nonce found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The first request with this nonce: make the write.
    First,
    /// Sent before: answer as a success would have, with no second write.
    Again,
    /// The form is older than [`FORM_LIFE`]: show it again, fresh.
    Aged,
}

/// Claims and releases nonces in the store.
pub struct Nonces<'a> {
    kv: &'a Kv,
}

impl<'a> Nonces<'a> {
    pub fn new(kv: &'a Kv) -> Self {
        Nonces { kv }
    }

    fn key(account_id: &str, nonce: &str) -> String {
        format!("{KEY_PREFIX}nonce:{account_id}:{nonce}")
    }

    /// Claims `nonce` for `account_id` at `now` (unix seconds). A malformed nonce is a bad
    /// request; one with no time (a form from before an upgrade) or made further ahead than
    /// clocks drift is shown again like an aged form, so the typed text is kept.
    pub async fn claim(&self, account_id: &str, nonce: &str, now: i64) -> Result<Claim, AppError> {
        if !is_well_formed(nonce) {
            return Err(AppError::BadRequest("the form's nonce is malformed"));
        }
        let fresh =
            issued_at(nonce).is_some_and(|at| at <= now + CLOCK_SKEW_SECS && now - at <= FORM_LIFE.as_secs() as i64);
        if !fresh {
            return Ok(Claim::Aged);
        }
        // The holder value is unique per attempt: `set_nx` also says yes when the same call ran
        // twice on a dead connection, never to another request.
        let first = self.kv.set_nx(&Self::key(account_id, nonce), &random_token(16), CLAIM_TTL).await?;
        Ok(if first { Claim::First } else { Claim::Again })
    }

    /// Releases a claim after Atlassian refused the write outright (nothing changed).
    pub async fn release(&self, account_id: &str, nonce: &str) -> Result<(), AppError> {
        Ok(self.kv.del(&Self::key(account_id, nonce)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_nonces_are_well_formed_and_odd_ones_are_not() {
        assert!(is_well_formed(&fresh()));
        assert_ne!(fresh(), fresh());
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed("with spaces and more than sixteen"));
        assert!(!is_well_formed(&"a".repeat(65)));
        assert!(is_well_formed(&"a".repeat(40)), "a form from before the upgrade");
        assert_eq!(issued_at(&"a".repeat(40)), None, "has no time");
        assert_eq!(issued_at("_aaaaaaaaaaaaaaaaaaaaaaaa"), None, "an empty time");
        assert_eq!(issued_at("99999999999999_aaaaaaaaaaaaaaaaaaaaaa"), None, "a time past any year we meet");
        assert!(!is_well_formed("a:b:c:d:e:f:g:h:i:j"), "no key separators");
    }

    #[tokio::test]
    async fn a_nonce_is_claimed_once_until_it_is_released() {
        let kv = Kv::memory();
        let nonces = Nonces::new(&kv);
        let nonce = fresh();
        let now = unix_now();
        assert_eq!(nonces.claim("acc", &nonce, now).await.unwrap(), Claim::First);
        assert_eq!(nonces.claim("acc", &nonce, now).await.unwrap(), Claim::Again, "the second claim fails");
        assert_eq!(nonces.claim("other", &nonce, now).await.unwrap(), Claim::First, "per account");
        nonces.release("acc", &nonce).await.unwrap();
        assert_eq!(nonces.claim("acc", &nonce, now).await.unwrap(), Claim::First, "released, it can be claimed again");
    }

    #[tokio::test]
    async fn an_old_form_is_aged_and_one_from_the_future_is_refused() {
        let kv = Kv::memory();
        let nonces = Nonces::new(&kv);
        let made = 1_800_000_000;
        let nonce = format!("{made}_{}", random_token(16));
        let life = FORM_LIFE.as_secs() as i64;
        assert_eq!(nonces.claim("acc", &nonce, made + life + 1).await.unwrap(), Claim::Aged);
        assert_eq!(nonces.claim("acc", &nonce, made - 3600).await.unwrap(), Claim::Aged, "from the future");
        assert_eq!(nonces.claim("acc", &random_token(16), made).await.unwrap(), Claim::Aged, "from before the upgrade");
        assert_eq!(nonces.claim("acc", &nonce, made + life).await.unwrap(), Claim::First);
        assert!(CLAIM_TTL.as_secs() as i64 > life + CLOCK_SKEW_SECS, "the claim outlives the form, skew and all");
    }
}
