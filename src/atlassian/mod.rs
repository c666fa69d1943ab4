//! Every call threelo makes to Atlassian: one client type (rustls, timeouts, no redirects, pooled
//! keep-alive; one instance per worker thread for pages), typed methods per endpoint, typed errors.

mod confluence;
mod get;
mod jira;
mod limits;
mod oauth;
mod types;
mod work;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use url::Url;

pub use confluence::{PageBody, Space, SpacePage};
pub use jira::{IssueDetail, IssueFields, IssueSummary, ListFields, SearchAnswer, SearchPage};
pub use limits::{asked_wait, says_near_limit, watching_near_limit};
pub use oauth::{ExchangeError, OAuth, RefreshFailure, TokenSet};
pub use types::{Me, Site, merge_sites};
pub use work::{Comment, PageHit, PageHits, Transition, WriteRefusal, WriteResult};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::scopes::{self, Need};

/// Why an API call failed, in the terms a page needs.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 Unauthorized: the access token is expired, unknown or revoked.
    #[error("Atlassian rejected the access token")]
    Unauthorized,
    /// 401 "scope does not match": a configuration or consent problem; refreshing will not help.
    /// Carries what the endpoint needs.
    #[error("the granted scopes do not include {0}")]
    ScopeMismatch(&'static Need),
    #[error("Atlassian says this account may not see it")]
    Forbidden,
    #[error("Atlassian says it does not exist")]
    NotFound,
    /// 429, or 503 with a wait, still so after the allowed retries; `retry_after` is the wait
    /// Atlassian asked for (`Retry-After`, else until `X-RateLimit-Reset`).
    #[error("Atlassian asked us to slow down (retry after {retry_after:?} s)")]
    RateLimited { retry_after: Option<u64> },
    #[error("Atlassian answered {0}")]
    Upstream(StatusCode),
    #[error("Atlassian did not answer in time")]
    Timeout,
    #[error("could not reach Atlassian: {0}")]
    Transport(String),
    #[error("Atlassian's answer could not be read: {0}")]
    Decode(String),
}

/// The client for Atlassian's auth server and API gateway.
#[derive(Clone, Debug)]
pub struct Atlassian {
    http: reqwest::Client,
    api_url: Url,
    oauth: OAuth,
    metrics: Arc<Metrics>,
    gets: get::GetsInFlight,
}

impl Atlassian {
    /// Builds the client from configuration. Fails only if the TLS backend cannot start.
    pub fn new(settings: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // A redirecting token endpoint could hand us a forged token: never follow.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(settings.upstream_timeout))
            .timeout(settings.upstream_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("threelo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let oauth = OAuth::new(settings)?;
        Ok(Atlassian { http, api_url: settings.api_url.clone(), oauth, metrics, gets: Default::default() })
    }

    /// This client, joining GETs under way with `other`'s (each worker has a client of its own).
    pub fn sharing_gets_with(mut self, other: &Atlassian) -> Atlassian {
        self.gets = other.gets.clone();
        self
    }

    /// The OAuth half: authorize URL, code exchange and refresh.
    pub fn oauth(&self) -> &OAuth {
        &self.oauth
    }

    /// The process's metrics (shared with the refresher).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The HTTP client (shared with the OAuth calls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// An API URL from path segments (each percent-encoded) and query pairs.
    fn api(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.api_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// `GET /me`: who the user is.
    pub async fn me(&self, token: &SecretString) -> Result<Me, ApiError> {
        self.get_json(self.api(&["me"], &[]), token, &scopes::ME).await
    }

    /// `GET /oauth/token/accessible-resources`: the sites the grant covers, one entry per site
    /// (Atlassian may list a site once per product; see [`merge_sites`]).
    pub async fn accessible_resources(&self, token: &SecretString) -> Result<Vec<Site>, ApiError> {
        let url = self.api(&["oauth", "token", "accessible-resources"], &[]);
        self.get_json(url, token, &scopes::SITES).await.map(merge_sites)
    }
}
