//! Acting on your work: search across sites, comments, transitions, "Assign to me", the one-time
//! nonce of every write, failures that keep the typed comment, and consenting again for a scope
//! the operator added later.

mod support;

use reqwest::StatusCode;
use support::{TestApp, form_field, location};
use threelo_emulator::seed::ids::{ACME_SITE, ALICE_NAME, BETA_SITE, SHOWCASE_ISSUE};
use threelo_emulator::{Emulator, Fault, LoggedRequest};

/// The default scopes plus the two that turn on writes and Confluence search.
const ALL_SCOPES: &str = "read:me read:jira-user read:jira-work read:space:confluence read:page:confluence \
                          offline_access write:jira-work search:confluence";
/// An issue alice can see that is assigned to bob.
const BOBS_ISSUE: &str = "ACME-7";

fn site(name: &str) -> &'static str {
    Emulator::sites().iter().find(|s| s.name == name).expect("seed site").cloud_id
}

fn issue_path(key: &str) -> String {
    format!("/sites/{}/jira/issues/{key}", site(ACME_SITE))
}

/// The app with writes and Confluence search configured, alice signed in.
async fn signed_in_with_all_scopes() -> TestApp {
    let app = TestApp::spawn_with(&[("THREELO_SCOPES", ALL_SCOPES)]).await;
    app.sign_in().await;
    app
}

/// The hidden fields of the transition button whose label starts with `label`.
fn transition_button(page: &str, action: &str, label: &str) -> (String, String) {
    let form = page
        .split("<form")
        .filter(|f| f.contains(&format!("action=\"{action}\"")))
        .map(|f| f.split("</form>").next().expect("the form"))
        .find(|f| f.contains(&format!(">{label}")))
        .unwrap_or_else(|| panic!("no transition “{label}” in the page:\n{page}"));
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = form.find(&marker).expect("the field") + marker.len();
        form[start..].split('"').next().expect("a closing quote").to_owned()
    };
    (field("nonce"), field("transition"))
}

fn writes(app: &TestApp, method: &str, path_end: &str) -> Vec<LoggedRequest> {
    app.emulator.requests().into_iter().filter(|r| r.method == method && r.path.ends_with(path_end)).collect()
}

/// The text searches (not the dashboard's "my open issues") that reached `…{path_end}`.
fn searches(app: &TestApp, path_end: &str) -> Vec<LoggedRequest> {
    let is_text_search = |r: &LoggedRequest| r.search.as_deref().is_some_and(|q| q.contains("text ~"));
    app.emulator.requests().into_iter().filter(|r| r.path.ends_with(path_end) && is_text_search(r)).collect()
}

#[tokio::test]
async fn search_text_reaches_jira_and_confluence_only_inside_one_escaped_string() {
    let app = signed_in_with_all_scopes().await;
    let typed = "say \"hi\" \\ OR project = SECRET\nnext";
    let response = app.client.get(app.url("/search")).query(&[("q", typed)]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains(" \\ OR project = SECRET next"), "the normalised text is shown back: {page}");
    let jql: Vec<_> = searches(&app, "/rest/api/3/search/jql");
    assert_eq!(jql.len(), 2, "one JQL search per Jira site: {jql:?}");
    for request in &jql {
        assert_eq!(
            request.search.as_deref(),
            Some(r#"text ~ "say \"hi\" \\ OR project = SECRET next" ORDER BY updated DESC"#)
        );
        assert_eq!(request.status, 200, "Jira parsed the JQL");
    }
    let cql = searches(&app, "/wiki/rest/api/search");
    assert_eq!(cql.len(), 1, "one CQL search, on the one Confluence site: {cql:?}");
    assert_eq!(cql[0].search.as_deref(), Some(r#"type = page AND text ~ "say \"hi\" \\ OR project = SECRET next""#));
    assert_eq!(cql[0].status, 200, "Confluence parsed the CQL");
}

#[tokio::test]
async fn search_finds_issues_and_pages_on_every_site_and_links_to_their_pages() {
    let app = signed_in_with_all_scopes().await;
    let page = app.page("/search?q=release").await;
    assert!(page.contains(&issue_path(SHOWCASE_ISSUE)), "ACME-1 is linked to its issue page: {page}");
    assert!(page.contains(&format!("/sites/{}/confluence/pages/163846", site(ACME_SITE))), "the page is linked");
    assert!(page.contains("Release process"), "{page}");
    let page = app.page("/search?q=checkout").await;
    assert!(page.contains(&format!("/sites/{}/jira/issues/BETA-", site(BETA_SITE))), "beta's issues too: {page}");
}

#[tokio::test]
async fn search_results_page_forward_one_site_at_a_time() {
    let app = signed_in_with_all_scopes().await;
    let page = app.page("/search?q=test").await;
    let more = page
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&").replace("&#38;", "&"))
        .find(|href| href.contains("&issues="))
        .unwrap_or_else(|| panic!("a link to more issues on a site: {page}"));
    let next = app.page(&more).await;
    assert!(next.contains("← All results"), "{next}");
    let last = searches(&app, "/rest/api/3/search/jql").pop().expect("a search");
    assert!(last.status == 200, "Jira accepted its own page token");
}

#[tokio::test]
async fn one_failing_site_is_a_notice_while_the_other_sites_results_show() {
    let app = signed_in_with_all_scopes().await;
    app.emulator.inject(&format!("/ex/jira/{}", site(BETA_SITE)), Fault { status: 500, retry_after: None }, 2);
    let response = app.get("/search?q=checkout").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains(&issue_path("ACME-")), "acme's issues show: {page}");
    assert!(page.contains("Atlassian did not answer the search of issues on this site"), "{page}");
}

#[tokio::test]
async fn an_empty_or_over_long_search_gets_a_message_and_makes_no_call() {
    let app = signed_in_with_all_scopes().await;
    let before = app.emulator.requests().len();
    let empty = app.get("/search?q=+%0A+").await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert!(empty.text().await.unwrap().contains("Type a word or two"));
    let long = app.client.get(app.url("/search")).query(&[("q", "a".repeat(201))]).send().await.unwrap();
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    assert!(long.text().await.unwrap().contains("That search is too long"));
    let calls: Vec<_> =
        app.emulator.requests().into_iter().skip(before).filter(|r| r.path.starts_with("/ex/")).collect();
    assert!(calls.is_empty(), "no call reached Atlassian: {calls:?}");
}

#[tokio::test]
async fn the_issue_page_shows_its_comments_rendered_and_escaped() {
    let app = signed_in_with_all_scopes().await;
    let page = app.page(&issue_path(SHOWCASE_ISSUE)).await;
    assert!(page.contains("Regression suite is green on staging."), "{page}");
    assert!(page.contains("Bob Builder"), "the author is shown");
    assert!(page.contains("href=\"https://example.com/notes\""), "links in comments render");
    let hostile = app.page(&issue_path("ACME-2")).await;
    assert!(hostile.contains("&lt;script&gt;alert("), "the comment's markup is text: {hostile}");
    assert!(!hostile.contains("<script>alert('comment')") && !hostile.contains("javascript:alert"), "{hostile}");
}

#[tokio::test]
async fn a_comment_sent_twice_with_the_same_nonce_is_posted_once() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let (csrf, nonce) = (form_field(&page, &action, "csrf"), form_field(&page, &action, "nonce"));
    let form = [("csrf", csrf.as_str()), ("nonce", nonce.as_str()), ("body", "Shipped it.\n\nSecond paragraph")];
    // A double click: both at once; then the form sent again later.
    let (first, second) = tokio::join!(app.post_form(&action, &form), app.post_form(&action, &form));
    let third = app.post_form(&action, &form).await;
    for response in [first, second, third] {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(response.headers()), app.url(&path), "back to the issue");
    }
    assert_eq!(writes(&app, "POST", "/comment").len(), 1, "one comment reached Jira");
    let texts = app.emulator.comments(ACME_SITE, SHOWCASE_ISSUE);
    assert_eq!(texts.iter().filter(|t| t.starts_with("Shipped it.")).count(), 1, "{texts:?}");
    assert!(texts.contains(&"Shipped it.\nSecond paragraph".to_owned()), "paragraphs kept: {texts:?}");
    let after = app.page(&path).await;
    assert!(after.contains("Shipped it.") && after.contains(ALICE_NAME), "the new comment is visible");
    assert_eq!(app.stored_count("threelo:nonce:"), 1, "the nonce is remembered");
}

#[tokio::test]
async fn a_form_older_than_its_life_is_shown_again_and_sends_nothing() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let csrf = form_field(&page, &action, "csrf");
    let made = threelo::clock::unix_now() - threelo::nonce::FORM_LIFE.as_secs() as i64 - 60;
    let old = format!("{made}_AAAAAAAAAAAAAAAAAAAAAA");
    let response =
        app.post_form(&action, &[("csrf", csrf.as_str()), ("nonce", &old), ("body", "Left open overnight")]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let shown = response.text().await.unwrap();
    assert!(shown.contains("its form has expired"), "{shown}");
    assert!(shown.contains(">Left open overnight</textarea>"), "the text is kept: {shown}");
    let fresh = form_field(&shown, &action, "nonce");
    assert_ne!(fresh, old, "the page comes with a fresh form");
    assert!(writes(&app, "POST", "/comment").is_empty(), "nothing reached Jira");
    assert_eq!(app.stored_count("threelo:nonce:"), 0, "no nonce stored for it");
    let again =
        app.post_form(&action, &[("csrf", csrf.as_str()), ("nonce", &fresh), ("body", "Left open overnight")]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "the fresh form goes through");
    // A form "made" in the future, or with no time (from before an upgrade), is shown again too.
    for odd in [format!("{}_AAAAAAAAAAAAAAAAAAAAAA", made + 86_400), "B".repeat(22)] {
        let response = app.post_form(&action, &[("csrf", csrf.as_str()), ("nonce", &odd), ("body", "typed")]).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{odd}");
        assert!(response.text().await.unwrap().contains(">typed</textarea>"));
    }
    let response = app.post_form(&action, &[("csrf", csrf.as_str()), ("nonce", "not a nonce!"), ("body", "x")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "malformed is still a bad request");
}

#[tokio::test]
async fn scripted_writes_stop_at_the_accounts_budget_and_store_at_most_that_many_nonces() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let csrf = form_field(&page, &action, "csrf");
    let budget = threelo::nonce::WRITES.calls as usize;
    let now = threelo::clock::unix_now();
    let mut allowed = 0;
    let mut refused = None;
    // A window may turn during the run (then up to twice the budget goes through), never more.
    for i in 0..2 * budget + 1 {
        // Fresh nonces a script could make up: each one would claim a key of its own.
        let nonce = format!("{now}_script{i:016}");
        let body = format!("scripted {i}");
        let response = app.post_form(&action, &[("csrf", csrf.as_str()), ("nonce", &nonce), ("body", &body)]).await;
        match response.status() {
            StatusCode::SEE_OTHER => allowed += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some(response.text().await.unwrap());
                break;
            }
            other => panic!("write {i} answered {other}"),
        }
    }
    let shown = refused.expect("the budget ran out");
    assert!(shown.contains("the most threelo sends for one account") && shown.contains(">scripted "), "{shown}");
    assert!((budget..=2 * budget).contains(&allowed), "{allowed} writes went through");
    assert_eq!(app.stored_count("threelo:nonce:"), allowed, "a nonce key only for a write that was made");
    assert_eq!(writes(&app, "POST", "/comment").len(), allowed, "each allowed one wrote once");
}

#[tokio::test]
async fn a_transition_moves_the_issue_and_answers_303_back() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    assert!(!page.contains(">Done → Done<"), "a transition named like its status is shown once");
    let action = format!("{path}/transitions");
    let (nonce, transition) = transition_button(&page, &action, "Done");
    let csrf = form_field(&page, &action, "csrf");
    let form = [("csrf", csrf.as_str()), ("nonce", nonce.as_str()), ("transition", transition.as_str())];
    let response = app.post_form(&action, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(response.headers()), app.url(&path));
    assert_eq!(app.post_form(&action, &form).await.status(), StatusCode::SEE_OTHER, "sent again: same answer");
    assert_eq!(writes(&app, "POST", "/transitions").len(), 1, "moved once");
    let after = app.page(&path).await;
    assert!(after.contains("<dt>Status</dt><dd>Done</dd>"), "{after}");
}

#[tokio::test]
async fn assign_to_me_assigns_the_issue_with_the_users_account_id() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(BOBS_ISSUE);
    let page = app.page(&path).await;
    assert!(page.contains("<dt>Assignee</dt><dd>Bob Builder</dd>"), "{page}");
    let action = format!("{path}/assignee");
    let form = [("csrf", form_field(&page, &action, "csrf")), ("nonce", form_field(&page, &action, "nonce"))];
    let response = app.client.post(app.url(&action)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(writes(&app, "PUT", "/assignee").len(), 1);
    let after = app.page(&path).await;
    assert!(after.contains(&format!("<dt>Assignee</dt><dd>{ALICE_NAME}</dd>")), "{after}");
    assert!(!after.contains(&action), "no “Assign to me” once it is yours");
}

/// Posts `text` as a comment on the showcase issue; returns the answer.
async fn post_comment(app: &TestApp, text: &str) -> reqwest::Response {
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let form = [("csrf", form_field(&page, &action, "csrf")), ("nonce", form_field(&page, &action, "nonce"))];
    let form = [form[0].clone(), form[1].clone(), ("body", text.to_owned())];
    app.client.post(app.url(&action)).form(&form).send().await.unwrap()
}

#[tokio::test]
async fn a_sites_429_on_a_write_is_remembered_and_a_write_during_the_wait_keeps_the_typed_text() {
    let app = signed_in_with_all_scopes().await;
    let prefix = format!("/ex/jira/{}/rest/api/3/issue/{SHOWCASE_ISSUE}/comment", site(ACME_SITE));
    // The site's burst limit (not the issue's): Atlassian asks the whole app to wait 60 s.
    // Two forms, loaded while the site still answers.
    let path = issue_path(SHOWCASE_ISSUE);
    let action = format!("{path}/comments");
    let forms: Vec<(String, String)> = {
        let mut forms = Vec::new();
        for _ in 0..2 {
            let page = app.page(&path).await;
            forms.push((form_field(&page, &action, "csrf"), form_field(&page, &action, "nonce")));
        }
        forms
    };
    let send = |(csrf, nonce): &(String, String), body: &str| {
        let form = [("csrf", csrf.clone()), ("nonce", nonce.clone()), ("body", body.to_owned())];
        app.client.post(app.url(&action)).form(&form).send()
    };
    app.emulator.inject_on("POST", &prefix, Fault { status: 429, retry_after: Some(60) }, 1);
    let first = send(&forms[0], "First try").await.unwrap();
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(first.text().await.unwrap().contains(">First try</textarea>"));
    let sent = writes(&app, "POST", "/comment").len();
    let reads = app.emulator.count("/ex/jira");
    // Remembered: the next write makes no call at all, and the page still holds the text even
    // though the issue cannot be loaded during the wait.
    let second = send(&forms[1], "Second try").await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = second.text().await.unwrap();
    assert!(page.contains("Atlassian asked threelo to slow down"), "{page}");
    assert!(page.contains(">Second try</textarea>"), "the text is kept: {page}");
    assert_eq!(writes(&app, "POST", "/comment").len(), sent, "no write was sent during the wait");
    assert_eq!(app.emulator.count("/ex/jira"), reads, "nor any read of the site");
    let issue = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(issue.status(), StatusCode::SERVICE_UNAVAILABLE, "pages wait too");
}

#[tokio::test]
async fn after_jiras_per_issue_write_limit_the_page_explains_and_keeps_the_typed_comment() {
    let app = signed_in_with_all_scopes().await;
    app.emulator.limit_writes(SHOWCASE_ISSUE, 1, 7);
    let typed = "Careful <b>now</b> & \"then\"";
    let response = post_comment(&app, typed).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "no redirect: the text would be lost");
    let page = response.text().await.unwrap();
    assert!(page.contains("Jira limits how often one issue can be changed"), "{page}");
    assert!(page.contains("Wait 7 seconds"), "{page}");
    assert!(page.contains(">Careful &#60;b&#62;now&#60;/b&#62; &#38; &#34;then&#34;</textarea>"), "{page}");
    assert_eq!(writes(&app, "POST", "/comment").len(), 1, "the POST was not retried");
    assert!(app.emulator.comments(ACME_SITE, SHOWCASE_ISSUE).iter().all(|c| !c.contains("Careful")));
    // The limit has passed: sending it again from the re-rendered form works.
    let again = post_comment(&app, typed).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.emulator.comments(ACME_SITE, SHOWCASE_ISSUE).iter().filter(|c| c.contains("Careful")).count(), 1);
}

#[tokio::test]
async fn after_a_500_the_page_says_it_may_have_happened_keeps_the_text_and_does_not_retry() {
    let app = signed_in_with_all_scopes().await;
    let prefix = format!("/ex/jira/{}/rest/api/3/issue/{SHOWCASE_ISSUE}/comment", site(ACME_SITE));
    app.emulator.inject_on("POST", &prefix, Fault { status: 500, retry_after: None }, 5);
    let response = post_comment(&app, "Typed with care").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("It may or may not have been made"), "{page}");
    assert!(page.contains(">Typed with care</textarea>"), "{page}");
    assert_eq!(writes(&app, "POST", "/comment").len(), 1, "one try, never repeated");
}

#[tokio::test]
async fn after_a_timeout_the_page_says_it_may_have_happened_and_keeps_the_text() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let form = [("csrf", form_field(&page, &action, "csrf")), ("nonce", form_field(&page, &action, "nonce"))];
    // Longer than THREELO_UPSTREAM_TIMEOUT (2 s in tests).
    let prefix = format!("/ex/jira/{}/rest/api/3/issue/{SHOWCASE_ISSUE}/comment", site(ACME_SITE));
    app.emulator.set_latency(&prefix, std::time::Duration::from_secs(3));
    let body = [form[0].clone(), form[1].clone(), ("body", "Slow network".to_owned())];
    let response = app.client.post(app.url(&action)).form(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let page = response.text().await.unwrap();
    assert!(page.contains("Atlassian did not answer in time") && page.contains("may or may not have been made"));
    assert!(page.contains(">Slow network</textarea>"), "{page}");
    assert_eq!(writes(&app, "POST", "/comment").len(), 1, "not retried after the timeout");
    // The outcome is unknown, so the same form is not sent again by itself.
    app.emulator.set_latency(&prefix, std::time::Duration::ZERO);
    let again = app.client.post(app.url(&action)).form(&body).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "the nonce stays claimed");
    assert_eq!(writes(&app, "POST", "/comment").len(), 1);
}

#[tokio::test]
async fn after_a_403_the_page_says_what_to_do_and_keeps_the_text() {
    let app = signed_in_with_all_scopes().await;
    let prefix = format!("/ex/jira/{}/rest/api/3/issue/{SHOWCASE_ISSUE}/comment", site(ACME_SITE));
    app.emulator.inject_on("POST", &prefix, Fault { status: 403, retry_after: None }, 1);
    let response = post_comment(&app, "Not allowed?").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains("Ask the project&#39;s administrators for the permission"), "{page}");
    assert!(page.contains(">Not allowed?</textarea>"), "{page}");
}

#[tokio::test]
async fn an_empty_comment_is_refused_without_a_call_to_jira() {
    let app = signed_in_with_all_scopes().await;
    let response = post_comment(&app, " \r\n ").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("it is empty"));
    assert!(writes(&app, "POST", "/comment").is_empty());
}

#[tokio::test]
async fn a_write_from_another_origin_is_refused_before_anything_happens() {
    let app = signed_in_with_all_scopes().await;
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.page(&path).await;
    let action = format!("{path}/comments");
    let form = [("csrf", form_field(&page, &action, "csrf")), ("nonce", form_field(&page, &action, "nonce"))];
    let response = app
        .client
        .post(app.url(&action))
        .header("Origin", "https://evil.example")
        .form(&[form[0].clone(), form[1].clone(), ("body", "x".to_owned())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(writes(&app, "POST", "/comment").is_empty());
}

#[tokio::test]
async fn a_new_scope_is_offered_once_and_consenting_returns_to_the_same_issue() {
    // Signed in under the old configuration; the operator then adds write:jira-work.
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let upgraded = app.spawn_sibling(&[("THREELO_SCOPES", ALL_SCOPES)]).await;
    let at = |path: &str| format!("{upgraded}{path}");
    let path = issue_path(SHOWCASE_ISSUE);
    let page = app.client.get(at(&path)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Allow threelo to change issues"), "{page}");
    assert!(page.contains("Release 4.2 checklist"), "the issue still reads: {page}");
    assert!(!page.contains(&format!("{path}/comments")), "no comment form without the scope");
    assert!(writes(&app, "GET", "/transitions").is_empty(), "no transitions asked for without the scope");

    let csrf = form_field(&page, "/auth/consent", "csrf");
    let return_to = form_field(&page, "/auth/consent", "return_to");
    assert_eq!(return_to, path);
    let consent = app
        .client
        .post(at("/auth/consent"))
        .form(&[("csrf", csrf.as_str()), ("return_to", return_to.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    let authorize = location(consent.headers());
    let scope = support::query_param(&authorize, "scope").expect("a scope parameter");
    assert_eq!(scope, ALL_SCOPES.split_whitespace().collect::<Vec<_>>().join(" "), "the full configured list");
    let back = app.client.get(&authorize).send().await.unwrap();
    let callback = app.client.get(location(back.headers())).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(callback.headers()), at(&path), "back on the same issue");

    let after = app.client.get(at(&path)).send().await.unwrap().text().await.unwrap();
    assert!(after.contains(&format!("{path}/comments")), "the comment form is there: {after}");
    assert!(!after.contains("Allow threelo to change issues"));
    let account = app.client.get(at("/account")).send().await.unwrap().text().await.unwrap();
    assert!(!account.contains("Not granted yet"), "nothing is missing any more");
}

#[tokio::test]
async fn pages_that_do_not_need_the_new_scope_keep_working_before_the_upgrade() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let upgraded = app.spawn_sibling(&[("THREELO_SCOPES", ALL_SCOPES)]).await;
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{upgraded}{path}");
        async move { client.get(url).send().await.unwrap() }
    };
    for path in [
        "/".to_owned(),
        format!("/sites/{}/jira/issues", site(ACME_SITE)),
        format!("/sites/{}/confluence/spaces", site(ACME_SITE)),
        "/sites".to_owned(),
    ] {
        assert_eq!(get(path.clone()).await.status(), StatusCode::OK, "{path}");
    }
    let account = get("/account".to_owned()).await.text().await.unwrap();
    assert!(account.contains("Not granted yet"), "{account}");
    assert!(account.contains("write:jira-work") && account.contains("search:confluence"));
    let search = get("/search?q=release".to_owned()).await;
    assert_eq!(search.status(), StatusCode::OK);
    let search = search.text().await.unwrap();
    assert!(search.contains(&issue_path(SHOWCASE_ISSUE)), "Jira search needs no new scope: {search}");
    assert!(search.contains("Allow threelo to search Confluence"), "{search}");
    assert!(searches(&app, "/wiki/rest/api/search").is_empty(), "no CQL search without search:confluence");
    // A write sent anyway (an old form) makes no call and offers the consent.
    let page = get(issue_path(SHOWCASE_ISSUE)).await.text().await.unwrap();
    let csrf = form_field(&page, "/auth/consent", "csrf");
    let response = app
        .client
        .post(format!("{upgraded}{}/comments", issue_path(SHOWCASE_ISSUE)))
        .form(&[("csrf", csrf.as_str()), ("nonce", "AAAAAAAAAAAAAAAAAAAAAA"), ("body", "hello")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let refused = response.text().await.unwrap();
    assert!(refused.contains("has not given threelo permission for this (write:jira-work is missing)"), "{refused}");
    assert!(refused.contains(" readonly>hello</textarea>"), "the typed text is kept to copy: {refused}");
    assert!(writes(&app, "POST", "/comment").is_empty(), "no write reached Jira");
}
