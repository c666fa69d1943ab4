//! Access keys: `thr_…` bearer keys for scripts, each backed by an Atlassian grant of its own.
//!
//! Invariants:
//! - The key itself is shown once and never stored: Redis holds its SHA-256 (the lookup key), so a
//!   Redis dump does not yield a usable key. A key is 256 random bits, so an unsalted hash is safe.
//! - Its Atlassian tokens are a token record of their own, written only through
//!   [`TokenStore`] (sealed with the key ring, refreshed by the same [`Refresher`] rules), with
//!   the key's id bound in as the record id. Browser sessions never touch it, so signing out
//!   (anywhere, everywhere) leaves keys working; revoking a key deletes both at once.
//! - Every Redis key carries a TTL: the key's entry and record end when the key expires.
//! - Each key has its own budget, counted in Redis so every instance shares it.
//!
//! Stored: `threelo:apikey:<sha256 hex>` → the key's [`KeyEntry`] (JSON), and
//! `threelo:apikeys:<account>` → a hash of the account's key ids → their hashes (for the list on
//! `/account`); `threelo:apikey-used:<id>` → when it was last used; `threelo:apikey-rate:<id>:<n>`
//! → calls in the current budget window.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::atlassian::{Atlassian, TokenSet};
use crate::clock::unix_now;
use crate::store::{Budget, KEY_PREFIX, Kv, StoreError};
use crate::tokens::{KeyRing, Refresher, TokenError, TokenRecord, TokenStore};

/// Every key starts with this, so secret scanners can match it.
pub const KEY_PREFIX_TEXT: &str = "thr_";
/// Random bytes in a key: 32, i.e. 43 base64url characters after the prefix.
const KEY_BYTES: usize = 32;
/// The most keys one account may hold at a time.
pub const MAX_KEYS_PER_ACCOUNT: usize = 20;
/// The longest a key may live: Atlassian retires a refresh token unused for 90 days.
pub const MAX_DAYS: u32 = 90;
/// The longest key name.
pub const MAX_NAME: usize = 64;
/// Calls one key may make a minute, across every instance.
pub const BUDGET: Budget = Budget { name: "apikey-rate", calls: 120, secs: 60 };

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// GET and HEAD only.
    Read,
    /// Every method.
    Write,
}

impl Access {
    pub fn parse(text: &str) -> Option<Access> {
        match text {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// A key asked for on `/account`, waiting for Atlassian's consent (it rides in the sealed
/// sign-in cookie; nothing is stored before the consent succeeds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// The account that asked: the consent must come back for the same one.
    pub account_id: String,
    pub name: String,
    pub access: Access,
    pub days: u32,
}

impl KeyRequest {
    /// Checks the form's fields; the error says what to fix.
    pub fn parse(account_id: &str, name: &str, access: &str, days: &str) -> Result<KeyRequest, &'static str> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err("a key needs a name of 1 to 64 characters");
        }
        let access = Access::parse(access).ok_or("access must be read or write")?;
        let days = days.trim().parse::<u32>().ok().filter(|d| (1..=MAX_DAYS).contains(d));
        let days = days.ok_or("a key lives 1 to 90 days")?;
        Ok(KeyRequest { account_id: account_id.to_owned(), name: name.to_owned(), access, days })
    }
}

/// A live key as stored (no secret in it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyEntry {
    pub id: Uuid,
    pub account_id: String,
    pub name: String,
    pub access: Access,
    pub created_at: i64,
    pub expires_at: i64,
    /// The id of its token record.
    pub token_record: Uuid,
}

/// A key as listed on `/account`.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    pub entry: KeyEntry,
    pub last_used: Option<i64>,
}

/// Why a bearer key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a threelo access key")]
    Malformed,
    #[error("unknown, revoked or expired access key")]
    Unknown,
    /// Its Atlassian grant has ended (revoked at Atlassian, refresh token rejected).
    #[error("the access key's Atlassian grant has ended")]
    GrantEnded,
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    #[error(transparent)]
    Token(TokenError),
}

/// A key that opened: its entry and its token record.
pub struct OpenedKey {
    pub entry: KeyEntry,
    pub record: TokenRecord,
}

/// Stores, finds, lists and revokes access keys.
#[derive(Clone)]
pub struct AccessKeys {
    kv: Kv,
    tokens: TokenStore,
    refresher: Refresher,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeys").finish_non_exhaustive()
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` looks like a key at all (checked before any Redis call).
fn well_formed(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX_TEXT).is_some_and(|rest| {
        (43..=86).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn ttl_until(expires_at: i64) -> Duration {
    Duration::from_secs((expires_at - unix_now()).max(1) as u64)
}

impl AccessKeys {
    /// Keys in `kv`, their records sealed with `ring` and refreshed with `atlassian` (waiting at
    /// most `patience` for another instance's refresh).
    pub fn new(kv: Kv, ring: Arc<KeyRing>, atlassian: Atlassian, patience: Duration) -> AccessKeys {
        // A record's TTL as a refresh writes it; trimmed back to the key's own expiry after.
        let tokens = TokenStore::new(kv.clone(), ring, Duration::from_secs(u64::from(MAX_DAYS) * 86_400));
        let refresher = Refresher::new(tokens.clone(), atlassian, patience);
        AccessKeys { kv, tokens, refresher }
    }

    /// The refresher of key records (the same rules as sessions', its own records).
    pub fn refresher(&self) -> &Refresher {
        &self.refresher
    }

    fn entry_key(hash: &str) -> String {
        format!("{KEY_PREFIX}apikey:{hash}")
    }

    fn index_key(account_id: &str) -> String {
        format!("{KEY_PREFIX}apikeys:{account_id}")
    }

    fn used_key(id: Uuid) -> String {
        format!("{KEY_PREFIX}apikey-used:{id}")
    }

    /// How many live keys `account_id` holds.
    pub async fn count(&self, account_id: &str) -> Result<usize, StoreError> {
        Ok(self.list(account_id).await?.len())
    }

    /// Makes a key for `request` with the tokens of its own consent; returns the key (shown once)
    /// and its entry. Refused beyond [`MAX_KEYS_PER_ACCOUNT`].
    pub async fn create(
        &self,
        request: &KeyRequest,
        tokens: TokenSet,
    ) -> Result<(SecretString, KeyEntry), CreateError> {
        if self.count(&request.account_id).await? >= MAX_KEYS_PER_ACCOUNT {
            return Err(CreateError::TooMany);
        }
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let secret = SecretString::from(format!("{KEY_PREFIX_TEXT}{}", URL_SAFE_NO_PAD.encode(bytes)));
        let hash = sha256_hex(secret.expose_secret());
        let now = unix_now();
        let expires_at = now + i64::from(request.days) * 86_400;
        let ttl = ttl_until(expires_at);
        let token_record = self.tokens.create(&request.account_id, tokens, now).await.map_err(CreateError::Token)?;
        self.tokens.touch(token_record, ttl).await.map_err(CreateError::Token)?;
        let entry = KeyEntry {
            id: Uuid::new_v4(),
            account_id: request.account_id.clone(),
            name: request.name.clone(),
            access: request.access,
            created_at: now,
            expires_at,
            token_record,
        };
        let json = serde_json::to_string(&entry).map_err(StoreError::Encode)?;
        self.kv.set_ex(&Self::entry_key(&hash), &json, ttl).await?;
        // The index lives as long as its longest-lived key could.
        let index_ttl = Duration::from_secs(u64::from(MAX_DAYS + 1) * 86_400);
        self.kv.hset_ex(&Self::index_key(&entry.account_id), &entry.id.to_string(), &hash, index_ttl).await?;
        tracing::info!(account = %entry.account_id, key = %entry.id, access = entry.access.as_str(), "access key created");
        Ok((secret, entry))
    }

    /// The live key `bearer` names, with its token record.
    pub async fn open(&self, bearer: &str) -> Result<OpenedKey, KeyError> {
        if !well_formed(bearer) {
            return Err(KeyError::Malformed);
        }
        let hash = sha256_hex(bearer);
        let stored = self.kv.get(&Self::entry_key(&hash)).await?.ok_or(KeyError::Unknown)?;
        let entry: KeyEntry = serde_json::from_str(&stored).map_err(|_| KeyError::Unknown)?;
        if entry.expires_at <= unix_now() {
            return Err(KeyError::Unknown);
        }
        match self.tokens.load(entry.token_record, &entry.account_id).await {
            Ok(record) => Ok(OpenedKey { entry, record }),
            Err(TokenError::Unusable(_)) => {
                // The grant ended (the refresher deleted the record): the key goes with it.
                let _ = self.remove(&entry, &hash).await;
                Err(KeyError::GrantEnded)
            }
            Err(TokenError::Unavailable(err)) => Err(KeyError::Unavailable(err)),
            Err(other) => Err(KeyError::Token(other)),
        }
    }

    /// After a call with `entry`'s record: remembers the use, and keeps a refreshed record from
    /// outliving its key (a refresh writes it with the longest TTL).
    pub async fn used(&self, entry: &KeyEntry, refreshed: bool) -> Result<(), StoreError> {
        let ttl = ttl_until(entry.expires_at);
        self.kv.set_ex(&Self::used_key(entry.id), &unix_now().to_string(), ttl).await?;
        if refreshed {
            self.kv.expire(&TokenStore::key(entry.token_record), ttl).await?;
        }
        Ok(())
    }

    /// The live keys of `account_id`, newest first.
    pub async fn list(&self, account_id: &str) -> Result<Vec<KeyInfo>, StoreError> {
        let mut keys = Vec::new();
        for (id, hash) in self.kv.hgetall(&Self::index_key(account_id)).await? {
            let entry = match self.kv.get(&Self::entry_key(&hash)).await? {
                Some(json) => serde_json::from_str::<KeyEntry>(&json).ok(),
                None => None,
            };
            let Some(entry) = entry.filter(|e| e.account_id == account_id && e.expires_at > unix_now()) else {
                // Expired or broken: tidy the index.
                self.kv.hdel(&Self::index_key(account_id), &id).await?;
                continue;
            };
            let last_used = self.kv.get(&Self::used_key(entry.id)).await?.and_then(|t| t.parse().ok());
            keys.push(KeyInfo { entry, last_used });
        }
        keys.sort_by_key(|key| std::cmp::Reverse(key.entry.created_at));
        Ok(keys)
    }

    /// Revokes key `id` of `account_id`; false when there is no such key.
    pub async fn revoke(&self, account_id: &str, id: Uuid) -> Result<bool, StoreError> {
        let index = self.kv.hgetall(&Self::index_key(account_id)).await?;
        let Some((_, hash)) = index.into_iter().find(|(field, _)| *field == id.to_string()) else {
            return Ok(false);
        };
        let entry = match self.kv.get(&Self::entry_key(&hash)).await? {
            Some(json) => serde_json::from_str::<KeyEntry>(&json).ok(),
            None => None,
        };
        match entry.filter(|e| e.account_id == account_id) {
            Some(entry) => self.remove(&entry, &hash).await?,
            // Already expired: only the index entry is left.
            None => self.kv.hdel(&Self::index_key(account_id), &id.to_string()).await?,
        }
        tracing::info!(account = %account_id, key = %id, "access key revoked");
        Ok(true)
    }

    /// Deletes everything of one key: its entry first (it stops working at once), then the rest.
    async fn remove(&self, entry: &KeyEntry, hash: &str) -> Result<(), StoreError> {
        self.kv.del(&Self::entry_key(hash)).await?;
        self.kv.del(&TokenStore::key(entry.token_record)).await?;
        self.kv.del(&Self::used_key(entry.id)).await?;
        self.kv.hdel(&Self::index_key(&entry.account_id), &entry.id.to_string()).await
    }

    /// Spends one call of key `id`'s budget ([`BUDGET`]): `None` when allowed, else the seconds
    /// until the window turns.
    pub async fn spend(&self, id: Uuid) -> Result<Option<u64>, StoreError> {
        BUDGET.spend(&self.kv, &id.to_string(), unix_now()).await
    }
}

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the account already holds the most access keys allowed")]
    TooMany,
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    #[error("the key's token record could not be written")]
    Token(#[source] TokenError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_reach_storage() {
        assert!(well_formed(&format!("thr_{}", "a".repeat(43))));
        assert!(well_formed(&format!("thr_{}", "-_aZ09".repeat(8))));
        for bad in [
            String::new(),
            "thr_".to_owned(),
            format!("thr_{}", "a".repeat(42)),
            format!("thr_{}", "a".repeat(87)),
            format!("THR_{}", "a".repeat(43)),
            format!("thr_{}=", "a".repeat(43)),
            format!("thr_{} ", "a".repeat(43)),
            format!("xyz_{}", "a".repeat(43)),
        ] {
            assert!(!well_formed(&bad), "{bad}");
        }
    }

    #[test]
    fn key_requests_are_checked() {
        let ok = KeyRequest::parse("acc", "  ci bot ", "read", "30").unwrap();
        assert_eq!((ok.name.as_str(), ok.access, ok.days), ("ci bot", Access::Read, 30));
        assert!(KeyRequest::parse("acc", "x", "write", "90").is_ok());
        for (name, access, days) in [
            ("", "read", "1"),
            ("x", "admin", "1"),
            ("x", "read", "0"),
            ("x", "read", "91"),
            ("x", "read", "-1"),
            ("x", "read", "ten"),
            ("a\nb", "read", "1"),
        ] {
            assert!(KeyRequest::parse("acc", name, access, days).is_err(), "{name} {access} {days}");
        }
        assert!(KeyRequest::parse("acc", &"n".repeat(65), "read", "1").is_err());
    }
}
