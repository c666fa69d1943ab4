//! The life of a consent: authorization code → grant → rotating refresh tokens and
//! short-lived access tokens, with Atlassian's rules for reuse, leeway and revocation.

use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};

use super::state::{AccessToken, Code, Grant, RefreshToken, State};

/// Refresh tokens die after 90 days unused (Atlassian's inactivity expiry).
const REFRESH_IDLE: Duration = Duration::from_secs(90 * 24 * 3600);
/// A grant's refresh tokens die 365 days after consent however often they rotate.
const GRANT_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a successful token request hands out.
pub(crate) struct TokenSet {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
    pub(crate) refresh_token: Option<String>,
}

/// Why a refresh token was refused, as Atlassian words it.
pub(crate) enum Refused {
    /// 403 `invalid_grant` "Unknown or invalid refresh token."
    InvalidGrant,
    /// 403 `unauthorized_client` "refresh_token is invalid": a token of a family that died when a
    /// rotated-out token came back after the leeway (seen in the wild).
    FamilyRevoked,
}

/// Who an access token speaks for.
pub(crate) struct Bearer {
    pub(crate) login: String,
    pub(crate) scopes: Vec<String>,
}

/// An opaque random string whose length varies, so clients cannot assume one.
fn random_secret(min: usize, max: usize) -> String {
    let mut rng = rand::rng();
    let len = rng.random_range(min..=max);
    Alphanumeric.sample_string(&mut rng, len)
}

impl State {
    /// Issues a single-use code bound to the client, callback, user and scopes.
    pub(crate) fn issue_code(&mut self, login: &str, redirect_uri: &str, scopes: &[String]) -> String {
        let code = random_secret(48, 160);
        let record = Code {
            client_id: self.config.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            login: login.to_owned(),
            scopes: scopes.to_vec(),
            expires_at: self.now() + self.config.code_ttl,
            used: false,
            grant: None,
        };
        self.codes.insert(code.clone(), record);
        self.remember_issued(&code);
        code
    }

    /// Exchanges a code. `None` means Atlassian's "Invalid authorization code".
    pub(crate) fn redeem_code(&mut self, code: &str, redirect_uri: &str) -> Option<TokenSet> {
        let now = self.now();
        let client_id = self.config.client_id.clone();
        let record = self.codes.get_mut(code)?;
        if record.used {
            // A replayed code means it leaked: revoke what its first use issued (RFC 6749 §4.1.2).
            if let Some(grant) = record.grant {
                self.revoke(grant);
            }
            return None;
        }
        if now >= record.expires_at || record.redirect_uri != redirect_uri || record.client_id != client_id {
            return None;
        }
        record.used = true;
        let grant = self.grants.len();
        record.grant = Some(grant);
        let (login, scopes) = (record.login.clone(), record.scopes.clone());
        self.grants.push(Grant { login, scopes, created_at: now, revoked: false, reuse_detected: false });
        Some(self.issue_tokens(grant))
    }

    /// Rotates a refresh token.
    pub(crate) fn use_refresh_token(&mut self, token: &str) -> Result<TokenSet, Refused> {
        let now = self.now();
        let leeway = self.config.refresh_leeway;
        let record = self.refresh.get_mut(token).ok_or(Refused::InvalidGrant)?;
        let grant_id = record.grant;
        let grant = self.grants.get(grant_id).ok_or(Refused::InvalidGrant)?;
        if grant.reuse_detected {
            return Err(Refused::FamilyRevoked);
        }
        if grant.revoked || now >= grant.created_at + GRANT_MAX_AGE || now >= record.issued_at + REFRESH_IDLE {
            return Err(Refused::InvalidGrant);
        }
        match record.retired_at {
            // Reuse after the leeway looks like a stolen token: kill the whole family.
            Some(retired) if now > retired + leeway => {
                self.revoke(grant_id);
                if let Some(grant) = self.grants.get_mut(grant_id) {
                    grant.reuse_detected = true;
                }
                return Err(Refused::InvalidGrant);
            }
            Some(_) => {}
            None => record.retired_at = Some(now),
        }
        // The grant's access tokens from before this refresh work on for the leeway only.
        for access in self.access.values_mut().filter(|a| a.grant == grant_id && a.superseded_at.is_none()) {
            access.superseded_at = Some(now);
        }
        Ok(self.issue_tokens(grant_id))
    }

    /// The user behind a live access token, or `None` for unknown, expired or revoked.
    pub(crate) fn bearer(&self, token: &str) -> Option<Bearer> {
        let record = self.access.get(token)?;
        let grant = self.grants.get(record.grant)?;
        let now = self.now();
        let superseded = record.superseded_at.is_some_and(|at| now > at + self.config.refresh_leeway);
        if grant.revoked || now >= record.expires_at || superseded {
            return None;
        }
        Some(Bearer { login: grant.login.clone(), scopes: grant.scopes.clone() })
    }

    fn revoke(&mut self, grant: usize) {
        if let Some(grant) = self.grants.get_mut(grant) {
            grant.revoked = true;
        }
    }

    fn issue_tokens(&mut self, grant_id: usize) -> TokenSet {
        let now: Instant = self.now();
        let ttl = self.config.access_token_ttl;
        // Long and of varying length, like Atlassian's JWT-sized tokens.
        let access_token = random_secret(240, 1100);
        self.access
            .insert(access_token.clone(), AccessToken { grant: grant_id, expires_at: now + ttl, superseded_at: None });
        self.remember_issued(&access_token);
        let scopes = self.grants.get(grant_id).map(|g| g.scopes.clone()).unwrap_or_default();
        let refresh_token = scopes.iter().any(|s| s == "offline_access").then(|| {
            let token = random_secret(180, 420);
            let record = RefreshToken { grant: grant_id, issued_at: now, retired_at: None };
            self.refresh.insert(token.clone(), record);
            self.remember_issued(&token);
            token
        });
        TokenSet { access_token, expires_in: ttl.as_secs(), scope: scopes.join(" "), refresh_token }
    }
}
