//! Calling Atlassian on the signed-in user's behalf: a fresh access token for every call (refreshed
//! at most once, see `tokens::refresh`), one retry after a plain 401, the user's sites cached in the
//! session, and every failure turned into the page the user should see.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use secrecy::SecretString;

use crate::atlassian::{ApiError, Atlassian, Site};
use crate::auth::{Current, SignedInUser};
use crate::clock::unix_now;
use crate::error::AppError;
use crate::ids::CloudId;
use crate::session::{AppSession, SignedIn};
use crate::session_index::SessionIndex;
use crate::tokens::{RefreshError, Refresher, TokenRecord};

/// Sites are read again from accessible-resources when older than this.
const SITES_TTL_SECS: i64 = 300;

/// The Atlassian products threelo shows.
#[derive(Clone, Copy, Debug)]
pub enum Product {
    Jira,
    Confluence,
}

/// Extractor: the signed-in user, ready to call Atlassian for them.
pub struct OnBehalf {
    signed_in: Mutex<SignedIn>,
    session: actix_session::Session,
    record: Mutex<TokenRecord>,
    atlassian: web::Data<Atlassian>,
    refresher: web::Data<Refresher>,
    index: web::Data<SessionIndex>,
}

impl OnBehalf {
    /// Who is signed in (as of the last change this request made).
    pub fn signed_in(&self) -> SignedIn {
        self.signed_in.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self) -> TokenRecord {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn keep(&self, record: &TokenRecord) {
        *self.record.lock().unwrap_or_else(|p| p.into_inner()) = record.clone();
    }

    /// Runs `call` with the client and a fresh access token; after a plain 401 (not a scope
    /// mismatch), refreshes once and runs it once more.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, AppError>
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
        match result {
            Ok(value) => Ok(value),
            Err(err) => Err(self.api_failed(err).await),
        }
    }

    /// The user's sites, read again from Atlassian when the cached list is old.
    pub async fn sites(&self) -> Result<Vec<Site>, AppError> {
        let mut signed_in = self.signed_in();
        if unix_now() - signed_in.sites_checked_at <= SITES_TTL_SECS {
            return Ok(signed_in.sites);
        }
        signed_in.sites = self.call(|api, token| async move { api.accessible_resources(&token).await }).await?;
        signed_in.sites_checked_at = unix_now();
        AppSession(&self.session).update(&signed_in)?;
        *self.signed_in.lock().unwrap_or_else(|p| p.into_inner()) = signed_in.clone();
        Ok(signed_in.sites)
    }

    /// The site `raw` names, if it is a cloudId among the user's sites and the grant covers
    /// `product` there; else a 404, with no call to the site.
    pub async fn site(&self, raw: &str, product: Product) -> Result<(CloudId, Site), AppError> {
        let cloud_id = CloudId::parse(raw).ok_or(AppError::NotFound)?;
        let site = self.sites().await?.into_iter().find(|s| s.id == cloud_id.as_str()).ok_or(AppError::NotFound)?;
        let covered = match product {
            Product::Jira => site.has_jira(),
            Product::Confluence => site.has_confluence(),
        };
        if covered { Ok((cloud_id, site)) } else { Err(AppError::NotFound) }
    }

    /// After a site answered 404: read the sites again on the next request (it may be gone).
    pub fn recheck_sites(&self) -> Result<(), AppError> {
        let mut signed_in = self.signed_in();
        signed_in.sites_checked_at = 0;
        AppSession(&self.session).update(&signed_in)
    }

    /// The grant is over: this session ends with it.
    async fn end_session(&self) {
        let signed_in = self.signed_in();
        AppSession(&self.session).forget_user();
        // Best effort: listing skips sessions whose record is gone, and the entry expires anyway.
        let _ = self.index.remove(&signed_in.user.account_id, signed_in.token_record).await;
    }

    async fn refresh_failed(&self, err: RefreshError) -> AppError {
        match err {
            RefreshError::GrantEnded(why) => {
                self.end_session().await;
                AppError::GrantEnded(why)
            }
            RefreshError::Misconfigured => AppError::SignInMisconfigured(err.to_string()),
            RefreshError::Unavailable(why) => AppError::Unavailable(why),
            RefreshError::Timeout(why) | RefreshError::Failed(why) => AppError::UpstreamFailed(why),
        }
    }

    async fn api_failed(&self, err: ApiError) -> AppError {
        match err {
            // Still 401 with a token fresh from a refresh: the grant no longer works.
            ApiError::Unauthorized => {
                self.end_session().await;
                AppError::GrantEnded("the access token was rejected right after a refresh".to_owned())
            }
            ApiError::ScopeMismatch(scope) => AppError::ScopeMissing(scope),
            ApiError::Forbidden => AppError::Forbidden,
            ApiError::NotFound => AppError::NotFound,
            ApiError::RateLimited { retry_after } => AppError::RateLimited(retry_after.unwrap_or(30).clamp(1, 3600)),
            other @ (ApiError::Upstream(_) | ApiError::Timeout | ApiError::Transport(_) | ApiError::Decode(_)) => {
                AppError::UpstreamFailed(other.to_string())
            }
        }
    }
}

impl OnBehalf {
    /// Ready to call Atlassian for `current`, with the app's client and refresher.
    pub fn new(current: Current, req: &HttpRequest) -> Result<OnBehalf, AppError> {
        let missing = |name: &str| AppError::Internal(anyhow::anyhow!("{name} is not registered"));
        Ok(OnBehalf {
            signed_in: Mutex::new(current.signed_in),
            session: current.session,
            record: Mutex::new(current.record),
            atlassian: req.app_data::<web::Data<Atlassian>>().cloned().ok_or_else(|| missing("Atlassian"))?,
            refresher: req.app_data::<web::Data<Refresher>>().cloned().ok_or_else(|| missing("Refresher"))?,
            index: req.app_data::<web::Data<SessionIndex>>().cloned().ok_or_else(|| missing("SessionIndex"))?,
        })
    }
}

impl FromRequest for OnBehalf {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = SignedInUser::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move { OnBehalf::new(user.await?.0, &req) })
    }
}
