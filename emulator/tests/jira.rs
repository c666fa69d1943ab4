//! Jira through the gateway: enhanced JQL search and its paging, the removed search endpoint,
//! issues (ADF, hostile content) and who may see them.

mod support;

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use support::{APP_JQL, body, spawn};
use threelo_emulator::seed::ids::{
    ACME_CLOUD_ID, ACME_PROJECT, ALICE, ALICE_NAME, ALICE_OPEN_ON_ACME, BETA_CLOUD_ID, BETA_ISSUE, BOB,
    RESTRICTED_ISSUES, SCRIPT_ISSUE, SHOWCASE_ISSUE,
};

fn jql_path(site: &str, jql: &str, extra: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(jql.as_bytes()).collect();
    format!("/ex/jira/{site}/rest/api/3/search/jql?jql={encoded}{extra}")
}

#[tokio::test]
async fn search_jql_pages_through_all_of_alices_open_acme_issues_without_repeats() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let (mut seen, mut keys, mut updated) = (HashSet::new(), Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    for _ in 0..20 {
        let extra = match &next {
            None => "&fields=summary,updated,assignee,status&maxResults=40".to_owned(),
            Some(tok) => {
                format!("&fields=summary,updated,assignee,status&maxResults=40&nextPageToken={tok}")
            }
        };
        let res = t.get(&token, &jql_path(ACME_CLOUD_ID, APP_JQL, &extra)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = body(res).await;
        assert!(page.get("total").is_none());
        for issue in page["issues"].as_array().unwrap() {
            let key = issue["key"].as_str().unwrap().to_owned();
            assert!(seen.insert(key.clone()), "{key} repeated");
            assert_eq!(issue["fields"]["assignee"]["displayName"], ALICE_NAME);
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
    assert!(RESTRICTED_ISSUES.iter().all(|restricted| !keys.iter().any(|key| key == restricted)));
    let mut sorted = updated.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(updated, sorted, "ORDER BY updated DESC");
    assert!(keys[..3].contains(&SCRIPT_ISSUE.to_owned()), "hostile issues are on the first page");
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/approximate-count");
    let count = body(t.post_json(&token, &path, json!({"jql": APP_JQL})).await).await;
    assert_eq!(count, json!({"count": ALICE_OPEN_ON_ACME}));
}

#[tokio::test]
async fn search_returns_ids_by_default_and_exactly_the_requested_fields() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let page = body(t.get(&token, &jql_path(ACME_CLOUD_ID, APP_JQL, "")).await).await;
    let issues = page["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 50, "default maxResults");
    assert!(issues[0]["id"].is_string() && issues[0].get("fields").is_none());
    let page =
        body(t.get(&token, &jql_path(ACME_CLOUD_ID, APP_JQL, "&fields=summary,priority&maxResults=500")).await).await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 100, "maxResults is capped at 100");
    let fields = page["issues"][0]["fields"].as_object().unwrap();
    let names: HashSet<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(names, HashSet::from(["summary", "priority"]));
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search/jql");
    let req = json!({"jql": APP_JQL, "fields": ["updated", "issuetype", "project"], "maxResults": 3});
    let page = body(t.post_json(&token, &path, req).await).await;
    let first = &page["issues"][0]["fields"];
    assert_eq!(first["project"]["key"], ACME_PROJECT);
    assert!(first["issuetype"]["name"].is_string());
    let updated = first["updated"].as_str().unwrap();
    assert_eq!(updated.len(), "2026-11-20T10:15:30.000+0000".len());
    assert!(updated.ends_with("+0000"), "{updated}");
}

#[tokio::test]
async fn search_rejects_unbounded_and_unparseable_jql_and_foreign_page_tokens() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let res = t.get(&token, &jql_path(ACME_CLOUD_ID, "", "")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        body(res).await,
        json!({"errorMessages":
        ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."], "errors": {}})
    );
    let res = t.get(&token, &jql_path(ACME_CLOUD_ID, "ORDER BY updated DESC", "")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    for bad in ["assignee = = x", "labels ~ \"x\"", "text ~ \"a\" b\"", "project = \"ACME"] {
        let res = t.get(&token, &jql_path(ACME_CLOUD_ID, bad, "")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(body(res).await["errorMessages"][0].is_string());
    }
    let first = body(t.get(&token, &jql_path(ACME_CLOUD_ID, APP_JQL, "")).await).await;
    let tok = first["nextPageToken"].as_str().unwrap();
    let other = jql_path(ACME_CLOUD_ID, &format!("project = {ACME_PROJECT}"), &format!("&nextPageToken={tok}"));
    assert_eq!(t.get(&token, &other).await.status(), StatusCode::BAD_REQUEST);
    let forged = jql_path(ACME_CLOUD_ID, APP_JQL, "&nextPageToken=50");
    assert_eq!(t.get(&token, &forged).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_removed_search_endpoint_answers_410_gone() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let res = t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/search?jql=project%3D{ACME_PROJECT}")).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(body(res).await["errorMessages"][0].as_str().unwrap().contains("/rest/api/3/search/jql"));
}

#[tokio::test]
async fn restricted_issues_are_404_like_unknown_ones_and_foreign_sites_404() {
    let t = spawn().await;
    let alice = t.access_token(ALICE).await;
    let not_visible = json!({"errorMessages":
        ["Issue does not exist or you do not have permission to see it."], "errors": {}});
    for rest in ["", "/comment", "/transitions"] {
        let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{}{rest}", RESTRICTED_ISSUES[0]);
        let res = t.get(&alice, &path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{rest}: Jira never says 403 for an issue one cannot see");
        assert_eq!(body(res).await, not_visible, "{rest}");
    }
    let res = t.get(&alice, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{ACME_PROJECT}-9999")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(body(res).await, not_visible);
    let res = t.get(&alice, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{BETA_ISSUE}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(t.get(&alice, &format!("/ex/jira/{BETA_CLOUD_ID}/rest/api/3/issue/{BETA_ISSUE}")).await.status(), 200);
    let bob = t.access_token(BOB).await;
    let res = t.get(&bob, &format!("/ex/jira/{BETA_CLOUD_ID}/rest/api/3/issue/{BETA_ISSUE}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "bob has no beta");
    assert!(body(res).await["errorMessages"].is_array());
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(t.get(&alice, &format!("/ex/jira/{unknown}/rest/api/3/myself")).await.status(), 404);
    let res = t.get(&alice, &format!("/ex/confluence/{BETA_CLOUD_ID}/wiki/api/v2/spaces")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "beta has no Confluence");
}

#[tokio::test]
async fn an_issue_carries_adf_with_every_node_and_the_hostile_content_is_there() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let issue = body(
        t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{}", SHOWCASE_ISSUE.to_lowercase())).await,
    )
    .await;
    assert_eq!(issue["key"], SHOWCASE_ISSUE);
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
    let hostile =
        body(t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/issue/{SCRIPT_ISSUE}?fields=summary")).await)
            .await;
    assert_eq!(hostile["fields"]["summary"], "<script>alert(1)</script>");
    assert_eq!(hostile["fields"].as_object().unwrap().len(), 1);
    let me = body(t.get(&token, &format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself")).await).await;
    assert_eq!(me["displayName"], ALICE_NAME);
    assert_eq!(me["active"], true);
}
