//! One GET against the API gateway, and how its answer becomes a typed result or error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use url::Url;

use super::limits::{asked_wait, says_near_limit};
use super::{ApiError, Atlassian};
use crate::metrics::{Metrics, Product};
use crate::scopes::Need;

/// GETs under way, by URL and (a hash of) the token: concurrent identical GETs for the same user,
/// such as two tabs loading the dashboard, share one upstream call. Shared by every worker's
/// client; an entry lives only while its call runs.
#[derive(Clone, Default)]
pub(crate) struct GetsInFlight(Arc<Mutex<HashMap<GetKey, SharedGet>>>);

/// The URL and the SHA-256 of the access token.
type GetKey = (String, [u8; 32]);
type SharedGet = Shared<BoxFuture<'static, Result<Got, ApiError>>>;

/// A 2xx answer's body, and whether it said the quota is nearly spent.
#[derive(Clone)]
struct Got {
    body: Bytes,
    near_limit: bool,
}

impl std::fmt::Debug for GetsInFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GetsInFlight")
    }
}

impl Atlassian {
    /// GETs `url` as JSON, once: retrying is the caller's decision (`on_behalf.rs` spends at
    /// most one retry per page). `need` is what the endpoint asks of the grant, for the "scope
    /// does not match" page. An identical GET already under way for the same token is joined, not repeated.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        token: &SecretString,
        need: &'static Need,
    ) -> Result<T, ApiError> {
        let bytes = self.get_bytes(url, token, need).await?;
        // One UTF-8 check of the whole body, then a parse that need not check each string
        // again (`from_slice` does, string by string: a few % of a page, per the profile).
        let text = std::str::from_utf8(&bytes).map_err(|err| ApiError::Decode(err.to_string()))?;
        serde_json::from_str(text).map_err(|err| ApiError::Decode(err.to_string()))
    }

    /// GETs `url` as [`Atlassian::get_json`] does, and leaves the decoding to the caller (who
    /// may borrow from the body).
    pub(super) async fn get_bytes(
        &self,
        url: Url,
        token: &SecretString,
        need: &'static Need,
    ) -> Result<Bytes, ApiError> {
        let got = self.shared_get(url, token, need).await?;
        if got.near_limit {
            // Every caller of a shared GET got the same answer, so each page hears of it.
            super::limits::mark_near_limit();
        }
        Ok(got.body)
    }

    async fn shared_get(&self, url: Url, token: &SecretString, need: &'static Need) -> Result<Got, ApiError> {
        let key = (url.as_str().to_owned(), Sha256::digest(token.expose_secret().as_bytes()).into());
        let shared = {
            let mut in_flight = self.gets.0.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&key) {
                Some(running) => running.clone(),
                None => {
                    let (http, metrics, token, gets) =
                        (self.http.clone(), self.metrics.clone(), token.clone(), self.gets.clone());
                    let entry = key.clone();
                    let future = async move {
                        let answer = fetch(&http, &metrics, url, &token, need).await;
                        gets.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&entry);
                        answer
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, future.clone());
                    future
                }
            }
        };
        shared.await
    }
}

/// One GET: the body of a 2xx answer (with its near-limit mark), or the typed error of any other.
async fn fetch(
    http: &reqwest::Client,
    metrics: &Metrics,
    url: Url,
    token: &SecretString,
    need: &'static Need,
) -> Result<Got, ApiError> {
    let product = product_of(url.path());
    let response = http
        .get(url)
        .bearer_auth(token.expose_secret())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|err| {
            metrics.upstream(product, None);
            classify_transport(err)
        })?;
    let status = response.status();
    tracing::debug!(status = status.as_u16(), product = product.as_str(), "Atlassian answered");
    metrics.upstream(product, Some(status.as_u16()));
    if status.is_success() {
        let near_limit = says_near_limit(response.headers());
        let body = response.bytes().await.map_err(classify_transport)?;
        return Ok(Got { body, near_limit });
    }
    let headers = response.headers();
    let scope_header = headers.get("x-failure-category").is_some_and(|v| v.as_bytes() == b"FAILURE_CLIENT_SCOPE_CHECK");
    let retry_after = asked_wait(status, headers, time::OffsetDateTime::now_utc());
    let body = response.text().await.unwrap_or_default();
    let scope_mismatch = scope_header || body.contains("scope does not match");
    Err(classify_status(status, scope_mismatch.then_some(need), retry_after))
}

/// Which product a gateway path belongs to, for metrics.
fn product_of(path: &str) -> Product {
    if path.contains("/ex/jira/") {
        Product::Jira
    } else if path.contains("/ex/confluence/") {
        Product::Confluence
    } else {
        Product::Identity
    }
}

fn classify_transport(err: reqwest::Error) -> ApiError {
    if err.is_timeout() {
        ApiError::Timeout
    } else {
        // `without_url`: URLs carry ids we keep out of messages.
        ApiError::Transport(err.without_url().to_string())
    }
}

fn classify_status(status: StatusCode, scope_mismatch: Option<&'static Need>, retry_after: Option<u64>) -> ApiError {
    match (status, scope_mismatch) {
        (StatusCode::UNAUTHORIZED, Some(scope)) => ApiError::ScopeMismatch(scope),
        (StatusCode::UNAUTHORIZED, None) => ApiError::Unauthorized,
        (StatusCode::FORBIDDEN, _) => ApiError::Forbidden,
        (StatusCode::NOT_FOUND | StatusCode::GONE, _) => ApiError::NotFound,
        (StatusCode::TOO_MANY_REQUESTS, _) => ApiError::RateLimited { retry_after },
        (StatusCode::SERVICE_UNAVAILABLE, _) if retry_after.is_some() => ApiError::RateLimited { retry_after },
        (other, _) => ApiError::Upstream(other),
    }
}
