//! The authorization code grant with Atlassian, through the `oauth2` crate.
//!
//! Atlassian Cloud does not support PKCE; the client secret goes in the request body.

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use crate::clock::unix_now;
use crate::config::Settings;

/// The tokens Atlassian issued for one grant.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: SecretString,
    /// Present when `offline_access` was granted.
    pub refresh_token: Option<SecretString>,
    /// Unix seconds at which the access token expires.
    pub expires_at: i64,
    /// The scopes Atlassian says it granted.
    pub scopes: Vec<String>,
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Why a code exchange failed, in the terms the callback page needs.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// 401 access_denied from the token endpoint: wrong client id or secret. The operator's problem.
    #[error("the token endpoint rejected our client credentials (check THREELO_CLIENT_ID and THREELO_CLIENT_SECRET)")]
    BadClientCredentials,
    /// The code is bad, used or expired, or the redirect URI differs.
    #[error("the token endpoint rejected the authorization code ({0})")]
    InvalidCode(String),
    #[error("the token endpoint did not answer in time")]
    Timeout,
    /// Anything else: unreachable, 5xx, an answer we cannot read. Never includes the body.
    #[error("the token endpoint failed: {0}")]
    Failed(String),
}

/// OAuth settings and the token-endpoint half of the client.
#[derive(Clone, Debug)]
pub struct OAuth {
    client: Client,
    scopes: Vec<String>,
}

impl OAuth {
    pub(super) fn new(settings: &Settings) -> anyhow::Result<Self> {
        let auth = settings.auth_url.as_str().trim_end_matches('/');
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(settings.client_secret.expose_secret().to_owned()))
            .set_auth_uri(AuthUrl::new(format!("{auth}/authorize"))?)
            .set_token_uri(TokenUrl::new(format!("{auth}/oauth/token"))?)
            .set_redirect_uri(RedirectUrl::new(settings.public_url.callback_url())?)
            .set_auth_type(AuthType::RequestBody);
        Ok(OAuth { client, scopes: settings.scopes.clone() })
    }

    /// The consent-screen URL for a sign-in bound to `state`.
    pub fn authorize_url(&self, state: &str) -> String {
        let state = state.to_owned();
        let (url, _) = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .add_extra_param("audience", "api.atlassian.com")
            .add_extra_param("prompt", "consent")
            .url();
        url.into()
    }

    /// Exchanges a one-time code for tokens.
    pub async fn exchange_code(&self, http: &reqwest::Client, code: &str) -> Result<TokenSet, ExchangeError> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(http)
            .await
            .map_err(classify)?;
        Ok(token_set(&response, &self.scopes))
    }

    /// Trades a refresh token for new tokens. Atlassian rotates refresh tokens: the answer carries
    /// a new one, which must be stored before the new access token is used. `granted` is kept as
    /// the scopes when the answer does not list them.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &SecretString,
        granted: &[String],
    ) -> Result<TokenSet, RefreshFailure> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response =
            self.client.exchange_refresh_token(&token).request_async(http).await.map_err(classify_refresh)?;
        Ok(token_set(&response, granted))
    }
}

/// Why a refresh failed, in the terms the refresh logic needs.
#[derive(Debug, thiserror::Error)]
pub enum RefreshFailure {
    /// `invalid_grant` / `unauthorized_client`: the grant is over; the user must consent again.
    #[error("the refresh token was rejected ({0})")]
    Revoked(String),
    #[error("the token endpoint rejected our client credentials (check THREELO_CLIENT_ID and THREELO_CLIENT_SECRET)")]
    BadClientCredentials,
    /// The request may have reached Atlassian: the old refresh token may already be retired.
    #[error("the refresh's outcome is unknown: {0}")]
    Unknown(String),
    /// Atlassian answered with a failure that did not rotate anything (or it was never reached).
    #[error("the refresh failed: {0}")]
    Failed(String),
}

fn classify_refresh(err: OAuthError) -> RefreshFailure {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant | BasicErrorResponseType::UnauthorizedClient => {
                RefreshFailure::Revoked(response.error().to_string())
            }
            BasicErrorResponseType::Extension(code) if code == "access_denied" => RefreshFailure::BadClientCredentials,
            BasicErrorResponseType::InvalidClient => RefreshFailure::BadClientCredentials,
            other => RefreshFailure::Failed(other.to_string()),
        },
        // Never connected: nothing reached Atlassian, so nothing was rotated.
        RequestTokenError::Request(HttpClientError::Reqwest(err)) if err.is_connect() => {
            RefreshFailure::Failed(format!("cannot connect: {}", err.without_url()))
        }
        RequestTokenError::Request(err) => RefreshFailure::Unknown(err.to_string()),
        RequestTokenError::Parse(err, _body) => RefreshFailure::Failed(format!("unreadable answer at {}", err.path())),
        RequestTokenError::Other(message) => RefreshFailure::Failed(message),
    }
}

fn token_set(response: &BasicTokenResponse, requested: &[String]) -> TokenSet {
    let expires_in = response.expires_in().map_or(3600, |d| d.as_secs().min(i64::MAX as u64) as i64);
    let scopes = match response.scopes() {
        Some(granted) => granted.iter().map(|s| s.to_string()).collect(),
        // RFC 6749: an absent scope means "as requested".
        None => requested.to_vec(),
    };
    TokenSet {
        access_token: SecretString::from(response.access_token().secret().to_owned()),
        refresh_token: response.refresh_token().map(|t| SecretString::from(t.secret().to_owned())),
        expires_at: unix_now().saturating_add(expires_in),
        scopes,
    }
}

type OAuthError = RequestTokenError<HttpClientError<reqwest::Error>, oauth2::basic::BasicErrorResponse>;

fn classify(err: OAuthError) -> ExchangeError {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::Extension(code) if code == "access_denied" => ExchangeError::BadClientCredentials,
            BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                ExchangeError::BadClientCredentials
            }
            other => ExchangeError::InvalidCode(other.to_string()),
        },
        RequestTokenError::Request(HttpClientError::Reqwest(err)) if err.is_timeout() => ExchangeError::Timeout,
        RequestTokenError::Request(err) => ExchangeError::Failed(format!("request failed: {err}")),
        // The body is deliberately dropped: a half-readable answer may still hold a token.
        RequestTokenError::Parse(err, _body) => ExchangeError::Failed(format!("unreadable answer at {}", err.path())),
        RequestTokenError::Other(message) => ExchangeError::Failed(message),
    }
}
