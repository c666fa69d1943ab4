//! Token records: the only code that reads or writes a user's Atlassian tokens.
//!
//! A record lives under its own key, sealed with the key ring; its id and the account id are bound
//! in as associated data, so a record copied under another id or account does not open. The stored
//! value is `<version>:<sealed>`: the version is visible so that a later compare-and-set can check
//! it without opening the record, and is sealed inside as well.

mod cipher;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use cipher::{KeyRing, OpenError, SealError};
pub use refresh::{RefreshError, Refresher};

use crate::atlassian::TokenSet;
use crate::store::{KEY_PREFIX, Kv, StoreError};

/// A record as stored: the tokens plus what the app needs to manage them.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub id: Uuid,
    pub account_id: String,
    pub tokens: TokenSet,
    /// Unix seconds of the consent that started this grant (the 365-day clock).
    pub consented_at: i64,
    /// Bumped on every write; compare-and-set checks it.
    pub version: u64,
    /// When a refresh with the current refresh token had an unknown outcome (it may have rotated
    /// the token at Atlassian). Past Atlassian's reuse leeway the token must not be sent again.
    pub uncertain_since: Option<i64>,
}

/// The sealed payload. Plain strings live only for the moment of sealing or opening.
#[derive(Serialize, Deserialize)]
struct Payload {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: i64,
    scopes: Vec<String>,
    consented_at: i64,
    version: u64,
    #[serde(default)]
    uncertain_since: Option<i64>,
}

/// Why a record could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Storage is down: try again later.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// The record is gone or cannot be opened: the user must sign in again.
    #[error("token record unusable")]
    Unusable(#[source] Unusable),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// Why a record cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("no such record (expired or signed out)")]
    Missing,
    #[error("the stored value is malformed")]
    Malformed,
    #[error(transparent)]
    Unopened(#[from] OpenError),
}

/// Reads and writes sealed token records.
#[derive(Clone, Debug)]
pub struct TokenStore {
    pub(crate) kv: Kv,
    ring: Arc<KeyRing>,
    ttl: Duration,
}

impl TokenStore {
    /// Records in `kv`, sealed with `ring`. A record lives as long as its session: `ttl` (the idle
    /// timeout) from its last write or [`TokenStore::touch`].
    pub fn new(kv: Kv, ring: Arc<KeyRing>, ttl: Duration) -> Self {
        TokenStore { kv, ring, ttl }
    }

    /// The storage key of a record.
    pub fn key(id: Uuid) -> String {
        format!("{KEY_PREFIX}token:{id}")
    }

    fn aad(id: Uuid, account_id: &str) -> Vec<u8> {
        format!("threelo token record v1\0{id}\0{account_id}").into_bytes()
    }

    /// Stores tokens from a fresh consent as a new record and returns its id.
    pub async fn create(&self, account_id: &str, tokens: TokenSet, consented_at: i64) -> Result<Uuid, TokenError> {
        let record = TokenRecord {
            id: Uuid::new_v4(),
            account_id: account_id.to_owned(),
            tokens,
            consented_at,
            version: 1,
            uncertain_since: None,
        };
        self.write(&record).await?;
        Ok(record.id)
    }

    async fn write(&self, record: &TokenRecord) -> Result<(), TokenError> {
        let value = self.seal(record)?;
        self.kv.set_ex(&Self::key(record.id), &value, self.ttl).await?;
        Ok(())
    }

    /// Stores `record` only if the stored record is still at version `expected` (compare-and-set);
    /// false when someone else wrote in between. `record.version` must be newer than `expected`.
    pub async fn replace(&self, record: &TokenRecord, expected: u64) -> Result<bool, TokenError> {
        let value = self.seal(record)?;
        let prefix = format!("{expected}:");
        Ok(self.kv.replace_if_prefix(&Self::key(record.id), &prefix, &value, self.ttl).await?)
    }

    /// The stored form of a record: `<version>:<sealed payload>`, sealed under the active key.
    pub fn seal(&self, record: &TokenRecord) -> Result<String, TokenError> {
        let payload = Payload {
            access_token: record.tokens.access_token.expose_secret().to_owned(),
            refresh_token: record.tokens.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
            expires_at: record.tokens.expires_at,
            scopes: record.tokens.scopes.clone(),
            consented_at: record.consented_at,
            version: record.version,
            uncertain_since: record.uncertain_since,
        };
        let json = serde_json::to_vec(&payload).map_err(|_| SealError)?;
        let sealed = self.ring.seal(&json, &Self::aad(record.id, &record.account_id))?;
        Ok(format!("{}:{sealed}", record.version))
    }

    /// Opens the record `id` for `account_id`.
    pub async fn load(&self, id: Uuid, account_id: &str) -> Result<TokenRecord, TokenError> {
        let value = self.kv.get(&Self::key(id)).await?.ok_or(TokenError::Unusable(Unusable::Missing))?;
        self.open(id, account_id, &value)
    }

    /// Opens `stored` (as [`TokenStore::seal`] made it) as the record `id` of `account_id`.
    pub fn open(&self, id: Uuid, account_id: &str, stored: &str) -> Result<TokenRecord, TokenError> {
        let (_, sealed) = stored.split_once(':').ok_or(TokenError::Unusable(Unusable::Malformed))?;
        let opened = self
            .ring
            .open(sealed, &Self::aad(id, account_id))
            .map_err(|err| TokenError::Unusable(Unusable::Unopened(err)))?;
        let payload: Payload =
            serde_json::from_slice(&opened.plaintext).map_err(|_| TokenError::Unusable(Unusable::Malformed))?;
        let record = TokenRecord {
            id,
            account_id: account_id.to_owned(),
            tokens: TokenSet {
                access_token: SecretString::from(payload.access_token),
                refresh_token: payload.refresh_token.map(SecretString::from),
                expires_at: payload.expires_at,
                scopes: payload.scopes,
            },
            consented_at: payload.consented_at,
            version: payload.version,
            uncertain_since: payload.uncertain_since,
        };
        // A record sealed under an older key is not rewritten here: a write on the read path could
        // race a refresh and put back an old refresh token. Its next write (a refresh) reseals it.
        Ok(record)
    }

    /// Keeps a record alive for another `ttl`, as its session is used.
    pub async fn touch(&self, id: Uuid, ttl: Duration) -> Result<(), TokenError> {
        Ok(self.kv.expire(&Self::key(id), ttl).await?)
    }

    /// Deletes a record (signing out).
    pub async fn delete(&self, id: Uuid) -> Result<(), TokenError> {
        Ok(self.kv.del(&Self::key(id)).await?)
    }
}

/// Reads `other` and the stored form of token record `id` together, in one round trip (see
/// [`Kv::get_both`]): the session store reads a session with its record so. The record comes
/// back as stored, for [`TokenStore::open`]; this module stays the only one that knows where
/// records live.
pub async fn read_with(kv: &Kv, other: &str, id: Uuid) -> Result<(Option<String>, Option<String>), StoreError> {
    kv.get_both(other, &TokenStore::key(id)).await
}

#[cfg(test)]
mod tests;
