//! The per-account index of active sessions, for `/account`'s list and "sign out everywhere".
//!
//! One Redis hash per account: field = the session's token record id, value = what the list shows.
//! A session is alive while its token record exists; ending one deletes its record (so its cookie is
//! worthless at once) and its entry here. The hash expires with the longest session it could hold.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::unix_now;
use crate::config::SessionSettings;
use crate::store::{KEY_PREFIX, Kv, StoreError};

/// One active session as `/account` lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    pub created_at: i64,
    pub last_seen: i64,
    /// A short description of the browser, from its User-Agent.
    pub browser: String,
    /// The client address as seen through trusted proxies.
    pub address: String,
}

/// The most sessions one account keeps. Signing in once more ends the least recently used one:
/// a bound on what one account can store, and on the work of each sign-in (which reads the whole
/// index to drop dead entries).
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 50;

/// Reads and writes the index.
#[derive(Clone, Debug)]
pub struct SessionIndex {
    kv: Kv,
    limits: SessionSettings,
}

impl SessionIndex {
    pub fn new(kv: Kv, limits: SessionSettings) -> Self {
        SessionIndex { kv, limits }
    }

    fn key(account_id: &str) -> String {
        format!("{KEY_PREFIX}account:{account_id}:sessions")
    }

    /// Adds the entry of a new session `id`, drops dead entries, and keeps at most
    /// [`MAX_SESSIONS_PER_ACCOUNT`]: returns the sessions beyond it (the least recently used),
    /// already out of the index, for the caller to end.
    pub async fn add(&self, account_id: &str, id: Uuid, info: &SessionInfo) -> Result<Vec<Uuid>, StoreError> {
        self.write(account_id, id, info).await?;
        let mut live = self.list(account_id).await?;
        live.sort_by_key(|(_, info)| std::cmp::Reverse(info.last_seen));
        let mut pushed_out = Vec::new();
        for (old, _) in live.iter().filter(|(other, _)| *other != id).skip(MAX_SESSIONS_PER_ACCOUNT - 1) {
            self.remove(account_id, *old).await?;
            pushed_out.push(*old);
        }
        Ok(pushed_out)
    }

    /// Refreshes the entry of a live session (its `last_seen`), and with it the index's TTL.
    pub async fn touch(&self, account_id: &str, id: Uuid, info: &SessionInfo) -> Result<(), StoreError> {
        self.write(account_id, id, info).await
    }

    async fn write(&self, account_id: &str, id: Uuid, info: &SessionInfo) -> Result<(), StoreError> {
        let json = serde_json::to_string(info).map_err(StoreError::Encode)?;
        // The hash's TTL moves with every write: it lives as long as its longest session could.
        self.kv.hset_ex(&Self::key(account_id), &id.to_string(), &json, self.limits.lifetime).await
    }

    /// The live sessions of an account, newest first. Entries of sessions that timed out are
    /// dropped from the index on the way.
    pub async fn list(&self, account_id: &str) -> Result<Vec<(Uuid, SessionInfo)>, StoreError> {
        let now = unix_now();
        let mut live = Vec::new();
        for (field, json) in self.kv.hgetall(&Self::key(account_id)).await? {
            let parsed = Uuid::parse_str(&field).ok().zip(serde_json::from_str::<SessionInfo>(&json).ok());
            match parsed {
                Some((id, info)) if self.is_live(&info, now) => live.push((id, info)),
                _ => self.kv.hdel(&Self::key(account_id), &field).await?,
            }
        }
        live.sort_by_key(|(_, info)| std::cmp::Reverse(info.created_at));
        Ok(live)
    }

    fn is_live(&self, info: &SessionInfo, now: i64) -> bool {
        now - info.last_seen <= self.limits.idle_timeout.as_secs() as i64
            && now - info.created_at <= self.limits.lifetime.as_secs() as i64
    }

    /// Removes the entry of session `id`.
    pub async fn remove(&self, account_id: &str, id: Uuid) -> Result<(), StoreError> {
        self.kv.hdel(&Self::key(account_id), &id.to_string()).await
    }
}

/// "Firefox on Linux" from a User-Agent header; never more than a few words.
pub fn describe_browser(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("HeadlessChrome/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        "Unknown browser"
    };
    let system = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") {
        Some("macOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_described_briefly() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_browser(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert_eq!(describe_browser(chrome), "Chrome on macOS");
        assert_eq!(describe_browser("<script>"), "Unknown browser");
    }
}
