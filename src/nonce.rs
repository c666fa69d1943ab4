//! One-time form nonces: every form that changes something in Atlassian carries a fresh random
//! `nonce`, and the first request that presents it claims it in the store (`SET NX` with a TTL,
//! one key per account and nonce). Whoever finds it claimed already (a double click, a
//! resubmitted form, the same form sent to two instances) makes no call and gets the answer a
//! success would have given, so the same nonce makes one change, never two.
//!
//! The TTL is the session lifetime: a form is only accepted together with its session's CSRF
//! token, so once the session is over the form is refused anyway, and no nonce needs to be kept
//! longer than that.
//!
//! A claim is released again only when Atlassian refused the write outright (nothing changed:
//! a 429, a 403, a 400, a connection that never opened), so that the very same form can be sent
//! again; when the outcome is unknown (a timeout, a 5xx) it stays claimed.

use std::time::Duration;

use crate::error::AppError;
use crate::random::random_token;
use crate::store::{KEY_PREFIX, Kv};

/// A nonce as forms carry it: URL-safe base64, 16 to 64 characters.
pub fn is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh nonce for a form (128 bits).
pub fn fresh() -> String {
    random_token(16)
}

/// Claims and releases nonces in the store.
pub struct Nonces<'a> {
    kv: &'a Kv,
    ttl: Duration,
}

impl<'a> Nonces<'a> {
    /// Nonces kept for `ttl` (the session lifetime).
    pub fn new(kv: &'a Kv, ttl: Duration) -> Self {
        Nonces { kv, ttl }
    }

    fn key(account_id: &str, nonce: &str) -> String {
        format!("{KEY_PREFIX}nonce:{account_id}:{nonce}")
    }

    /// Claims `nonce` for `account_id`: true for the first request that presents it, false for
    /// every later one. A malformed nonce is a bad request.
    pub async fn claim(&self, account_id: &str, nonce: &str) -> Result<bool, AppError> {
        if !is_well_formed(nonce) {
            return Err(AppError::BadRequest("the form's nonce is malformed"));
        }
        // The holder value is unique per attempt: `set_nx` also says yes when the same call ran
        // twice on a dead connection, never to another request.
        Ok(self.kv.set_nx(&Self::key(account_id, nonce), &random_token(16), self.ttl).await?)
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
        assert!(!is_well_formed("a:b:c:d:e:f:g:h:i:j"), "no key separators");
    }

    #[tokio::test]
    async fn a_nonce_is_claimed_once_until_it_is_released() {
        let kv = Kv::memory();
        let nonces = Nonces::new(&kv, Duration::from_secs(60));
        let nonce = fresh();
        assert!(nonces.claim("acc", &nonce).await.unwrap());
        assert!(!nonces.claim("acc", &nonce).await.unwrap(), "the second claim fails");
        assert!(nonces.claim("other", &nonce).await.unwrap(), "per account");
        nonces.release("acc", &nonce).await.unwrap();
        assert!(nonces.claim("acc", &nonce).await.unwrap(), "released, it can be claimed again");
    }
}
