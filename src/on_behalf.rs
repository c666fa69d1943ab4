//! Calling Atlassian on the signed-in user's behalf: a fresh access token for every call (refreshed
//! at most once, see `tokens::refresh`), one retry after a plain 401, Atlassian's "slow down"
//! honoured for that account, site and product everywhere (`rate_limits`), at most one retry of a
//! 429 or 5xx per page, the user's sites cached in the session, every failure turned into the
//! page the user should see, and Atlassian's "quota nearly spent" kept for the page's notice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use secrecy::SecretString;

use crate::atlassian::{ApiError, Atlassian, Site, watching_near_limit};
use crate::clock::unix_now;
use crate::error::AppError;
use crate::ids::CloudId;
use crate::rate_limits::{DEFAULT_WAIT_SECS, MAX_WAIT_SECS, RateLimits, Target, Waits};
use crate::session::{SessionData, Sessions, SignedIn};
use crate::tokens::{RefreshError, Refresher, TokenRecord};

/// Sites are read again from accessible-resources when older than this.
const SITES_TTL_SECS: i64 = 300;
/// A 404 from a site asks for its list to be read again only if the list is older than this: a
/// list read moments ago that names the site says the 404 is about the thing, not the site, and a
/// restricted issue opened again and again must not cost a session write and a re-read each time.
const RECHECK_AFTER_SECS: i64 = 30;
/// A 429 asking to wait at most this long is waited out once in the page (the page's one retry);
/// a longer one answers the "slow down" page at once.
const WAIT_IN_PAGE_SECS: u64 = 2;

pub use crate::metrics::Product;

/// Extractor: the signed-in user, ready to call Atlassian for them.
pub struct OnBehalf {
    data: Mutex<SessionData>,
    session: actix_session::Session,
    record: Mutex<TokenRecord>,
    atlassian: web::Data<Atlassian>,
    refresher: web::Data<Refresher>,
    sessions: web::Data<Sessions>,
    rate_limits: web::Data<RateLimits>,
    /// The account's waits, read from Redis on the page's first call.
    waits: tokio::sync::OnceCell<Mutex<Waits>>,
    /// Whether this page already spent its one retry.
    retried: AtomicBool,
    /// The site (cloud id; empty for identity calls) of the first answer of this request that
    /// said the app's quota is nearly spent.
    near_limit: Mutex<Option<String>>,
}

impl OnBehalf {
    /// What the session knows of who is signed in (as of the last change this request made).
    pub fn session_data(&self) -> SessionData {
        self.data.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The scopes the user's grant holds (as the token record says).
    pub fn granted_scopes(&self) -> Vec<String> {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).tokens.scopes.clone()
    }

    /// The site (cloud id, empty for Atlassian's own endpoints) whose answer to this request said
    /// the app's quota is nearly spent, if one did.
    pub fn quota_nearly_spent(&self) -> Option<String> {
        self.near_limit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self) -> TokenRecord {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keep(&self, record: &TokenRecord) {
        *self.record.lock().unwrap_or_else(|p| p.into_inner()) = record.clone();
    }

    /// Runs `call` against `target` with the client and a fresh access token, unless Atlassian
    /// asked us to wait for it. A short 429, or a 5xx, is retried once per page; a 401 refreshes.
    pub async fn call<T, F, Fut>(&self, target: Target<'_>, call: F) -> Result<T, AppError>
    where
        F: Fn(web::Data<Atlassian>, SecretString) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let account_id = self.session_data().user.account_id;
        if let Some(secs) = self.rate_limits.known_wait(&account_id, target) {
            return Err(AppError::RateLimited(secs));
        }
        let waits = self.waits(&account_id).await;
        if let Some(secs) = waits.lock().unwrap_or_else(|p| p.into_inner()).wait(target) {
            return Err(AppError::RateLimited(secs));
        }
        loop {
            let (answer, near_limit) = watching_near_limit(self.call_once(&call)).await;
            if near_limit {
                self.near_limit.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| target.site.to_owned());
            }
            match answer? {
                Err(ApiError::RateLimited { retry_after }) => {
                    let secs = retry_after.unwrap_or(DEFAULT_WAIT_SECS).clamp(1, MAX_WAIT_SECS);
                    self.rate_limits.note(&account_id, target, secs, waits).await;
                    if secs <= WAIT_IN_PAGE_SECS && self.take_retry() {
                        tracing::info!(product = target.product.as_str(), secs, "waiting out a short 429 once");
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                        continue;
                    }
                    return Err(AppError::RateLimited(secs));
                }
                Err(ApiError::Upstream(status)) if status.is_server_error() && self.take_retry() => {
                    tracing::info!(product = target.product.as_str(), status = status.as_u16(), "retrying after a 5xx");
                    tokio::time::sleep(Duration::from_millis(rand::random_range(100..400))).await;
                }
                Ok(value) => return Ok(value),
                Err(err) => return Err(self.api_failed(err).await),
            }
        }
    }

    /// Takes the page's one retry; false when it was spent.
    fn take_retry(&self) -> bool {
        !self.retried.swap(true, Ordering::Relaxed)
    }

    /// The account's waits for this request, read once (concurrent callers share the read). If
    /// Redis cannot say, this process's own memory still holds.
    /// Remembers that Atlassian asked to wait `secs` for `target` (a write's 429, which `call`
    /// hands back as the write's outcome), for every request and instance, as `call` does.
    pub async fn note_wait(&self, target: Target<'_>, secs: u64) {
        let account_id = self.session_data().user.account_id;
        let waits = self.waits(&account_id).await;
        self.rate_limits.note(&account_id, target, secs, waits).await;
    }

    async fn waits(&self, account_id: &str) -> &Mutex<Waits> {
        self.waits
            .get_or_init(|| async {
                match self.rate_limits.read(account_id).await {
                    Ok(waits) => Mutex::new(waits),
                    Err(err) => {
                        tracing::warn!(error = %crate::cause::chain(&err), "cannot read Atlassian's rate limits");
                        Mutex::default()
                    }
                }
            })
            .await
    }

    /// One call with a fresh token; a plain 401 refreshes and calls once more. The outer error is
    /// a failed refresh, already the page to show.
    async fn call_once<T, F, Fut>(&self, call: &F) -> Result<Result<T, ApiError>, AppError>
    where
        F: Fn(web::Data<Atlassian>, SecretString) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let record = match self.refresher.fresh(self.record()).await {
            Ok(record) => record,
            Err(err) => return Err(self.refresh_failed(err).await),
        };
        self.keep(&record);
        let result = match call(self.atlassian.clone(), record.tokens.access_token.clone()).await {
            Err(ApiError::Unauthorized) => {
                let record = match self.refresher.refresh(record).await {
                    Ok(record) => record,
                    Err(err) => return Err(self.refresh_failed(err).await),
                };
                self.keep(&record);
                call(self.atlassian.clone(), record.tokens.access_token.clone()).await
            }
            other => other,
        };
        Ok(result)
    }

    /// The user's sites, read again from Atlassian when the cached list is old.
    pub async fn sites(&self) -> Result<Vec<Site>, AppError> {
        let mut data = self.session_data();
        if unix_now() - data.sites_checked_at <= SITES_TTL_SECS {
            return Ok(data.sites);
        }
        let identity = Target { product: Product::Identity, site: "" };
        data.sites = self.call(identity, |api, token| async move { api.accessible_resources(&token).await }).await?;
        data.sites_checked_at = unix_now();
        self.sessions.save(&self.session, &data)?;
        *self.data.lock().unwrap_or_else(|p| p.into_inner()) = data.clone();
        Ok(data.sites)
    }

    /// The site `raw` names, if it is a cloudId among the user's sites and the grant covers
    /// `product` there; else a 404, with no call to the site.
    pub async fn site(&self, raw: &str, product: Product) -> Result<(CloudId, Site), AppError> {
        let cloud_id = CloudId::parse(raw).ok_or(AppError::NotFound)?;
        let site = self.sites().await?.into_iter().find(|s| s.id == cloud_id.as_str()).ok_or(AppError::NotFound)?;
        let covered = match product {
            Product::Jira => site.has_jira(),
            Product::Confluence => site.has_confluence(),
            Product::Identity => false,
        };
        if covered { Ok((cloud_id, site)) } else { Err(AppError::NotFound) }
    }

    /// After a site answered 404: read the sites again on the next request (it may be gone), once,
    /// unless the list was read in the last [`RECHECK_AFTER_SECS`].
    pub fn recheck_sites(&self) -> Result<(), AppError> {
        let mut data = self.session_data();
        let age = unix_now() - data.sites_checked_at;
        if data.sites_checked_at == 0 || age < RECHECK_AFTER_SECS {
            return Ok(());
        }
        data.sites_checked_at = 0;
        self.sessions.save(&self.session, &data)
    }

    /// The grant is over: this session ends with it.
    async fn grant_ended(&self) {
        self.sessions.grant_ended(&self.session, &self.session_data()).await;
    }

    async fn refresh_failed(&self, err: RefreshError) -> AppError {
        match err {
            RefreshError::GrantEnded(_) => {
                self.grant_ended().await;
                AppError::GrantEnded(err.into())
            }
            RefreshError::Misconfigured => AppError::SignInMisconfigured(err.into()),
            RefreshError::Unavailable(_) => AppError::Unavailable(err.into()),
            RefreshError::Timeout(_) | RefreshError::Failed(_) => AppError::UpstreamFailed(err.into()),
        }
    }

    async fn api_failed(&self, err: ApiError) -> AppError {
        match err {
            // Still 401 with a token fresh from a refresh: the grant no longer works.
            ApiError::Unauthorized => {
                self.grant_ended().await;
                AppError::GrantEnded("the access token was rejected right after a refresh".into())
            }
            ApiError::ScopeMismatch(scope) => AppError::ScopeMissing(scope),
            ApiError::Forbidden => AppError::Forbidden,
            ApiError::NotFound => AppError::NotFound,
            ApiError::RateLimited { retry_after } => {
                AppError::RateLimited(retry_after.unwrap_or(DEFAULT_WAIT_SECS).clamp(1, MAX_WAIT_SECS))
            }
            other @ (ApiError::Upstream(_) | ApiError::Timeout | ApiError::Transport(_) | ApiError::Decode(_)) => {
                AppError::UpstreamFailed(other.into())
            }
        }
    }
}

/// An answer decoded after [`OnBehalf::call`] returned it (to borrow from it): a body that does
/// not decode counts as Atlassian failing, as it does inside `call`.
pub fn decoded<T>(result: Result<T, ApiError>) -> Result<T, AppError> {
    result.map_err(|err| AppError::UpstreamFailed(err.into()))
}

impl OnBehalf {
    /// Ready to call Atlassian for `signed_in`, with the app's client and refresher.
    pub fn new(signed_in: SignedIn, req: &HttpRequest) -> Result<OnBehalf, AppError> {
        let missing = |name: &str| AppError::Internal(anyhow::anyhow!("{name} is not registered"));
        Ok(OnBehalf {
            data: Mutex::new(signed_in.data),
            session: signed_in.session,
            record: Mutex::new(signed_in.record),
            atlassian: req.app_data::<web::Data<Atlassian>>().cloned().ok_or_else(|| missing("Atlassian"))?,
            refresher: req.app_data::<web::Data<Refresher>>().cloned().ok_or_else(|| missing("Refresher"))?,
            sessions: req.app_data::<web::Data<Sessions>>().cloned().ok_or_else(|| missing("Sessions"))?,
            rate_limits: req.app_data::<web::Data<RateLimits>>().cloned().ok_or_else(|| missing("RateLimits"))?,
            waits: tokio::sync::OnceCell::new(),
            retried: AtomicBool::new(false),
            near_limit: Mutex::new(None),
        })
    }
}

impl FromRequest for OnBehalf {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { OnBehalf::new(signed_in.await?, &req) })
    }
}
