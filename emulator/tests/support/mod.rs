//! What the emulator's black-box tests share: an emulator on port 0 with a test client registered,
//! a non-redirecting HTTP client, and the steps of the 3LO flow. The emulator must validate and
//! fail exactly like auth.atlassian.com and api.atlassian.com (threelo's `docs/atlassian.md`).
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;

use reqwest::{Client, Response, StatusCode, redirect::Policy};
use serde_json::Value;
use threelo_emulator::seed::ids::SCOPES;
use threelo_emulator::{ConsentMode, Emulator, EmulatorConfig};
use url::Url;

pub const CLIENT_ID: &str = "test-client-id";
pub const SECRET: &str = "test-client-secret";
pub const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
/// The JQL threelo's issue list sends.
pub const APP_JQL: &str = "assignee = currentUser() AND resolution = Unresolved ORDER BY updated DESC";

pub struct Test {
    pub emu: Emulator,
    pub http: Client,
}

pub async fn spawn() -> Test {
    let config = EmulatorConfig::new(CLIENT_ID, SECRET, CALLBACK);
    let emu = Emulator::start(config, "127.0.0.1:0").await.expect("emulator starts");
    Test { emu, http: client() }
}

/// Like a browser that does not follow redirects, so tests can read `Location`.
pub fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().expect("client")
}

pub fn authorize_url(t: &Test, overrides: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, &str)> = vec![
        ("audience", "api.atlassian.com"),
        ("client_id", CLIENT_ID),
        ("scope", SCOPES),
        ("redirect_uri", CALLBACK),
        ("state", "state-123"),
        ("response_type", "code"),
        ("prompt", "consent"),
    ];
    for (key, value) in overrides {
        params.retain(|(k, _)| k != key);
        if !value.is_empty() || *key == "state" {
            params.push((key, value));
        }
    }
    let mut url = Url::parse(&format!("{}/authorize", t.emu.base_url())).expect("url");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

pub fn location(res: &Response) -> Url {
    let raw = res.headers()["location"].to_str().expect("ascii location");
    Url::parse(raw).expect("absolute location")
}

pub fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

impl Test {
    pub async fn code(&self, login: &str, scopes: &str) -> String {
        self.emu.set_consent(ConsentMode::Accept { login: login.to_owned() });
        let res = self.http.get(authorize_url(self, &[("scope", scopes)])).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FOUND);
        query(&location(&res)).remove("code").expect("code in redirect")
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        let url = format!("{}/oauth/token", self.emu.base_url());
        self.http.post(url).form(form).send().await.expect("send")
    }

    pub async fn exchange(&self, code: &str) -> Response {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs `login` in with `scopes`; returns the token response body.
    pub async fn sign_in(&self, login: &str, scopes: &str) -> Value {
        let code = self.code(login, scopes).await;
        let res = self.exchange(&code).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    pub async fn access_token(&self, login: &str) -> String {
        self.sign_in(login, SCOPES).await["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        let url = format!("{}{path}", self.emu.base_url());
        self.http.get(url).bearer_auth(token).send().await.expect("send")
    }

    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> Response {
        let url = format!("{}{path}", self.emu.base_url());
        self.http.post(url).bearer_auth(token).json(&body).send().await.expect("send")
    }
}

pub async fn body(res: Response) -> Value {
    res.json().await.expect("json body")
}
