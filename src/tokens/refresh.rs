//! Refreshing tokens exactly once per record, however many requests and instances want it at once.
//!
//! 1. In one process, concurrent callers for the same record await one shared future.
//! 2. Across instances, the refresher holds a Redis lease (`SET NX PX`), renewed while the token
//!    request is in flight; the others wait for the record's version to move.
//! 3. After taking the lease the record is read again: if another holder already refreshed, its
//!    tokens are used and Atlassian is not called.
//! 4. New tokens are written with a compare-and-set on the version BEFORE anyone uses them: with
//!    rotating refresh tokens, an unsaved new refresh token is a lost session.
//! 5. A rejected refresh (`invalid_grant`, `unauthorized_client`) deletes the record: sign in again.
//!    A refresh whose outcome is unknown (timeout) is marked on the record, and its refresh token is
//!    not sent again once Atlassian's reuse leeway could have passed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Either, Shared};
use uuid::Uuid;

use super::{TokenError, TokenRecord, TokenStore};
use crate::atlassian::{Atlassian, RefreshFailure};
use crate::clock::unix_now;
use crate::metrics::RefreshOutcome;
use crate::random::random_token;
use crate::store::KEY_PREFIX;

/// Refresh when the access token expires within this many seconds.
pub const REFRESH_MARGIN_SECS: i64 = 60;
/// Atlassian accepts a rotated-out refresh token for 10 minutes; stay well inside that.
const SAFE_REUSE_SECS: i64 = 9 * 60;
/// After a refresh with an unknown outcome, wait this long before trying that refresh token again.
const PAUSE_AFTER_UNKNOWN_SECS: i64 = 15;
/// How long a lease lasts unless renewed; it is renewed every third of this while the call runs.
/// Short, because it is also how long an instance that crashed while holding it stalls that
/// user's refresh on every other instance. A renewal that fails twice in a row lets the lease
/// lapse mid-call; another instance may then send the same refresh token, which is safe: it is
/// seconds old, far inside Atlassian's reuse leeway, and only one answer wins the version CAS.
const LEASE_TTL: Duration = Duration::from_secs(3);
/// How often a waiting instance looks whether the lease holder has written new tokens.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// The cause of a refresh error, shared by every caller that waited for the same refresh.
pub type SharedCause = Arc<dyn std::error::Error + Send + Sync>;

fn because(text: &'static str) -> SharedCause {
    Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(text))
}

/// Why fresh tokens could not be had. Cloneable: one outcome is shared by every waiting caller.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RefreshError {
    /// The grant is over (revoked, expired, rotated out) or the record is gone: sign in again.
    #[error("the Atlassian grant has ended")]
    GrantEnded(#[source] SharedCause),
    #[error("the token endpoint rejected our client credentials (check THREELO_CLIENT_ID and THREELO_CLIENT_SECRET)")]
    Misconfigured,
    /// Atlassian did not answer in time (the outcome is unknown) or another instance's refresh
    /// did not land in time. Trying again later is safe.
    #[error("the refresh did not complete in time")]
    Timeout(#[source] SharedCause),
    #[error("the refresh failed")]
    Failed(#[source] SharedCause),
    #[error("storage unavailable")]
    Unavailable(#[source] SharedCause),
}

impl From<TokenError> for RefreshError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Unavailable(err) => RefreshError::Unavailable(Arc::new(err)),
            unusable @ TokenError::Unusable(_) => RefreshError::GrantEnded(Arc::new(unusable)),
            TokenError::Seal(err) => RefreshError::Failed(Arc::new(err)),
        }
    }
}

type Outcome = Result<TokenRecord, RefreshError>;

/// Hands out fresh tokens, refreshing at most once per record at a time.
#[derive(Clone)]
pub struct Refresher {
    store: TokenStore,
    atlassian: Atlassian,
    /// How long to wait for another instance's refresh before giving up.
    patience: Duration,
    in_flight: Arc<Mutex<HashMap<Uuid, Shared<BoxFuture<'static, Outcome>>>>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher").finish_non_exhaustive()
    }
}

/// Whether the access token is expired or about to be.
pub fn needs_refresh(record: &TokenRecord) -> bool {
    record.tokens.expires_at - unix_now() <= REFRESH_MARGIN_SECS
}

impl Refresher {
    /// `patience` should cover one token request (the upstream timeout) and some.
    pub fn new(store: TokenStore, atlassian: Atlassian, patience: Duration) -> Self {
        Refresher { store, atlassian, patience, in_flight: Arc::default() }
    }

    /// `record` itself while its access token is good, else a freshly refreshed record.
    pub async fn fresh(&self, record: TokenRecord) -> Outcome {
        if needs_refresh(&record) { self.refresh(record).await } else { Ok(record) }
    }

    /// A record with tokens newer than `stale`'s: refreshed now, or by whoever got there first.
    pub async fn refresh(&self, stale: TokenRecord) -> Outcome {
        let id = stale.id;
        let shared = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&id) {
                Some(running) => running.clone(),
                None => {
                    let this = self.clone();
                    let future = async move {
                        let outcome = this.refresh_across_instances(stale).await;
                        this.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                        outcome
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(id, future.clone());
                    future
                }
            }
        };
        shared.await
    }

    fn lease_key(id: Uuid) -> String {
        format!("{KEY_PREFIX}lease:{id}")
    }

    async fn refresh_across_instances(&self, stale: TokenRecord) -> Outcome {
        let outcome = self.refresh_with_lease(stale).await;
        let label = match &outcome {
            Ok(_) => RefreshOutcome::Refreshed,
            Err(RefreshError::GrantEnded(_)) => RefreshOutcome::GrantEnded,
            Err(RefreshError::Timeout(_)) => RefreshOutcome::Unknown,
            Err(_) => RefreshOutcome::Failed,
        };
        self.atlassian.metrics().token_refresh(label);
        outcome
    }

    async fn refresh_with_lease(&self, stale: TokenRecord) -> Outcome {
        let kv = &self.store.kv;
        let lease = Self::lease_key(stale.id);
        let holder = random_token(16);
        let give_up = Instant::now() + self.patience;
        loop {
            if kv.set_nx(&lease, &holder, LEASE_TTL).await.map_err(|e| RefreshError::Unavailable(Arc::new(e)))? {
                let outcome = self.refresh_holding_lease(&stale, &lease, &holder).await;
                // Best effort: if this fails the lease simply expires.
                let _ = kv.delete_if_equal(&lease, &holder).await;
                return outcome;
            }
            // Another instance holds the lease: wait for its tokens to land.
            self.atlassian.metrics().refresh_lease_wait();
            tokio::time::sleep(POLL_EVERY).await;
            let current = self.store.load(stale.id, &stale.account_id).await?;
            if current.version != stale.version && !needs_refresh(&current) {
                return Ok(current);
            }
            if Instant::now() >= give_up {
                return Err(RefreshError::Timeout(because("another instance's refresh did not land in time")));
            }
        }
    }

    async fn refresh_holding_lease(&self, stale: &TokenRecord, lease: &str, holder: &str) -> Outcome {
        let current = self.store.load(stale.id, &stale.account_id).await?;
        if current.version != stale.version && current.uncertain_since.is_none() && !needs_refresh(&current) {
            return Ok(current);
        }
        if let Some(since) = current.uncertain_since {
            let age = unix_now() - since;
            if age > SAFE_REUSE_SECS {
                // Sending this refresh token again could revoke the whole grant at Atlassian.
                self.store.delete(current.id).await?;
                return Err(RefreshError::GrantEnded(because(
                    "an earlier refresh's outcome is unknown and too old to retry",
                )));
            }
            if age < PAUSE_AFTER_UNKNOWN_SECS {
                // Not at once and not in a loop: give Atlassian (or the network) a moment.
                return Err(RefreshError::Timeout(because("an earlier refresh's outcome is still unknown")));
            }
        }
        let Some(refresh_token) = current.tokens.refresh_token.clone() else {
            self.store.delete(current.id).await?;
            return Err(RefreshError::GrantEnded(because("no refresh token was granted (offline_access)")));
        };

        let call = self.atlassian.oauth().refresh(self.atlassian.http(), &refresh_token, &current.tokens.scopes);
        let keep_lease = async {
            loop {
                tokio::time::sleep(LEASE_TTL / 3).await;
                let _ = self.store.kv.expire_if_equal(lease, holder, LEASE_TTL).await;
            }
        };
        tokio::pin!(call, keep_lease);
        let result = match futures_util::future::select(call, keep_lease).await {
            Either::Left((result, _)) => result,
            Either::Right((never, _)) => match never {},
        };

        match result {
            Ok(mut tokens) => {
                // Atlassian may omit the refresh token in a refresh answer: keep the old one then.
                if tokens.refresh_token.is_none() {
                    tokens.refresh_token = Some(refresh_token.clone());
                }
                let fresh =
                    TokenRecord { tokens, version: current.version + 1, uncertain_since: None, ..current.clone() };
                if self.store.replace(&fresh, current.version).await? {
                    tracing::info!(record = %fresh.id, "tokens refreshed");
                    Ok(fresh)
                } else {
                    // Someone wrote meanwhile despite the lease (it expired): theirs is the record.
                    Ok(self.store.load(current.id, &current.account_id).await?)
                }
            }
            Err(revoked @ RefreshFailure::Revoked(_)) => {
                tracing::info!(record = %current.id, why = %revoked, "refresh rejected; the grant has ended");
                self.store.delete(current.id).await?;
                Err(RefreshError::GrantEnded(Arc::new(revoked)))
            }
            Err(RefreshFailure::BadClientCredentials) => {
                tracing::error!("refresh rejected: check THREELO_CLIENT_ID and THREELO_CLIENT_SECRET");
                Err(RefreshError::Misconfigured)
            }
            Err(unknown @ RefreshFailure::Unknown(_)) => {
                if current.uncertain_since.is_none() {
                    let marked = TokenRecord {
                        uncertain_since: Some(unix_now()),
                        version: current.version + 1,
                        ..current.clone()
                    };
                    self.store.replace(&marked, current.version).await?;
                }
                tracing::warn!(record = %current.id, why = %unknown, "refresh outcome unknown");
                Err(RefreshError::Timeout(Arc::new(unknown)))
            }
            Err(failed @ RefreshFailure::Failed(_)) => {
                tracing::warn!(record = %current.id, why = %failed, "refresh failed");
                Err(RefreshError::Failed(Arc::new(failed)))
            }
        }
    }
}
