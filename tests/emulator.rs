//! Black-box tests of the Atlassian emulator over real HTTP: it must validate and fail
//! exactly like auth.atlassian.com and api.atlassian.com (see shared/ATLASSIAN.md).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use threelo_emulator::{ConsentMode, Emulator, EmulatorConfig, Fault};
use url::Url;

const CLIENT_ID: &str = "test-client-id";
const SECRET: &str = "test-client-secret";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
const ACME: &str = "1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c";
const BETA: &str = "7a9b3c5d-1e2f-4a6b-8c0d-9e8f7a6b5c4d";
const SCOPES: &str = "read:me read:jira-work read:jira-user read:space:confluence read:page:confluence offline_access";
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
    html.split("<input")
        .skip(1)
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect()
}

#[tokio::test]
async fn manual_consent_page_lists_users_and_scopes_and_accept_returns_code_and_exact_state() {
    let t = spawn().await;
    let state = "s/t+a te&x=<1>";
    let res = t.http.get(authorize_url(&t, &[("state", state)])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for expected in [
        "Alice Example",
        "Bob Builder",
        "Carol Nosites",
        CLIENT_ID,
        "View Jira issues",
        "action=\"/authorize/decision\"",
        "value=\"accept\"",
        "value=\"cancel\"",
    ] {
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
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .await;
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
    assert_eq!(
        body(replay).await,
        json!({"error": "invalid_grant", "error_description": "Invalid authorization code"})
    );
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
    let res = t
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ])
        .await;
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

// ---- refresh rotation --------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_both_tokens_and_the_old_refresh_token_still_works_within_the_leeway() {
    let t = spawn().await;
    let first = t.sign_in("alice", SCOPES).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = body(t.refresh(r1).await).await;
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(second["scope"], SCOPES);
    t.emu.advance_clock(Duration::from_secs(599));
    assert_eq!(t.refresh(r1).await.status(), StatusCode::OK, "retired token inside the leeway");
    assert_eq!(t.refresh(r2).await.status(), StatusCode::OK);
    assert_eq!(t.emu.token_grants("refresh_token"), 3);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_after_the_leeway_revokes_the_whole_grant() {
    let t = spawn().await;
    let first = t.sign_in("alice", SCOPES).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = body(t.refresh(r1).await).await;
    let r2 = second["refresh_token"].as_str().unwrap();
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(t.get(access, "/me").await.status(), StatusCode::OK);
    t.emu.advance_clock(Duration::from_secs(601));
    let res = t.refresh(r1).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(res).await,
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
    assert_eq!(t.refresh(r2).await.status(), StatusCode::FORBIDDEN, "the newest token dies too");
    assert_eq!(t.get(access, "/me").await.status(), StatusCode::UNAUTHORIZED);
    // A new consent starts a new, working grant.
    let fresh = t.sign_in("alice", SCOPES).await;
    assert_eq!(t.refresh(fresh["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_leeway_knob_shortens_the_grace_period() {
    let t = spawn().await;
    t.emu.set_refresh_leeway(Duration::from_secs(5));
    let r1 = t.sign_in("alice", SCOPES).await["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(t.refresh(&r1).await.status(), StatusCode::OK);
    t.emu.advance_clock(Duration::from_secs(6));
    assert_eq!(t.refresh(&r1).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expired_access_tokens_answer_401_and_refreshing_gets_a_working_one() {
    let t = spawn().await;
    t.emu.set_access_token_ttl(Duration::from_secs(60));
    let tokens = t.sign_in("alice", SCOPES).await;
    assert_eq!(tokens["expires_in"], 60);
    let access = tokens["access_token"].as_str().unwrap();
    t.emu.advance_clock(Duration::from_secs(61));
    let res = t.get(access, "/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(res).await, json!({"code": 401, "message": "Unauthorized"}));
    let renewed = body(t.refresh(tokens["refresh_token"].as_str().unwrap()).await).await;
    let fresh = renewed["access_token"].as_str().unwrap();
    assert_eq!(t.get(fresh, "/me").await.status(), StatusCode::OK);
    t.emu.expire_access_tokens();
    assert_eq!(t.get(fresh, "/me").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_a_users_grants_kills_their_tokens_but_not_other_users() {
    let t = spawn().await;
    let alice = t.sign_in("alice", SCOPES).await;
    let bob = t.access_token("bob").await;
    t.emu.revoke_grants("alice");
    assert_eq!(t.get(alice["access_token"].as_str().unwrap(), "/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.refresh(alice["refresh_token"].as_str().unwrap()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.get(&bob, "/me").await.status(), StatusCode::OK);
}

// ---- gateway ------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_scope_is_401_scope_does_not_match_with_the_failure_category_header() {
    let t = spawn().await;
    let token = t.sign_in("alice", "read:jira-work").await["access_token"].as_str().unwrap().to_owned();
    let res = t.get(&token, "/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    assert_eq!(body(res).await, json!({"code": 401, "message": "Unauthorized; scope does not match"}));
    let res = t.get(&token, &format!("/ex/confluence/{ACME}/wiki/api/v2/spaces")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    let res = t.get(&token, &format!("/ex/jira/{ACME}/rest/api/3/myself")).await;
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    let res = t.get("garbage", "/me").await;
    assert!(res.headers().get("x-failure-category").is_none());
    assert_eq!(t.http.get(format!("{}/me", t.emu.base_url())).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn me_returns_the_signed_in_users_atlassian_profile() {
    let t = spawn().await;
    let me = body(t.get(&t.access_token("alice").await, "/me").await).await;
    let alice = Emulator::users().iter().find(|u| u.login == "alice").unwrap();
    assert_eq!(me["account_id"], alice.account_id);
    assert!(alice.account_id.starts_with("712020:"));
    assert_eq!(me["name"], "Alice Example");
    assert_eq!(me["email"], alice.email);
    assert_eq!(me["account_status"], "active");
    assert!(me["picture"].as_str().unwrap().starts_with("https://"));
    assert!(me["extended_profile"]["job_title"].is_string());
}

#[tokio::test]
async fn accessible_resources_lists_each_users_sites_with_only_their_products_scopes() {
    let t = spawn().await;
    let path = "/oauth/token/accessible-resources";
    let alice = body(t.get(&t.access_token("alice").await, path).await).await;
    let sites = alice.as_array().unwrap();
    assert_eq!(sites.len(), 2);
    let acme = sites.iter().find(|s| s["id"] == ACME).unwrap();
    assert_eq!(acme["url"], "https://acme.atlassian.net");
    assert_eq!(acme["name"], "acme");
    assert!(acme["avatarUrl"].is_string());
    let acme_scopes: Vec<&str> = acme["scopes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(acme_scopes.contains(&"read:jira-work") && acme_scopes.contains(&"read:page:confluence"));
    let beta = sites.iter().find(|s| s["id"] == BETA).unwrap();
    assert!(!beta["scopes"].to_string().contains("confluence"), "beta has no Confluence");
    let bob = body(t.get(&t.access_token("bob").await, path).await).await;
    assert_eq!(bob.as_array().unwrap().len(), 1);
    let carol = body(t.get(&t.access_token("carol").await, path).await).await;
    assert_eq!(carol, json!([]));
    assert_eq!(Emulator::sites().len(), 2);
}

// ---- Jira ---------------------------------------------------------------------------

fn jql_path(site: &str, jql: &str, extra: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(jql.as_bytes()).collect();
    format!("/ex/jira/{site}/rest/api/3/search/jql?jql={encoded}{extra}")
}

#[tokio::test]
async fn search_jql_pages_through_all_of_alices_open_acme_issues_without_repeats() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let (mut seen, mut keys, mut updated) = (HashSet::new(), Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    for _ in 0..20 {
        let extra = match &next {
            None => "&fields=summary,updated,assignee,status&maxResults=40".to_owned(),
            Some(tok) => {
                format!("&fields=summary,updated,assignee,status&maxResults=40&nextPageToken={tok}")
            }
        };
        let res = t.get(&token, &jql_path(ACME, APP_JQL, &extra)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = body(res).await;
        assert!(page.get("total").is_none());
        for issue in page["issues"].as_array().unwrap() {
            let key = issue["key"].as_str().unwrap().to_owned();
            assert!(seen.insert(key.clone()), "{key} repeated");
            assert_eq!(issue["fields"]["assignee"]["displayName"], "Alice Example");
            assert_ne!(issue["fields"]["status"]["statusCategory"]["key"], "done");
            updated.push(issue["fields"]["updated"].as_str().unwrap().to_owned());
            keys.push(key);
        }
        next = page["nextPageToken"].as_str().map(str::to_owned);
        assert_eq!(page["isLast"].as_bool().unwrap(), next.is_none());
        if let Some(tok) = &next {
            assert!(tok.parse::<u64>().is_err(), "page tokens are opaque");
            assert!(tok.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        } else {
            break;
        }
    }
    assert!(next.is_none(), "paging must end");
    assert_eq!(keys.len(), ALICE_OPEN_ON_ACME);
    assert!(keys.len() >= 150);
    assert!(!keys.contains(&"ACME-13".to_owned()) && !keys.contains(&"ACME-88".to_owned()));
    let mut sorted = updated.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, sorted, "ORDER BY updated DESC");
    assert!(keys[..3].contains(&"ACME-2".to_owned()), "hostile issues are on the first page");
    let path = format!("/ex/jira/{ACME}/rest/api/3/search/approximate-count");
    let count = body(t.post_json(&token, &path, json!({"jql": APP_JQL})).await).await;
    assert_eq!(count, json!({"count": ALICE_OPEN_ON_ACME}));
}

#[tokio::test]
async fn search_returns_ids_by_default_and_exactly_the_requested_fields() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let page = body(t.get(&token, &jql_path(ACME, APP_JQL, "")).await).await;
    let issues = page["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 50, "default maxResults");
    assert!(issues[0]["id"].is_string() && issues[0].get("fields").is_none());
    let page = body(t.get(&token, &jql_path(ACME, APP_JQL, "&fields=summary,priority&maxResults=500")).await).await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 100, "maxResults is capped at 100");
    let fields = page["issues"][0]["fields"].as_object().unwrap();
    let names: HashSet<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(names, HashSet::from(["summary", "priority"]));
    let path = format!("/ex/jira/{ACME}/rest/api/3/search/jql");
    let req = json!({"jql": APP_JQL, "fields": ["updated", "issuetype", "project"], "maxResults": 3});
    let page = body(t.post_json(&token, &path, req).await).await;
    let first = &page["issues"][0]["fields"];
    assert_eq!(first["project"]["key"], "ACME");
    assert!(first["issuetype"]["name"].is_string());
    let updated = first["updated"].as_str().unwrap();
    assert_eq!(updated.len(), "2026-11-20T10:15:30.000+0000".len());
    assert!(updated.ends_with("+0000"), "{updated}");
}

#[tokio::test]
async fn search_rejects_unbounded_and_unparseable_jql_and_foreign_page_tokens() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let res = t.get(&token, &jql_path(ACME, "", "")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(res).await,
        json!({"errorMessages":
        ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."], "errors": {}})
    );
    let res = t.get(&token, &jql_path(ACME, "ORDER BY updated DESC", "")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    for bad in ["assignee = = x", "summary ~ \"x\"", "project = \"ACME"] {
        let res = t.get(&token, &jql_path(ACME, bad, "")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(body(res).await["errorMessages"][0].is_string());
    }
    let first = body(t.get(&token, &jql_path(ACME, APP_JQL, "")).await).await;
    let tok = first["nextPageToken"].as_str().unwrap();
    let other = jql_path(ACME, "project = ACME", &format!("&nextPageToken={tok}"));
    assert_eq!(t.get(&token, &other).await.status(), StatusCode::BAD_REQUEST);
    let forged = jql_path(ACME, APP_JQL, "&nextPageToken=50");
    assert_eq!(t.get(&token, &forged).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_removed_search_endpoint_answers_410_gone() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let res = t.get(&token, &format!("/ex/jira/{ACME}/rest/api/3/search?jql=project%3DACME")).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(body(res).await["errorMessages"][0].as_str().unwrap().contains("/rest/api/3/search/jql"));
}

#[tokio::test]
async fn restricted_issues_are_403_unknown_ones_404_and_foreign_sites_404() {
    let t = spawn().await;
    let alice = t.access_token("alice").await;
    let res = t.get(&alice, &format!("/ex/jira/{ACME}/rest/api/3/issue/ACME-13")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(res).await,
        json!({"errorMessages":
        ["You do not have the permission to see the specified issue."], "errors": {}})
    );
    let res = t.get(&alice, &format!("/ex/jira/{ACME}/rest/api/3/issue/ACME-9999")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(res).await,
        json!({"errorMessages":
        ["Issue does not exist or you do not have permission to see it."], "errors": {}})
    );
    let res = t.get(&alice, &format!("/ex/jira/{ACME}/rest/api/3/issue/BETA-1")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.get(&alice, &format!("/ex/jira/{BETA}/rest/api/3/issue/BETA-1")).await.status(), 200);
    let bob = t.access_token("bob").await;
    let res = t.get(&bob, &format!("/ex/jira/{BETA}/rest/api/3/issue/BETA-1")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "bob has no beta");
    assert!(body(res).await["errorMessages"].is_array());
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(t.get(&alice, &format!("/ex/jira/{unknown}/rest/api/3/myself")).await.status(), 404);
    let res = t.get(&alice, &format!("/ex/confluence/{BETA}/wiki/api/v2/spaces")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "beta has no Confluence");
}

#[tokio::test]
async fn an_issue_carries_adf_with_every_node_and_the_hostile_content_is_there() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let issue = body(t.get(&token, &format!("/ex/jira/{ACME}/rest/api/3/issue/acme-1")).await).await;
    assert_eq!(issue["key"], "ACME-1");
    let description = &issue["fields"]["description"];
    assert_eq!(description["type"], "doc");
    let adf = description.to_string();
    for node in [
        "heading",
        "bulletList",
        "orderedList",
        "codeBlock",
        "blockquote",
        "rule",
        "mention",
        "emoji",
        "hardBreak",
        "panel",
        "mediaSingle",
        "strike",
        "javascript:alert(1)",
    ] {
        assert!(adf.contains(node), "ADF lacks {node}");
    }
    for field in [
        "summary",
        "status",
        "priority",
        "issuetype",
        "project",
        "created",
        "updated",
        "reporter",
        "assignee",
        "labels",
    ] {
        assert!(issue["fields"].get(field).is_some(), "missing {field}");
    }
    let hostile = body(t.get(&token, &format!("/ex/jira/{ACME}/rest/api/3/issue/ACME-2?fields=summary")).await).await;
    assert_eq!(hostile["fields"]["summary"], "<script>alert(1)</script>");
    assert_eq!(hostile["fields"].as_object().unwrap().len(), 1);
    let me = body(t.get(&token, &format!("/ex/jira/{ACME}/rest/api/3/myself")).await).await;
    assert_eq!(me["displayName"], "Alice Example");
    assert_eq!(me["active"], true);
}

// ---- Confluence ----------------------------------------------------------------------

#[tokio::test]
async fn confluence_spaces_page_with_an_opaque_cursor_and_a_link_header() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let base = format!("/ex/confluence/{ACME}");
    let res = t.get(&token, &format!("{base}/wiki/api/v2/spaces?limit=2")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = res.headers()["link"].to_str().unwrap().to_owned();
    let page = body(res).await;
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert_eq!(page["results"][0]["type"], "global");
    assert!(page["results"][0]["_links"]["webui"].is_string());
    let next = page["_links"]["next"].as_str().unwrap();
    assert!(next.starts_with("/wiki/api/v2/spaces?") && next.contains("cursor="));
    assert!(link.contains(&format!("<{next}>; rel=\"next\"")));
    let rest = body(t.get(&token, &format!("{base}{next}")).await).await;
    assert_eq!(rest["results"].as_array().unwrap().len(), 1);
    assert!(rest["_links"].get("next").is_none());
    let mut keys: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["results"].as_array().unwrap())
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["ENG", "HR", "OPS"]);
    let bad = t.get(&token, &format!("{base}/wiki/api/v2/spaces?cursor=bogus")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn confluence_pages_list_by_space_and_return_storage_bodies() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let wiki = format!("/ex/confluence/{ACME}/wiki/api/v2");
    let spaces = body(t.get(&token, &format!("{wiki}/spaces")).await).await;
    let eng = spaces["results"].as_array().unwrap().iter().find(|s| s["key"] == "ENG").unwrap();
    let eng_id = eng["id"].as_str().unwrap();
    let pages = body(t.get(&token, &format!("{wiki}/pages?space-id={eng_id}")).await).await;
    let list = pages["results"].as_array().unwrap();
    assert!(list.len() >= 3 && list.iter().all(|p| p["spaceId"] == eng_id && p["status"] == "current"));
    let same = body(t.get(&token, &format!("{wiki}/spaces/{eng_id}/pages")).await).await;
    assert_eq!(same["results"], pages["results"]);
    let hostile = list.iter().find(|p| p["title"].as_str().unwrap().starts_with("Security test")).unwrap();
    let id = hostile["id"].as_str().unwrap();
    let page = body(t.get(&token, &format!("{wiki}/pages/{id}?body-format=storage")).await).await;
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let xhtml = page["body"]["storage"]["value"].as_str().unwrap();
    for attack in ["<script>", "onclick=", "href=\"javascript:", "<style>", "<iframe"] {
        assert!(xhtml.contains(attack), "hostile page lacks {attack}");
    }
    assert!(page["version"]["number"].is_u64() && page["_links"]["webui"].is_string());
    let res = t.get(&token, &format!("{wiki}/pages/999999?body-format=storage")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(res).await,
        json!({"errors": [
        {"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": null}]})
    );
    let only_spaces = t.sign_in("alice", "read:space:confluence").await["access_token"].as_str().unwrap().to_owned();
    let res = t.get(&only_spaces, &format!("{wiki}/pages/{id}")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "pages need read:page:confluence");
}

// ---- knobs ---------------------------------------------------------------------------

#[tokio::test]
async fn injected_429s_carry_retry_after_and_rate_limit_headers_then_the_endpoint_answers() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    let path = format!("/ex/jira/{ACME}/rest/api/3/myself");
    t.emu.inject("/ex/jira", Fault { status: 429, retry_after: Some(7) }, 2);
    for _ in 0..2 {
        let res = t.get(&token, &path).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let h = res.headers();
        assert_eq!(h["retry-after"], "7");
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert!(h.contains_key("x-ratelimit-limit") && h.contains_key("x-ratelimit-reset"));
        assert_eq!(h["ratelimit-reason"], "jira-burst-based");
        assert_eq!(body(res).await["code"], 429);
    }
    assert_eq!(t.get(&token, &path).await.status(), StatusCode::OK);
    assert_eq!(t.get(&token, "/me").await.status(), StatusCode::OK, "other paths unaffected");
}

#[tokio::test]
async fn injected_503_and_500_faults_reach_the_token_endpoint_too() {
    let t = spawn().await;
    let code = t.code("alice", SCOPES).await;
    t.emu.inject("/oauth/token", Fault { status: 503, retry_after: Some(3) }, 1);
    t.emu.inject("/oauth/token", Fault { status: 500, retry_after: None }, 1);
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "3");
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get("retry-after").is_none());
    assert_eq!(t.exchange(&code).await.status(), StatusCode::OK, "faults never touched the code");
}

#[tokio::test]
async fn latency_applies_to_matching_paths_until_set_back_to_zero() {
    let t = spawn().await;
    let token = t.access_token("alice").await;
    t.emu.set_latency("/me", Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(t.get(&token, "/me").await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    t.get(&token, "/oauth/token/accessible-resources").await;
    assert!(started.elapsed() < Duration::from_millis(400));
    t.emu.set_latency("/me", Duration::ZERO);
    let started = Instant::now();
    t.get(&token, "/me").await;
    assert!(started.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn the_request_log_counts_calls_and_grant_types_and_never_holds_a_secret() {
    let t = spawn().await;
    let tokens = t.sign_in("alice", SCOPES).await;
    t.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    t.refresh("unknown").await;
    t.get(tokens["access_token"].as_str().unwrap(), "/me").await;
    let log = t.emu.requests();
    let paths: Vec<(&str, &str, u16)> = log.iter().map(|r| (r.method.as_str(), r.path.as_str(), r.status)).collect();
    assert_eq!(
        paths,
        [
            ("GET", "/authorize", 302),
            ("POST", "/oauth/token", 200),
            ("POST", "/oauth/token", 200),
            ("POST", "/oauth/token", 403),
            ("GET", "/me", 200)
        ]
    );
    assert_eq!(log[1].grant_type.as_deref(), Some("authorization_code"));
    assert_eq!(log[3].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(t.emu.token_grants("authorization_code"), 1);
    assert_eq!(t.emu.token_grants("refresh_token"), 1);
    assert_eq!(t.emu.count("/oauth/token"), 3);
    assert_eq!(t.emu.count("/authorize"), 1);
    let secrets = t.emu.issued_secrets();
    assert!(secrets.contains(&SECRET.to_owned()));
    assert!(secrets.contains(&tokens["access_token"].as_str().unwrap().to_owned()));
    assert_eq!(secrets.len(), 1 + 1 + 2 + 2, "secret, code, two access and two refresh tokens");
    let dump = format!("{log:?}");
    assert!(secrets.iter().all(|s| !dump.contains(s.as_str())));
}

#[tokio::test]
async fn access_tokens_vary_in_length_so_clients_cannot_assume_one() {
    let t = spawn().await;
    let mut lengths = HashSet::new();
    for _ in 0..5 {
        lengths.insert(t.access_token("alice").await.len());
    }
    assert!(lengths.len() > 1, "{lengths:?}");
    assert!(lengths.iter().all(|l| *l >= 200));
}

#[tokio::test]
async fn stop_shuts_the_server_down() {
    let t = spawn().await;
    let url = format!("{}/me", t.emu.base_url());
    assert_eq!(t.http.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    t.emu.stop().await;
    assert!(t.http.get(&url).send().await.is_err());
}
