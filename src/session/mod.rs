//! The one home of a session's whole life: the cookie and what it holds, sign-ins in progress (a
//! sealed cookie of their own, so visitors cost nothing in Redis), the per-account index, the
//! liveness check, the lifetimes, starting one, ending one or the others, and the cap on sessions
//! per account.
//!
//! Pages and `auth` use [`Sessions`] and the extractors ([`SignedIn`], [`MaybeSignedIn`],
//! [`CsrfForm`]); nothing outside this module touches the session's keys or the index.
//!
//! A session is alive while its token record opens. Ending one deletes the record first (so its
//! cookie is worthless at once, on every instance), then its index entry and its stored state:
//! [`Sessions::end`] is the one function that does it.

mod csrf;
mod extract;
mod index;
mod sign_ins;
mod state;
mod store;

use actix_session::Session;
use actix_web::HttpRequest;
use actix_web::cookie::Cookie;
use uuid::Uuid;

pub use csrf::check_origin;
pub use extract::{CsrfForm, MaybeSignedIn, SignedIn};
pub use index::{MAX_SESSIONS_PER_ACCOUNT, SessionIndex, SessionInfo, describe_browser};
pub use sign_ins::{MAX_PENDING, PENDING_TTL, Pending, SignIns};
pub use state::{SessionData, User, signed_in_state};
pub use store::{KvSessionStore, SessionKeys, session_key_name};

use crate::access_keys::KeyRequest;
use crate::atlassian::{Site, TokenSet};
use crate::client_addr::client_ip;
use crate::clock::unix_now;
use crate::config::{Cidr, SessionSettings, Settings};
use crate::error::AppError;
use crate::tokens::{TokenError, TokenRecord, TokenStore, Unusable};
use state::{Liveness, SessionState};

/// The session cookie's name: `__Host-threelo` over https at the root (the browser then refuses
/// such a cookie from any other host or path), else `threelo`.
pub fn session_cookie_name(settings: &Settings) -> &'static str {
    let public = &settings.public_url;
    if public.is_https() && public.prefix().is_empty() { "__Host-threelo" } else { "threelo" }
}

/// Starts, checks and ends sessions.
#[derive(Clone, Debug)]
pub struct Sessions {
    tokens: TokenStore,
    index: SessionIndex,
    sign_ins: SignIns,
    keys: SessionKeys,
    cookie_name: &'static str,
    limits: SessionSettings,
    trusted_proxies: Vec<Cidr>,
}

impl Sessions {
    pub fn new(settings: &Settings, tokens: TokenStore, index: SessionIndex) -> Self {
        Sessions {
            tokens,
            index,
            sign_ins: SignIns::new(settings),
            keys: SessionKeys::new(settings.session_secret_bytes()),
            cookie_name: session_cookie_name(settings),
            limits: settings.session,
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    /// The signed-in user of `session`, if it is live. A session past its idle timeout or lifetime,
    /// or whose token record no longer opens, ends here.
    pub(crate) async fn current(&self, req: &HttpRequest, session: Session) -> Result<Option<SignedIn>, AppError> {
        let state = SessionState(&session);
        let (data, touched) = match state.liveness(&self.limits)? {
            Liveness::Anonymous => return Ok(None),
            Liveness::Ended(ended) => {
                self.end(&ended.user.account_id, ended.token_record).await?;
                return Ok(None);
            }
            Liveness::Live { data, touched } => (data, touched),
        };
        let (id, account_id) = (data.token_record, data.user.account_id.as_str());
        let record = match state.prefetched_token(id) {
            Some(Some(sealed)) => self.tokens.open(id, account_id, &sealed),
            Some(None) => Err(TokenError::Unusable(Unusable::Missing)),
            None => self.tokens.load(id, account_id).await,
        };
        match record {
            Ok(record) => {
                if touched {
                    // The session's TTL moves with this write; its tokens and index entry follow.
                    self.tokens.touch(data.token_record, self.limits.idle_timeout).await?;
                    let info = self.describe(req, data.created_at, data.last_seen);
                    self.index.touch(&data.user.account_id, data.token_record, &info).await?;
                }
                Ok(Some(SignedIn { data, record, session }))
            }
            Err(TokenError::Unusable(why)) => {
                tracing::info!(account = %data.user.account_id, %why, "session ended: its token record is unusable");
                self.end(&data.user.account_id, data.token_record).await?;
                state.forget_user();
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The index entry describing this request's browser.
    fn describe(&self, req: &HttpRequest, created_at: i64, last_seen: i64) -> SessionInfo {
        let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
        SessionInfo {
            created_at,
            last_seen,
            browser: describe_browser(user_agent),
            address: client_ip(req, &self.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_default(),
        }
    }

    /// A sign-in in progress in this browser, bound to `state`, landing on `return_to`: the cookie
    /// that remembers it (with the other tabs' sign-ins). Nothing is stored on the server.
    pub fn begin_sign_in(&self, req: &HttpRequest, state: &str, return_to: &str) -> Cookie<'static> {
        self.sign_ins.add(self.sign_ins.read(req), Pending::new(state, return_to))
    }

    /// Consumes the sign-in in progress bound to `state`: where it should land (`None` if the
    /// state is unknown, expired or already used), and the cookie that remembers the rest.
    pub fn finish_sign_in(&self, req: &HttpRequest, state: &str) -> (Option<String>, Cookie<'static>) {
        self.sign_ins.take(self.sign_ins.read(req), state)
    }

    /// A consent for access key `key` in progress in this browser, bound to `state`: the cookie
    /// that remembers it beside any sign-ins in progress.
    pub fn begin_key_consent(
        &self,
        req: &HttpRequest,
        state: &str,
        return_to: &str,
        key: KeyRequest,
    ) -> Cookie<'static> {
        self.sign_ins.add(self.sign_ins.read(req), Pending::for_key(state, return_to, key))
    }

    /// Like [`Sessions::finish_sign_in`], with the whole entry: a key's consent carries its request.
    pub fn finish_consent(&self, req: &HttpRequest, state: &str) -> (Option<Pending>, Cookie<'static>) {
        self.sign_ins.take_entry(self.sign_ins.read(req), state)
    }

    /// Starts a session for `user` with the tokens of a fresh consent. Everything that can fail
    /// happens before the session changes, so a failure leaves no half-signed-in session. A
    /// session already signed in in this browser (`previous`) is replaced; beyond
    /// [`MAX_SESSIONS_PER_ACCOUNT`] the account's least recently used session ends.
    pub async fn start(
        &self,
        req: &HttpRequest,
        session: &Session,
        user: User,
        tokens: TokenSet,
        sites: Vec<Site>,
        previous: Option<SignedIn>,
    ) -> Result<(), AppError> {
        let now = unix_now();
        let record = self.tokens.create(&user.account_id, tokens, now).await?;
        let prepared = async {
            let pushed_out = self.index.add(&user.account_id, record, &self.describe(req, now, now)).await?;
            for old in pushed_out {
                // Already out of the index: its token record and stored state are left to delete.
                self.tokens.delete(old).await?;
                self.delete_state(old).await?;
            }
            if let Some(previous) = previous {
                self.end(previous.account_id(), previous.data.token_record).await?;
            }
            Ok::<(), AppError>(())
        };
        if let Err(err) = prepared.await {
            // Best effort: an orphaned record expires with its TTL anyway.
            let _ = self.tokens.delete(record).await;
            return Err(err);
        }
        tracing::info!(account = %user.account_id, sites = sites.len(), "signed in");
        SessionState(session).sign_in(user, record, sites)?;
        Ok(())
    }

    /// Whether the request carries two cookies of the session's name, or two of the sign-in
    /// cookie's: a sibling site may have planted one ("cookie tossing").
    pub fn cookies_are_doubled(&self, req: &HttpRequest) -> bool {
        let Ok(cookies) = req.cookies() else { return false };
        let count = |name: &str| cookies.iter().filter(|c| c.name() == name).count();
        count(self.cookie_name) > 1 || count(self.sign_ins.name()) > 1
    }

    /// Ends session `record` of `account_id`: its token record first (its cookie is worthless at
    /// once), then its entry in the account's index and its stored state: nothing of it is left.
    pub async fn end(&self, account_id: &str, record: Uuid) -> Result<(), AppError> {
        self.tokens.delete(record).await?;
        self.index.remove(account_id, record).await?;
        self.delete_state(record).await
    }

    /// Deletes the stored state of the session whose token record is `record`.
    async fn delete_state(&self, record: Uuid) -> Result<(), AppError> {
        Ok(self.tokens.kv.del(&session_key_name(&self.keys.for_record(record))).await?)
    }

    /// Signs out: ends the session and clears the cookie.
    pub async fn sign_out(&self, signed_in: SignedIn) -> Result<(), AppError> {
        self.end(signed_in.account_id(), signed_in.data.token_record).await?;
        tracing::info!(account = %signed_in.account_id(), "signed out");
        SessionState(&signed_in.session).sign_out();
        Ok(())
    }

    /// Clears a cookie whose session is not (or no longer) signed in.
    pub fn discard(&self, session: &Session) {
        SessionState(session).sign_out();
    }

    /// The live sessions of the signed-in account, newest first.
    pub async fn list(&self, signed_in: &SignedIn) -> Result<Vec<(Uuid, SessionInfo)>, AppError> {
        Ok(self.index.list(signed_in.account_id()).await?)
    }

    /// Ends the account's other sessions that `which` picks; returns how many ended.
    pub async fn end_others(&self, signed_in: &SignedIn, which: impl Fn(Uuid) -> bool) -> Result<usize, AppError> {
        let account_id = signed_in.account_id();
        let mut ended = 0;
        for (id, _) in self.index.list(account_id).await? {
            if id != signed_in.data.token_record && which(id) {
                self.end(account_id, id).await?;
                ended += 1;
                tracing::info!(account = %account_id, "ended another session of this account");
            }
        }
        Ok(ended)
    }

    /// The grant behind this session is over (its token record is already gone): the session
    /// forgets its user, and its index entry goes.
    pub async fn grant_ended(&self, session: &Session, data: &SessionData) {
        SessionState(session).forget_user();
        // Best effort: listing skips sessions whose record is gone, and the entry expires anyway.
        let _ = self.index.remove(&data.user.account_id, data.token_record).await;
    }

    /// Stores what this request learnt about the user (fresh sites).
    pub fn save(&self, session: &Session, data: &SessionData) -> Result<(), AppError> {
        SessionState(session).update(data)
    }
}

impl SignedIn {
    /// The Atlassian account id: the stable user key.
    pub fn account_id(&self) -> &str {
        &self.data.user.account_id
    }

    /// Who is signed in.
    pub fn user(&self) -> &User {
        &self.data.user
    }

    /// The opened token record of this session.
    pub fn record(&self) -> &TokenRecord {
        &self.record
    }
}
