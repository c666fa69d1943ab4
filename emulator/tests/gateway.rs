//! The API gateway's own answers: the scope check, `/me` and accessible-resources.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{body, spawn};
use threelo_emulator::Emulator;
use threelo_emulator::seed::ids::{
    ACME_CLOUD_ID, ACME_SITE, ALICE, ALICE_NAME, BETA_CLOUD_ID, BOB, CAROL, READ_JIRA_WORK, READ_PAGE_CONFLUENCE,
};

#[tokio::test]
async fn a_missing_scope_is_401_scope_does_not_match_with_the_failure_category_header() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, READ_JIRA_WORK).await["access_token"].as_str().unwrap().to_owned();
    let res = t.get(&token, "/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    assert_eq!(body(res).await, json!({"code": 401, "message": "Unauthorized; scope does not match"}));
    let res = t.get(&token, &format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/api/v2/spaces")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    let res = t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself")).await;
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    let res = t.get("garbage", "/me").await;
    assert!(res.headers().get("x-failure-category").is_none());
    assert_eq!(t.http.get(format!("{}/me", t.emu.base_url())).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn me_returns_the_signed_in_users_atlassian_profile() {
    let t = spawn().await;
    let me = body(t.get(&t.access_token(ALICE).await, "/me").await).await;
    let alice = Emulator::users().iter().find(|u| u.login == ALICE).unwrap();
    assert_eq!(me["account_id"], alice.account_id);
    assert!(alice.account_id.starts_with("712020:"));
    assert_eq!(me["name"], ALICE_NAME);
    assert_eq!(me["email"], alice.email);
    assert_eq!(me["account_status"], "active");
    assert!(me["picture"].as_str().unwrap().starts_with("https://"));
    assert!(me["extended_profile"]["job_title"].is_string());
}

#[tokio::test]
async fn accessible_resources_lists_each_users_sites_with_only_their_products_scopes() {
    let t = spawn().await;
    let path = "/oauth/token/accessible-resources";
    let alice = body(t.get(&t.access_token(ALICE).await, path).await).await;
    let sites = alice.as_array().unwrap();
    assert_eq!(sites.len(), 2);
    let acme = sites.iter().find(|s| s["id"] == ACME_CLOUD_ID).unwrap();
    assert_eq!(acme["url"], format!("https://{ACME_SITE}.atlassian.net"));
    assert_eq!(acme["name"], ACME_SITE);
    assert!(acme["avatarUrl"].is_string());
    let acme_scopes: Vec<&str> = acme["scopes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(acme_scopes.contains(&READ_JIRA_WORK) && acme_scopes.contains(&READ_PAGE_CONFLUENCE));
    let beta = sites.iter().find(|s| s["id"] == BETA_CLOUD_ID).unwrap();
    assert!(!beta["scopes"].to_string().contains("confluence"), "beta has no Confluence");
    let bob = body(t.get(&t.access_token(BOB).await, path).await).await;
    assert_eq!(bob.as_array().unwrap().len(), 1);
    let carol = body(t.get(&t.access_token(CAROL).await, path).await).await;
    assert_eq!(carol, json!([]));
    assert_eq!(Emulator::sites().len(), 2);
}
