//! What the actix session holds, and the only code that names its keys: who the user is, the id
//! of their token record, their sites, the CSRF token and timestamps. Never a token. (Sign-ins in
//! progress live in a cookie of their own: `sign_ins.rs`.)

use actix_session::Session;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::atlassian::Site;
use crate::clock::unix_now;
use crate::config::SessionSettings;
use crate::error::AppError;
use crate::random::random_token;

pub(super) const SIGNED_IN: &str = "signed_in";
/// The sealed token record the session store read together with the session (see
/// `store.rs`): handed on in the state for this request only, removed before any write.
pub(super) const PREFETCHED_TOKEN: &str = "prefetched_token_record";

/// A token record as stored (`None`: there is none), read along with the session whose key
/// names it.
#[derive(Serialize, Deserialize)]
pub(super) struct Prefetched {
    pub record: Uuid,
    pub sealed: Option<String>,
}
/// `last_seen` is written at most this often, so reading pages does not write the session.
const LAST_SEEN_GRANULARITY: i64 = 60;

/// Who is signed in, as shown in the header.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub account_id: String,
    pub name: String,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
}

/// Everything a signed-in session knows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionData {
    pub user: User,
    /// The id of the sealed token record.
    pub token_record: Uuid,
    pub sites: Vec<Site>,
    /// When `sites` was last read from accessible-resources (0: read again on next use).
    #[serde(default)]
    pub sites_checked_at: i64,
    /// The per-session token every form carries.
    pub csrf: String,
    pub created_at: i64,
    pub last_seen: i64,
}

/// What a session is, as of this request.
pub enum Liveness {
    /// Nobody signed in.
    Anonymous,
    /// Signed in; `touched` says whether this request moved `last_seen` (a session write).
    Live { data: SessionData, touched: bool },
    /// It was signed in but timed out just now; the user is already forgotten.
    Ended(SessionData),
}

/// Whether a stored session state (as actix-session keeps it) belongs to a signed-in user. Only
/// those may live as long as the idle timeout; anything else (a session whose user was just
/// forgotten) needs minutes at most.
pub(super) fn state_is_signed_in(state: &std::collections::HashMap<String, String>) -> bool {
    state.contains_key(SIGNED_IN)
}

/// The stored session state (as actix-session keeps it) of a signed-in user: what a sign-in leaves.
/// For tools that create sessions in bulk, such as `bench/run`.
pub fn signed_in_state(signed_in: &SessionData) -> serde_json::Result<std::collections::HashMap<String, String>> {
    Ok(std::collections::HashMap::from([(SIGNED_IN.to_owned(), serde_json::to_string(signed_in)?)]))
}

/// Typed access to the actix session.
pub(super) struct SessionState<'a>(pub &'a Session);

impl SessionState<'_> {
    /// The signed-in user, if the session is live. Enforces the idle timeout and the absolute
    /// lifetime on the server: a session past either forgets its user here.
    pub fn liveness(&self, limits: &SessionSettings) -> Result<Liveness, AppError> {
        let Ok(Some(mut signed_in)) = self.0.get::<SessionData>(SIGNED_IN) else {
            return Ok(Liveness::Anonymous);
        };
        let now = unix_now();
        let idle_limit = limits.idle_timeout.as_secs() as i64;
        let idle = now - signed_in.last_seen > idle_limit;
        let too_old = now - signed_in.created_at > limits.lifetime.as_secs() as i64;
        if idle || too_old {
            tracing::info!(account = %signed_in.user.account_id, idle, too_old, "session ended by timeout");
            self.forget_user();
            return Ok(Liveness::Ended(signed_in));
        }
        // Writing last_seen on every request would turn every page view into a Redis write; a
        // coarse clock is enough, as long as it is fine compared with the idle timeout.
        let granularity = LAST_SEEN_GRANULARITY.min(idle_limit / 4);
        let touched = now - signed_in.last_seen >= granularity.max(1);
        if touched {
            signed_in.last_seen = now;
            self.0.insert(SIGNED_IN, &signed_in)?;
        }
        Ok(Liveness::Live { data: signed_in, touched })
    }

    /// Token record `record` as stored, if the store read it along with the session (`Some(None)`:
    /// it read that there is none).
    pub fn prefetched_token(&self, record: Uuid) -> Option<Option<String>> {
        let prefetched = self.0.get::<Prefetched>(PREFETCHED_TOKEN).ok().flatten()?;
        (prefetched.record == record).then_some(prefetched.sealed)
    }

    /// Signs the user in: a new session key (no fixation).
    pub fn sign_in(&self, user: User, token_record: Uuid, sites: Vec<Site>) -> Result<SessionData, AppError> {
        let now = unix_now();
        let signed_in = SessionData {
            user,
            token_record,
            sites,
            sites_checked_at: now,
            csrf: random_token(32),
            created_at: now,
            last_seen: now,
        };
        self.0.renew();
        self.0.insert(SIGNED_IN, &signed_in)?;
        Ok(signed_in)
    }

    /// Stores what this request learnt about the user (e.g. fresh sites).
    pub fn update(&self, signed_in: &SessionData) -> Result<(), AppError> {
        self.0.insert(SIGNED_IN, signed_in)?;
        Ok(())
    }

    /// Ends the session: the store entry is deleted and the cookie cleared.
    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// Drops the signed-in user but keeps the session usable for this request (a purged actix
    /// session ignores every later insert, so a sign-in started right after would be lost). The
    /// key is renewed so the old cookie is worthless.
    pub fn forget_user(&self) {
        self.0.remove(SIGNED_IN);
        self.0.renew();
    }
}
