//! One GET against the API gateway, and how its answer becomes a typed result or error.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::{ApiError, Atlassian};
use crate::metrics::Product;

impl Atlassian {
    /// GETs `url` as JSON, once: retrying is the caller's decision (`on_behalf.rs` spends at
    /// most one retry per page). `scope` names what the endpoint needs, for the "scope does not
    /// match" page.
    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        token: &SecretString,
        scope: &'static str,
    ) -> Result<T, ApiError> {
        let response = self
            .http
            .get(url.clone())
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| {
                self.metrics.upstream(product_of(url.path()), None);
                classify_transport(err)
            })?;
        let status = response.status();
        let product = product_of(url.path());
        tracing::debug!(status = status.as_u16(), product = product.as_str(), "Atlassian answered");
        self.metrics.upstream(product, Some(status.as_u16()));
        if status.is_success() {
            let bytes = response.bytes().await.map_err(classify_transport)?;
            // One UTF-8 check of the whole body, then a parse that need not check each string
            // again (`from_slice` does, string by string: a few % of a page, per the profile).
            let text = std::str::from_utf8(&bytes).map_err(|err| ApiError::Decode(err.to_string()))?;
            return serde_json::from_str(text).map_err(|err| ApiError::Decode(err.to_string()));
        }
        let headers = response.headers();
        let scope_header =
            headers.get("x-failure-category").is_some_and(|v| v.as_bytes() == b"FAILURE_CLIENT_SCOPE_CHECK");
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response.text().await.unwrap_or_default();
        let scope_mismatch = scope_header || body.contains("scope does not match");
        Err(classify_status(status, scope_mismatch.then_some(scope), retry_after))
    }
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

fn classify_status(status: StatusCode, scope_mismatch: Option<&'static str>, retry_after: Option<u64>) -> ApiError {
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
