//! `GET /authorize` and the consent screen: a bad client, callback or parameter is a 400 page that
//! never redirects; Accept and Cancel come back like Atlassian's.

mod support;

use reqwest::StatusCode;
use support::{CALLBACK, CLIENT_ID, authorize_url, body, location, query, spawn};
use threelo_emulator::ConsentMode;
use threelo_emulator::seed::ids::{ALICE, ALICE_NAME, BOB, BOB_NAME, CAROL_NAME, READ_ME};

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
    t.emu.set_consent(ConsentMode::Accept { login: ALICE.into() });
    for overrides in [
        vec![("audience", "api.example.com")],
        vec![("audience", "")],
        vec![("scope", &format!("{READ_ME} read:everything"))],
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

#[tokio::test]
async fn manual_consent_page_lists_users_and_scopes_and_accept_returns_code_and_exact_state() {
    let t = spawn().await;
    let state = "s/t+a te&x=<1>";
    let res = t.http.get(authorize_url(&t, &[("state", state)])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for expected in [
        ALICE_NAME,
        BOB_NAME,
        CAROL_NAME,
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
    form.push(("login".into(), BOB.into()));
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
    assert_eq!(body(t.get(&token, "/me").await).await["name"], BOB_NAME);
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
    form.push(("login".into(), ALICE.into()));
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
