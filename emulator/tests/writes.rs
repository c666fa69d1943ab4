//! Jira's writes (comments, transitions, assignee) with their state per issue and their scope
//! checks, the per-issue write limit, text search in JQL and CQL search, and the request log.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use support::{body, spawn};
use threelo_emulator::seed::ids::{
    ACME_CLOUD_ID, ALICE, BOB_ACCOUNT_ID, JIRA_GRANULAR_READ, JIRA_GRANULAR_WRITE, RESTRICTED_ISSUES, SCOPES,
    SHOWCASE_ISSUE,
};

const WRITE_SCOPES: &str =
    "read:me read:jira-work write:jira-work search:confluence read:page:confluence offline_access";

fn issue(key: &str, rest: &str) -> String {
    format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{key}{rest}")
}

fn comment(text: &str) -> serde_json::Value {
    json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}})
}

#[tokio::test]
async fn writes_without_write_jira_work_are_401_scope_does_not_match_and_change_nothing() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("hi")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");
    assert_eq!(body(res).await["message"], "Unauthorized; scope does not match");
    assert!(t.emu.comments("acme", SHOWCASE_ISSUE).iter().all(|c| c != "hi"));
    assert!(SCOPES.split(' ').all(|s| s != "write:jira-work"), "the default test scopes cannot write");
}

#[tokio::test]
async fn jira_granular_scopes_stand_in_for_the_classic_ones_per_endpoint() {
    let t = spawn().await;
    let scopes = format!("read:me {JIRA_GRANULAR_READ} {JIRA_GRANULAR_WRITE} offline_access");
    let granted = t.sign_in(ALICE, &scopes).await;
    assert_eq!(granted["scope"].as_str().map(|s| s.contains("read:jira-work")), Some(false));
    let token = granted["access_token"].as_str().unwrap().to_owned();
    let search = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql?jql=project%3DACME&fields=summary");
    assert_eq!(t.get(&token, &search).await.status(), StatusCode::OK);
    assert_eq!(t.get(&token, &issue(SHOWCASE_ISSUE, "")).await.status(), StatusCode::OK);
    assert_eq!(t.get(&token, &issue(SHOWCASE_ISSUE, "/comment")).await.status(), StatusCode::OK);
    assert_eq!(t.get(&token, &issue(SHOWCASE_ISSUE, "/transitions")).await.status(), StatusCode::OK);
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("granular")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Endpoints whose granular set the grant lacks are still a scope mismatch.
    let myself = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    assert_eq!(
        t.get(&token, &myself).await.status(),
        StatusCode::UNAUTHORIZED,
        "read:application-role:jira is missing"
    );

    // Without write:comment:jira, a comment is refused while a transition still goes through.
    let partial = scopes.replace("write:comment:jira ", "");
    let token = t.sign_in(ALICE, &partial).await["access_token"].as_str().unwrap().to_owned();
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("refused")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body(res).await["message"], "Unauthorized; scope does not match");
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/transitions"), json!({"transition": {"id": "21"}})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Half of a set is not the set: the issue without read:status:jira is a mismatch.
    let half = scopes.replace("read:status:jira ", "");
    let token = t.sign_in(ALICE, &half).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(t.get(&token, &issue(SHOWCASE_ISSUE, "")).await.status(), StatusCode::UNAUTHORIZED);
    assert!(t.emu.comments("acme", SHOWCASE_ISSUE).iter().any(|c| c == "granular"));
    assert!(t.emu.comments("acme", SHOWCASE_ISSUE).iter().all(|c| c != "refused"));
}

#[tokio::test]
async fn a_posted_comment_is_201_and_listed_after_the_seeded_ones() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("Looks good")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created = body(res).await;
    assert_eq!(created["author"]["displayName"], "Alice Example");
    let list = body(t.get(&token, &issue(SHOWCASE_ISSUE, "/comment")).await).await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["comments"][2]["id"], created["id"]);
    let newest = body(t.get(&token, &issue(SHOWCASE_ISSUE, "/comment?orderBy=-created&maxResults=1")).await).await;
    assert_eq!(newest["comments"][0]["id"], created["id"]);
    let empty = t
        .post_json(
            &token,
            &issue(SHOWCASE_ISSUE, "/comment"),
            json!({"body": {"type": "doc", "version": 1, "content": []}}),
        )
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_transition_changes_the_status_that_the_issue_and_search_then_show() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    let list = body(t.get(&token, &issue(SHOWCASE_ISSUE, "/transitions")).await).await;
    let done = list["transitions"].as_array().unwrap().iter().find(|t| t["to"]["name"] == "Done").unwrap().clone();
    let res =
        t.post_json(&token, &issue(SHOWCASE_ISSUE, "/transitions"), json!({"transition": {"id": done["id"]}})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let now = body(t.get(&token, &issue(SHOWCASE_ISSUE, "?fields=status")).await).await;
    assert_eq!(now["fields"]["status"]["name"], "Done");
    let again =
        t.post_json(&token, &issue(SHOWCASE_ISSUE, "/transitions"), json!({"transition": {"id": done["id"]}})).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "Done is no longer a transition of a done issue");
    let jql = "key = ACME-1 AND resolution = Unresolved";
    let encoded: String = url::form_urlencoded::byte_serialize(jql.as_bytes()).collect();
    let found =
        body(t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql?jql={encoded}")).await).await;
    assert_eq!(found["issues"].as_array().unwrap().len(), 0, "search sees the new status");
}

#[tokio::test]
async fn assigning_takes_an_account_id_of_someone_on_the_site() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}{}", t.emu.base_url(), issue(SHOWCASE_ISSUE, "/assignee"));
    let put = |body: serde_json::Value| t.http.put(&url).bearer_auth(&token).json(&body).send();
    assert_eq!(put(json!({"accountId": BOB_ACCOUNT_ID})).await.unwrap().status(), StatusCode::NO_CONTENT);
    let now = body(t.get(&token, &issue(SHOWCASE_ISSUE, "?fields=assignee")).await).await;
    assert_eq!(now["fields"]["assignee"]["accountId"], BOB_ACCOUNT_ID);
    assert_eq!(put(json!({"accountId": "712020:nobody"})).await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn restricted_issues_are_404_for_comments_and_writes() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    let key = RESTRICTED_ISSUES[0];
    assert_eq!(t.get(&token, &issue(key, "/comment")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.post_json(&token, &issue(key, "/comment"), comment("x")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_per_issue_write_limit_answers_429_with_its_reason_and_changes_nothing() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    t.emu.limit_writes(SHOWCASE_ISSUE, 1, 9);
    let res = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("limited")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["ratelimit-reason"], "jira-per-issue-on-write");
    assert_eq!(res.headers()["retry-after"], "9");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "0");
    assert!(res.headers().contains_key("x-ratelimit-reset"));
    assert!(!res.headers().contains_key("x-ratelimit-nearlimit"), "a per-issue limit says nothing of the quota");
    assert!(t.emu.comments("acme", SHOWCASE_ISSUE).iter().all(|c| c != "limited"));
    let later = t.post_json(&token, &issue(SHOWCASE_ISSUE, "/comment"), comment("later")).await;
    assert_eq!(later.status(), StatusCode::CREATED, "only the asked-for number of writes is refused");
}

#[tokio::test]
async fn text_search_in_jql_and_cql_finds_words_and_refuses_unescaped_quotes() {
    let t = spawn().await;
    let token = t.sign_in(ALICE, WRITE_SCOPES).await["access_token"].as_str().unwrap().to_owned();
    let enc = |q: &str| url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let jql = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql?fields=summary&jql=");
    let found = body(t.get(&token, &format!("{jql}{}", enc(r#"text ~ "release checklist""#))).await).await;
    assert_eq!(found["issues"][0]["key"], SHOWCASE_ISSUE);
    assert_eq!(t.get(&token, &format!("{jql}{}", enc(r#"text ~ "a "b" c""#))).await.status(), StatusCode::BAD_REQUEST);
    let cql = format!("/ex/confluence/{ACME_CLOUD_ID}/wiki/rest/api/search?cql=");
    let pages = body(t.get(&token, &format!("{cql}{}", enc(r#"type = page AND text ~ "release""#))).await).await;
    assert_eq!(pages["results"][0]["content"]["id"], "163846");
    assert!(pages["results"][0]["excerpt"].as_str().unwrap().contains("@@@hl@@@"));
    assert_eq!(t.get(&token, &format!("{cql}{}", enc(r#"text ~ "a\q""#))).await.status(), StatusCode::BAD_REQUEST);
    let logged: Vec<_> = t.emu.requests().into_iter().filter_map(|r| r.search).collect();
    assert!(logged.contains(&r#"type = page AND text ~ "release""#.to_owned()), "the log holds the CQL: {logged:?}");
    let plain = t.access_token(ALICE).await;
    let res = t.get(&plain, &format!("{cql}{}", enc(r#"text ~ "release""#))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "CQL search needs search:confluence");
}
