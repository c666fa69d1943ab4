//! An operator who configures Jira's granular scopes instead of the classic ones gets the same
//! features, and one who configures only part of a feature's granular set is told what is missing.

mod support;

use reqwest::StatusCode;
use support::{TestApp, form_field, location};
use threelo_emulator::Emulator;
use threelo_emulator::seed::ids::{
    ACME_SITE, JIRA_GRANULAR_READ, JIRA_GRANULAR_WRITE, OFFLINE_ACCESS, READ_ME, READ_PAGE_CONFLUENCE,
    READ_SPACE_CONFLUENCE, SHOWCASE_ISSUE,
};

fn acme() -> &'static str {
    Emulator::sites().iter().find(|s| s.name == ACME_SITE).expect("seed site").cloud_id
}

/// Granular Jira scopes only: no `read:jira-work`, `write:jira-work` or `read:jira-user`.
fn granular(write: &str) -> String {
    format!("{READ_ME} {JIRA_GRANULAR_READ} {write} {READ_SPACE_CONFLUENCE} {READ_PAGE_CONFLUENCE} {OFFLINE_ACCESS}")
}

#[tokio::test]
async fn with_granular_scopes_only_the_issue_list_an_issue_and_a_comment_work() {
    let scopes = granular(JIRA_GRANULAR_WRITE);
    assert!(!scopes.contains("jira-work") && !scopes.contains("jira-user"));
    let app = TestApp::spawn_with(&[("THREELO_SCOPES", &scopes)]).await;
    app.sign_in().await;

    let list = app.get(&format!("/sites/{}/jira/issues", acme())).await;
    assert_eq!(list.status(), StatusCode::OK);
    let path = format!("/sites/{}/jira/issues/{SHOWCASE_ISSUE}", acme());
    assert!(list.text().await.unwrap().contains(&path), "the list links to the showcase issue");

    let page = app.page(&path).await;
    assert!(app.page(&format!("/sites/{}/jira/issues/ACME-7", acme())).await.contains("Assign to me"));
    assert!(page.contains("Regression suite is green on staging."), "the comments are shown: {page}");
    assert!(page.contains(&format!("{path}/transitions")), "moving is on");
    let action = format!("{path}/comments");
    let form = [
        ("csrf", form_field(&page, &action, "csrf")),
        ("nonce", form_field(&page, &action, "nonce")),
        ("body", "Posted with granular scopes".to_owned()),
    ];
    let response = app.client.post(app.url(&action)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(response.headers()), app.url(&path));
    let comments = app.emulator.comments(ACME_SITE, SHOWCASE_ISSUE);
    assert!(comments.iter().any(|c| c == "Posted with granular scopes"), "{comments:?}");
    assert!(app.page(&path).await.contains("Posted with granular scopes"));
    let account = app.page("/account").await;
    assert!(!account.contains("Not granted yet"), "nothing the operator configured is missing: {account}");
}

#[tokio::test]
async fn a_granular_set_without_write_comment_jira_says_what_the_comment_form_lacks() {
    let write = JIRA_GRANULAR_WRITE.replace("write:comment:jira", "");
    let app = TestApp::spawn_with(&[("THREELO_SCOPES", &granular(write.trim()))]).await;
    app.sign_in().await;
    let path = format!("/sites/{}/jira/issues/{SHOWCASE_ISSUE}", acme());
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    assert!(!page.contains(&format!("action=\"{action}\"")), "no comment form: {page}");
    assert!(
        page.contains("Comments cannot be posted from threelo") && page.contains("lack write:comment:jira"),
        "{page}"
    );
    assert!(page.contains(&format!("{path}/transitions")), "moving issues still works");
    assert!(!page.contains("Allow threelo to change issues"), "nothing to consent to: it is not configured");

    // A comment posted anyway (an old form) is refused before Jira is asked, naming the scope.
    let form = [("csrf", form_field(&page, &format!("{path}/transitions"), "csrf")), ("body", "x".to_owned())];
    let form = [form[0].clone(), ("nonce", "n0nce-from-an-old-form".to_owned()), form[1].clone()];
    let response = app.client.post(app.url(&action)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains("write:comment:jira is missing"), "{page}");
    assert!(app.emulator.requests().iter().all(|r| !(r.method == "POST" && r.path.ends_with("/comment"))));
}
