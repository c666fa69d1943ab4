//! Black-box tests of the Atlassian emulator over real HTTP: it must validate and fail
//! exactly like auth.atlassian.com and api.atlassian.com (see shared/ATLASSIAN.md).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use threelo::emulator::{ConsentMode, Emulator, EmulatorConfig, Fault};
use url::Url;

const CLIENT_ID: &str = "test-client-id";
const SECRET: &str = "test-client-secret";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
const ACME: &str = "1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c";
const BETA: &str = "7a9b3c5d-1e2f-4a6b-8c0d-9e8f7a6b5c4d";
const SCOPES: &str =
    "read:me read:jira-work read:jira-user read:space:confluence read:page:confluence offline_access";
const APP_JQL: &str = "assignee = currentUser() AND resolution = Unresolved ORDER BY updated DESC";
/// ACME issues assigned to alice, unresolved and not restricted (see the emulator's seed).
const ALICE_OPEN_ON_ACME: usize = 163;

struct Test {
    emu: Emulator,
    http: Client,
}

async fn spawn() -> Test {
    let config = EmulatorConfig::new(CLIENT_ID, SECRET, CALLBACK);
    let emu = Emulator::start(config, "127.0.0.1:0").await.expect("emulator starts");
    // Like a browser that does not follow redirects, so tests can read `Location`.
    let http = Client::builder().redirect(Policy::none()).build().expect("client");
    Test { emu, http }
}

fn authorize_url(t: &Test, overrides: &[(&str, &str)]) -> String {
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

fn location(res: &Response) -> Url {
    let raw = res.headers()["location"].to_str().expect("ascii location");
    Url::parse(raw).expect("absolute location")
}

fn query(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

impl Test {
    async fn code(&self, login: &str, scopes: &str) -> String {
        self.emu.set_consent(ConsentMode::Accept { login: login.to_owned() });
        let res = self.http.get(authorize_url(self, &[("scope", scopes)])).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::FOUND);
        query(&location(&res)).remove("code").expect("code in redirect")
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        let url = format!("{}/oauth/token", self.emu.base_url());
        self.http.post(url).form(form).send().await.expect("send")
    }

    async fn exchange(&self, code: &str) -> Response {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Signs `login` in with `scopes`; returns the token response body.
    async fn sign_in(&self, login: &str, scopes: &str) -> Value {
        let code = self.code(login, scopes).await;
        let res = self.exchange(&code).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("json")
    }

    async fn access_token(&self, login: &str) -> String {
        self.sign_in(login, SCOPES).await["access_token"].as_str().expect("token").to_owned()
    }

    async fn get(&self, token: &str, path: &str) -> Response {
        let url = format!("{}{path}", self.emu.base_url());
        self.http.get(url).bearer_auth(token).send().await.expect("send")
    }

    async fn post_json(&self, token: &str, path: &str, body: Value) -> Response {
        let url = format!("{}{path}", self.emu.base_url());
        self.http.post(url).bearer_auth(token).json(&body).send().await.expect("send")
    }
}

async fn body(res: Response) -> Value {
    res.json().await.expect("json body")
}

// ---- /authorize -------------------------------------------------------------------

#[tokio::test]
async fn authorize_with_an_unknown_client_id_is_a_400_page_and_never_redirects() {
    let t = spawn().await;
    let res = t.http.get(authorize_url(&t, &[("client_id", "someone-else")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("client_id"));
}

#[tokio::test]
async fn authorize_with_a_redirect_uri_that_differs_by_one_byte_is_a_400_page_without_redirect() {
    let t = spawn().await;
    for bad in [
        "http://127.0.0.1:9/auth/callback/",
        "http://127.0.0.1:9/auth/Callback",
        "http://localhost:9/auth/callback",
        "https://127.0.0.1:9/auth/callback",
    ] {
        let res = t.http.get(authorize_url(&t, &[("redirect_uri", bad)])).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.headers().get("location").is_none(), "{bad}");
    }
    t.emu.add_redirect_uri("http://127.0.0.1:9/auth/callback/");
    t.emu.set_consent(ConsentMode::Cancel);
    let url = authorize_url(&t, &[("redirect_uri", "http://127.0.0.1:9/auth/callback/")]);
    assert_eq!(t.http.get(url).send().await.unwrap().status(), StatusCode::FOUND);
}

#[tokio::test]
async fn authorize_rejects_a_wrong_audience_unknown_scope_missing_state_or_response_type() {
    let t = spawn().await;
    t.emu.set_consent(ConsentMode::Accept { login: "alice".into() });
    for overrides in [
        vec![("audience", "api.example.com")],
        vec![("audience", "")],
        vec![("scope", "read:me read:everything")],
        vec![("scope", "")],
        vec![("state", "")],
        vec![("response_type", "token")],
    ] {
        let res = t.http.get(authorize_url(&t, &overrides)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{overrides:?}");
        assert!(res.headers().get("location").is_none(), "{overrides:?}");
    }
    let duplicated = format!("{}&redirect_uri=http%3A%2F%2Fevil.example%2F", authorize_url(&t, &[]));
    assert_eq!(t.http.get(duplicated).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

/// The hidden and checked inputs of the consent form, HTML entities decoded.
fn form_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        let pairs = [("&#34;", "\""), ("&#39;", "'"), ("&#60;", "<"), ("&#62;", ">"), ("&quot;", "\"")];
        let s = pairs.iter().fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to));
        s.replace("&#38;", "&").replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(unescape(&tag[start..start + len]))
    };
    html.split("<input").skip(1).filter(|tag| tag.contains("type=\"hidden\"")).filter_map(|tag| {
        Some((attr(tag, "name")?, attr(tag, "value")?))
    }).collect()
}

#[tokio::test]
async fn manual_consent_page_lists_users_and_scopes_and_accept_returns_code_and_exact_state() {
    let t = spawn().await;
    let state = "s/t+a te&x=<1>";
    let res = t.http.get(authorize_url(&t, &[("state", state)])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for expected in ["Alice Example", "Bob Builder", "Carol Nosites", CLIENT_ID, "View Jira issues",
        "action=\"/authorize/decision\"", "value=\"accept\"", "value=\"cancel\""] {
        assert!(html.contains(expected), "consent page lacks {expected}");
    }
    assert!(!html.contains("<1>"), "state must be escaped in the page");
    let mut form = form_fields(&html);
    assert!(form.contains(&("state".to_owned(), state.to_owned())));
    form.push(("login".into(), "bob".into()));
    form.push(("decision".into(), "accept".into()));
    let url = format!("{}/authorize/decision", t.emu.base_url());
    let res = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = location(&res);
    assert!(back.as_str().starts_with(CALLBACK));
    let params = query(&back);
    assert_eq!(params["state"], state);
    let tokens = t.exchange(&params["code"]).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let token = body(tokens).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body(t.get(&token, "/me").await).await["name"], "Bob Builder");
}

#[tokio::test]
async fn cancel_on_the_consent_page_returns_access_denied_with_atlassians_encoding() {
    let t = spawn().await;
    let html = t.http.get(authorize_url(&t, &[])).send().await.unwrap().text().await.unwrap();
    let mut form = form_fields(&html);
    form.push(("decision".into(), "cancel".into()));
    let url = format!("{}/authorize/decision", t.emu.base_url());
    let res = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let raw = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(raw.contains("error=access_denied"), "{raw}");
    assert!(raw.contains("error_description=User%20did%20not%20authorize%20the%20request"), "{raw}");
    assert!(!query(&location(&res)).contains_key("code"));
    assert_eq!(query(&location(&res))["state"], "state-123");
}

#[tokio::test]
async fn a_decision_with_an_unknown_login_or_tampered_redirect_is_rejected() {
    let t = spawn().await;
    let html = t.http.get(authorize_url(&t, &[])).send().await.unwrap().text().await.unwrap();
    let url = format!("{}/authorize/decision", t.emu.base_url());
    let mut form = form_fields(&html);
    form.push(("login".into(), "mallory".into()));
    form.push(("decision".into(), "accept".into()));
    let res = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let mut form = form_fields(&html);
    form.retain(|(k, _)| k != "redirect_uri");
    form.push(("redirect_uri".into(), "http://evil.example/cb".into()));
    form.push(("login".into(), "alice".into()));
    form.push(("decision".into(), "accept".into()));
    let res = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none());
}

#[tokio::test]
async fn cancel_mode_redirects_at_once_with_access_denied() {
    let t = spawn().await;
    t.emu.set_consent(ConsentMode::Cancel);
    let res = t.http.get(authorize_url(&t, &[])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(query(&location(&res))["error"], "access_denied");
}

// ---- /oauth/token -----------------------------------------------------------------

#[tokio::test]
async fn a_code_exchanges_with_a_form_body_a_json_body_or_basic_auth() {
    let t = spawn().await;
    let code = t.code("alice", SCOPES).await;
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens = body(res).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], SCOPES);
    assert!(tokens["access_token"].as_str().unwrap().len() >= 200);
    assert!(tokens["refresh_token"].as_str().is_some());

    let code = t.code("alice", SCOPES).await;
    let url = format!("{}/oauth/token", t.emu.base_url());
    let json_body = json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
        "client_secret": SECRET, "code": code, "redirect_uri": CALLBACK});
    let res = t.http.post(&url).json(&json_body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let code = t.code("alice", SCOPES).await;
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)];
    let res = t.http.post(&url).basic_auth(CLIENT_ID, Some(SECRET)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_client_secret_is_401_access_denied_not_a_user_refusal() {
    let t = spawn().await;
    let code = t.code("alice", SCOPES).await;
    let res = t.token_request(&[("grant_type", "authorization_code"), ("client_id", CLIENT_ID),
        ("client_secret", "wrong"), ("code", &code), ("redirect_uri", CALLBACK)]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(res).await, json!({"error": "access_denied", "error_description": "Unauthorized"}));
    assert_eq!(t.exchange(&code).await.status(), StatusCode::OK, "a failed client auth must not burn the code");
}

#[tokio::test]
async fn a_code_works_once_and_replaying_it_revokes_what_it_issued() {
    let t = spawn().await;
    let code = t.code("alice", SCOPES).await;
    let first = body(t.exchange(&code).await).await;
    let replay = t.exchange(&code).await;
    assert_eq!(replay.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(replay).await,
        json!({"error": "invalid_grant", "error_description": "Invalid authorization code"}));
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/me").await.status(), StatusCode::UNAUTHORIZED);
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(t.refresh(refresh).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_expired_code_or_another_redirect_uri_is_invalid_grant() {
    let t = spawn().await;
    let code = t.code("alice", SCOPES).await;
    t.emu.advance_clock(Duration::from_secs(301));
    assert_eq!(t.exchange(&code).await.status(), StatusCode::FORBIDDEN);

    t.emu.add_redirect_uri("http://127.0.0.1:9/other");
    let code = t.code("alice", SCOPES).await;
    let res = t.token_request(&[("grant_type", "authorization_code"), ("client_id", CLIENT_ID),
        ("client_secret", SECRET), ("code", &code), ("redirect_uri", "http://127.0.0.1:9/other")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body(res).await["error"], "invalid_grant");
    assert_eq!(t.exchange("not-a-code").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn token_requests_missing_grant_type_or_params_are_400() {
    let t = spawn().await;
    let creds = [("client_id", CLIENT_ID), ("client_secret", SECRET)];
    let res = t.token_request(&creds).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(res).await["error"], "invalid_request");
    let res = t.token_request(&[creds[0], creds[1], ("grant_type", "password")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(res).await["error"], "unsupported_grant_type");
    let res = t.token_request(&[creds[0], creds[1], ("grant_type", "authorization_code")]).await;
    assert_eq!(body(res).await["error"], "invalid_request");
    let url = format!("{}/oauth/token", t.emu.base_url());
    let res = t.http.post(url).header("content-type", "application/json").body("{oops").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let t = spawn().await;
    let tokens = t.sign_in("alice", "read:me read:jira-work").await;
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(tokens["scope"], "read:me read:jira-work");
}
