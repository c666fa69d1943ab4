//! Atlassian's "slow down" is honoured: after a 429 nobody calls Atlassian again for that
//! account, site and product until the wait is over, on any instance, and a page spends at most
//! one retry.

mod support;

use reqwest::StatusCode;
use support::{TestApp, browser_with_jar};
use threelo_emulator::seed::ids::{ACME_SITE, BETA_SITE};
use threelo_emulator::{Emulator, Fault, Limit};

fn site(name: &str) -> &'static str {
    Emulator::sites().iter().find(|s| s.name == name).expect("seed site").cloud_id
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn after_a_long_429_page_views_answer_503_at_once_without_calling_atlassian() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let jira = format!("/ex/jira/{}", site(ACME_SITE));
    let issues = format!("/sites/{}/jira/issues", site(ACME_SITE));
    app.emulator.inject(&jira, Fault { status: 429, retry_after: Some(120) }, 1);
    let first = app.get(&issues).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&first), 120);
    let calls = app.emulator.count(&jira);
    for _ in 0..5 {
        let again = app.get(&issues).await;
        assert_eq!(again.status(), StatusCode::SERVICE_UNAVAILABLE);
        let left = retry_after(&again);
        assert!((1..=120).contains(&left), "the wait counts down: {left}");
        assert!(again.text().await.unwrap().contains("Atlassian asked us to slow down"));
    }
    assert_eq!(app.emulator.count(&jira), calls, "no call reached Jira while it asked us to wait");
}

#[tokio::test]
async fn a_short_429_costs_a_page_at_most_one_retry() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let jira = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&jira, Fault { status: 429, retry_after: Some(1) }, 10);
    let before = app.emulator.count(&jira);
    let response = app.get(&format!("/sites/{}/jira/issues", site(ACME_SITE))).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.emulator.count(&jira) - before, 2, "one call and one retry, no more");
}

#[tokio::test]
async fn a_wait_for_one_site_and_product_leaves_the_others_working() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let acme = site(ACME_SITE);
    app.emulator.inject(&format!("/ex/jira/{acme}"), Fault { status: 429, retry_after: Some(120) }, 1);
    let limited = app.get(&format!("/sites/{acme}/jira/issues")).await;
    assert_eq!(limited.status(), StatusCode::SERVICE_UNAVAILABLE);
    let other_site = app.get(&format!("/sites/{}/jira/issues", site(BETA_SITE))).await;
    assert_eq!(other_site.status(), StatusCode::OK, "another site's Jira");
    let other_product = app.get(&format!("/sites/{acme}/confluence/spaces")).await;
    assert_eq!(other_product.status(), StatusCode::OK, "the same site's Confluence");
    let dashboard = app.page("/").await;
    assert!(dashboard.contains("Atlassian asked us to slow down"), "the dashboard says so for acme: {dashboard}");
}

#[tokio::test]
async fn another_instance_and_another_browser_of_the_account_wait_too() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let jira = format!("/ex/jira/{}", site(ACME_SITE));
    let issues = format!("/sites/{}/jira/issues", site(ACME_SITE));
    app.emulator.inject(&jira, Fault { status: 429, retry_after: Some(120) }, 1);
    assert_eq!(app.get(&issues).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    let calls = app.emulator.count(&jira);

    let sibling = app.spawn_sibling(&[]).await;
    let (other, _) = browser_with_jar();
    assert_eq!(support::sign_in(&other, &format!("{sibling}/auth/login")).await.status(), StatusCode::SEE_OTHER);
    let there = other.get(format!("{sibling}{issues}")).send().await.unwrap();
    assert_eq!(there.status(), StatusCode::SERVICE_UNAVAILABLE, "the other instance knows from Redis");
    assert!(retry_after(&there) <= 120);
    assert_eq!(app.emulator.count(&jira), calls, "and did not call Jira to find out");
}

#[tokio::test]
async fn without_retry_after_the_wait_runs_until_atlassians_x_ratelimit_reset() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let jira = format!("/ex/jira/{}", site(ACME_SITE));
    let issues = format!("/sites/{}/jira/issues", site(ACME_SITE));
    // The emulator then announces the end of the wait only in X-RateLimit-Reset: 60 s from now.
    app.emulator.inject_limit(&jira, Limit::GlobalQuota, None, 1);
    let first = app.get(&issues).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    let wait = retry_after(&first);
    assert!((58..=61).contains(&wait), "the wait comes from the reset, not a guess of 30 s: {wait}");
    let calls = app.emulator.count(&jira);
    assert_eq!(app.get(&issues).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.emulator.count(&jira), calls, "and it is honoured like a Retry-After");
}

#[tokio::test]
async fn when_atlassian_says_the_quota_is_nearly_spent_the_page_says_so_and_still_works() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let issues = format!("/sites/{}/jira/issues", site(ACME_SITE));
    let notice = "Atlassian says threelo has nearly used up the requests it may make to acme this hour";
    let before = app.get(&issues).await.text().await.unwrap();
    assert!(!before.contains("quota-notice"), "no notice without the header: {before}");
    app.emulator.set_near_limit(true);
    let response = app.get(&issues).await;
    assert_eq!(response.status(), StatusCode::OK, "a notice, not an error");
    let page = response.text().await.unwrap();
    assert!(page.contains(notice), "{page}");
    assert!(page.contains("ACME-"), "the issues are listed as usual");
    let dashboard = app.get("/").await.text().await.unwrap();
    assert!(dashboard.contains("nearly used up the requests it may make to"), "{dashboard}");
    app.emulator.set_near_limit(false);
    let after = app.get(&issues).await.text().await.unwrap();
    assert!(!after.contains("quota-notice"), "the notice is about the answers of this page only");
    assert_eq!(app.stored_count("threelo:ratelimit:"), 0, "nothing is stored for it");
}
