//! `POST /oauth/token`: code exchange (form, JSON or Basic), its failures, and refresh-token
//! rotation with its leeway.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{CALLBACK, CLIENT_ID, SECRET, body, spawn};
use threelo_emulator::seed::ids::{ALICE, BOB, READ_JIRA_WORK, READ_ME, SCOPES};

#[tokio::test]
async fn a_code_exchanges_with_a_form_body_a_json_body_or_basic_auth() {
    let t = spawn().await;
    let code = t.code(ALICE, SCOPES).await;
    let res = t.exchange(&code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens = body(res).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], SCOPES);
    assert!(tokens["access_token"].as_str().unwrap().len() >= 200);
    assert!(tokens["refresh_token"].as_str().is_some());

    let code = t.code(ALICE, SCOPES).await;
    let url = format!("{}/oauth/token", t.emu.base_url());
    let json_body = json!({"grant_type": "authorization_code", "client_id": CLIENT_ID,
        "client_secret": SECRET, "code": code, "redirect_uri": CALLBACK});
    let res = t.http.post(&url).json(&json_body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let code = t.code(ALICE, SCOPES).await;
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)];
    let res = t.http.post(&url).basic_auth(CLIENT_ID, Some(SECRET)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_client_secret_is_401_access_denied_not_a_user_refusal() {
    let t = spawn().await;
    let code = t.code(ALICE, SCOPES).await;
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
    let code = t.code(ALICE, SCOPES).await;
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
    let code = t.code(ALICE, SCOPES).await;
    t.emu.advance_clock(Duration::from_secs(301));
    assert_eq!(t.exchange(&code).await.status(), StatusCode::FORBIDDEN);

    t.emu.add_redirect_uri("http://127.0.0.1:9/other");
    let code = t.code(ALICE, SCOPES).await;
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
    let tokens = t.sign_in(ALICE, &format!("{READ_ME} {READ_JIRA_WORK}")).await;
    assert!(tokens.get("refresh_token").is_none());
    assert_eq!(tokens["scope"], format!("{READ_ME} {READ_JIRA_WORK}"));
}

#[tokio::test]
async fn refresh_rotates_both_tokens_and_the_old_refresh_token_still_works_within_the_leeway() {
    let t = spawn().await;
    let first = t.sign_in(ALICE, SCOPES).await;
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
    let first = t.sign_in(ALICE, SCOPES).await;
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
    let res = t.refresh(r2).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "the newest token dies too");
    assert_eq!(
        body(res).await,
        json!({"error": "unauthorized_client", "error_description": "refresh_token is invalid"}),
        "as Atlassian answers the rest of a family killed for reuse"
    );
    assert_eq!(t.get(access, "/me").await.status(), StatusCode::UNAUTHORIZED);
    // A new consent starts a new, working grant.
    let fresh = t.sign_in(ALICE, SCOPES).await;
    assert_eq!(t.refresh(fresh["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_leeway_knob_shortens_the_grace_period() {
    let t = spawn().await;
    t.emu.set_refresh_leeway(Duration::from_secs(5));
    let r1 = t.sign_in(ALICE, SCOPES).await["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(t.refresh(&r1).await.status(), StatusCode::OK);
    t.emu.advance_clock(Duration::from_secs(6));
    assert_eq!(t.refresh(&r1).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn expired_access_tokens_answer_401_and_refreshing_gets_a_working_one() {
    let t = spawn().await;
    t.emu.set_access_token_ttl(Duration::from_secs(60));
    let tokens = t.sign_in(ALICE, SCOPES).await;
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
    let alice = t.sign_in(ALICE, SCOPES).await;
    let bob = t.access_token(BOB).await;
    t.emu.revoke_grants(ALICE);
    assert_eq!(t.get(alice["access_token"].as_str().unwrap(), "/me").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(t.refresh(alice["refresh_token"].as_str().unwrap()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(t.get(&bob, "/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_access_token_from_before_a_refresh_stops_working_once_the_leeway_is_over() {
    let t = spawn().await;
    let first = t.sign_in(ALICE, SCOPES).await;
    let old = first["access_token"].as_str().unwrap().to_owned();
    let second = body(t.refresh(first["refresh_token"].as_str().unwrap()).await).await;
    let new = second["access_token"].as_str().unwrap().to_owned();
    t.emu.advance_clock(Duration::from_secs(599));
    assert_eq!(t.get(&old, "/me").await.status(), StatusCode::OK, "inside the leeway");
    t.emu.advance_clock(Duration::from_secs(2));
    assert_eq!(t.get(&old, "/me").await.status(), StatusCode::UNAUTHORIZED, "past it");
    assert_eq!(t.get(&new, "/me").await.status(), StatusCode::OK, "the new one works");
}

#[tokio::test]
async fn a_short_bad_code_is_a_400_invalid_request_and_a_long_one_a_403_invalid_grant() {
    let t = spawn().await;
    let exchange = |code: &'static str| {
        let creds = [("client_id", CLIENT_ID), ("client_secret", SECRET), ("grant_type", "authorization_code")];
        let t = &t;
        async move {
            let res = t.token_request(&[creds[0], creds[1], creds[2], ("code", code), ("redirect_uri", "x")]).await;
            (res.status(), body(res).await["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    assert_eq!(exchange("abc").await, (StatusCode::BAD_REQUEST, "invalid_request".to_owned()));
    let long = exchange("a-code-that-was-never-issued-by-anyone").await;
    assert_eq!(long, (StatusCode::FORBIDDEN, "invalid_grant".to_owned()));
}
