//! Every call threelo makes to Atlassian: one HTTP client (rustls, timeouts, no redirects, pooled
//! keep-alive), typed methods per endpoint, typed errors.

mod oauth;
mod types;

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

pub use oauth::{ExchangeError, OAuth};
pub use types::{Me, Site};

use crate::config::Settings;

/// Why an API call failed, in the terms a page needs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 Unauthorized: the access token is expired, unknown or revoked.
    #[error("Atlassian rejected the access token")]
    Unauthorized,
    /// 401 "scope does not match": a configuration or consent problem; refreshing will not help.
    #[error("the granted scopes do not allow this call")]
    ScopeMismatch,
    #[error("Atlassian says this account may not see it")]
    Forbidden,
    #[error("Atlassian says it does not exist")]
    NotFound,
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
}

impl Atlassian {
    /// Builds the client from configuration. Fails only if the TLS backend cannot start.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // A redirecting token endpoint could hand us a forged token: never follow.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(settings.upstream_timeout))
            .timeout(settings.upstream_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("threelo/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let oauth = OAuth::new(settings)?;
        Ok(Atlassian {
            http,
            api_url: settings.api_url.clone(),
            oauth,
        })
    }

    /// The OAuth half: authorize URL and token exchange.
    pub fn oauth(&self) -> &OAuth {
        &self.oauth
    }

    /// The HTTP client (shared with the OAuth calls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn api(&self, path: &str) -> String {
        format!("{}{}", self.api_url.as_str().trim_end_matches('/'), path)
    }

    /// `GET /me`: who the user is.
    pub async fn me(&self, token: &SecretString) -> Result<Me, ApiError> {
        self.get_json(&self.api("/me"), token).await
    }

    /// `GET /oauth/token/accessible-resources`: the sites the grant covers.
    pub async fn accessible_resources(&self, token: &SecretString) -> Result<Vec<Site>, ApiError> {
        self.get_json(&self.api("/oauth/token/accessible-resources"), token)
            .await
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str, token: &SecretString) -> Result<T, ApiError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify_transport)?;
        let status = response.status();
        if status.is_success() {
            return response
                .json()
                .await
                .map_err(|err| ApiError::Decode(err.without_url().to_string()));
        }
        let scope_header = response
            .headers()
            .get("x-failure-category")
            .is_some_and(|v| v.as_bytes() == b"FAILURE_CLIENT_SCOPE_CHECK");
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let body = response.text().await.unwrap_or_default();
        Err(classify_status(
            status,
            scope_header || body.contains("scope does not match"),
            retry_after,
        ))
    }
}

fn classify_transport(err: reqwest::Error) -> ApiError {
    if err.is_timeout() {
        ApiError::Timeout
    } else {
        // `without_url`: URLs can carry identifiers we do not want in logs.
        ApiError::Transport(err.without_url().to_string())
    }
}

fn classify_status(status: StatusCode, scope_mismatch: bool, retry_after: Option<u64>) -> ApiError {
    match status {
        StatusCode::UNAUTHORIZED if scope_mismatch => ApiError::ScopeMismatch,
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
        StatusCode::FORBIDDEN => ApiError::Forbidden,
        StatusCode::NOT_FOUND | StatusCode::GONE => ApiError::NotFound,
        StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited { retry_after },
        other => ApiError::Upstream(other),
    }
}
