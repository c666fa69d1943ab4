//! The Jira and Confluence pages: sites, paging, failures from Atlassian, and hostile content.

mod support;

use std::collections::HashSet;

use reqwest::StatusCode;
use support::{TestApp, browser_with_jar};
use threelo_emulator::seed::ids::{
    ACME_PROJECT, ACME_SITE, BETA_PROJECT, BETA_SITE, BOB, HOSTILE_PAGE, IMG_ISSUE, OFFLINE_ACCESS, READ_JIRA_USER,
    READ_JIRA_WORK, READ_ME, READ_PAGE_CONFLUENCE, READ_SPACE_CONFLUENCE, RESTRICTED_ISSUES, SCRIPT_ISSUE,
    SHOWCASE_ISSUE, UNICODE_ISSUE,
};
use threelo_emulator::{Emulator, Fault};

fn site(name: &str) -> &'static str {
    Emulator::sites().iter().find(|s| s.name == name).expect("seed site").cloud_id
}

fn issues_path(name: &str) -> String {
    format!("/sites/{}/jira/issues", site(name))
}

/// Every `href="…"` in a page.
fn links(page: &str) -> Vec<String> {
    page.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(|s| s.replace("&amp;", "&")).collect()
}

#[tokio::test]
async fn the_dashboard_lists_open_issues_from_every_jira_site() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let page = app.page("/").await;
    assert!(page.contains(SHOWCASE_ISSUE) && page.contains(&format!("{BETA_PROJECT}-")), "{page}");
    assert!(page.contains(&issues_path(ACME_SITE)) && page.contains(&issues_path(BETA_SITE)));
}

#[tokio::test]
async fn one_failing_site_shows_a_notice_while_the_others_render() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let beta = format!("/ex/jira/{}", site(BETA_SITE));
    app.emulator.inject(&beta, Fault { status: 500, retry_after: None }, 2);
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains(SHOWCASE_ISSUE), "acme still renders");
    assert!(page.contains("Atlassian did not answer for this site"), "{page}");
}

#[tokio::test]
async fn paging_walks_every_open_issue_exactly_once() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let mut next = Some(issues_path(ACME_SITE));
    let mut keys = Vec::new();
    let mut pages = 0;
    while let Some(path) = next.take() {
        pages += 1;
        assert!(pages < 20, "paging does not end");
        let page = app.page(&path).await;
        let prefix = format!("{}/{ACME_PROJECT}-", issues_path(ACME_SITE));
        for link in links(&page) {
            if let Some(key) = link.strip_prefix(&prefix) {
                keys.push(format!("{ACME_PROJECT}-{key}"));
            }
        }
        next = links(&page).into_iter().find(|l| l.contains("?page="));
    }
    // Each issue is linked twice per row (key and summary).
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), unique.len() * 2, "no issue repeats across pages");
    assert_eq!(unique.len(), 163, "alice's open, visible issues on acme");
    assert!(!unique.contains(&RESTRICTED_ISSUES[0].to_owned()), "restricted issues are not listed");
    assert!(pages >= 4, "50 per page");
}

#[tokio::test]
async fn a_malformed_page_token_is_a_bad_request_and_makes_no_call() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let before = app.emulator.count("/ex/");
    let response = app.get(&format!("{}?page=%3Cscript%3E", issues_path(ACME_SITE))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.emulator.count("/ex/"), before);
}

#[tokio::test]
async fn unknown_and_foreign_cloud_ids_are_not_found_without_an_upstream_call() {
    let app = TestApp::spawn().await;
    let (bob, _) = browser_with_jar();
    app.emulator.set_consent(threelo_emulator::ConsentMode::Accept { login: BOB.to_owned() });
    support::sign_in(&bob, &app.url("/auth/login")).await;
    let before = app.emulator.count("/ex/");
    let foreign = site(BETA_SITE); // bob has no access to beta
    for id in ["00000000-0000-4000-8000-000000000000", "not-a-uuid", &foreign.to_uppercase(), foreign] {
        for path in [format!("/sites/{id}/jira/issues"), format!("/sites/{id}/jira/issues/{SHOWCASE_ISSUE}")] {
            let response = bob.get(app.url(&path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
    assert_eq!(app.emulator.count("/ex/"), before, "no call reached a product");
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_retry_after_and_then_succeeds() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let prefix = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&prefix, Fault { status: 429, retry_after: Some(1) }, 1);
    let before = app.emulator.count(&prefix);
    let response = app.get(&issues_path(ACME_SITE)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.emulator.count(&prefix) - before, 2, "one 429, one success");
}

#[tokio::test]
async fn a_rate_limit_beyond_the_retry_budget_is_a_503_page_with_retry_after() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let prefix = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&prefix, Fault { status: 429, retry_after: Some(20) }, 5);
    let response = app.get(&issues_path(ACME_SITE)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("retry-after").unwrap(), "20");
    let page = response.text().await.unwrap();
    assert!(page.contains("Atlassian asked us to slow down") && page.contains("20 s"), "{page}");
}

#[tokio::test]
async fn a_server_error_twice_is_a_502_page() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let prefix = format!("/ex/jira/{}", site(ACME_SITE));
    app.emulator.inject(&prefix, Fault { status: 500, retry_after: None }, 2);
    let response = app.get(&issues_path(ACME_SITE)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("Atlassian is not answering properly"));
}

#[tokio::test]
async fn an_issue_the_account_may_not_see_is_a_404_not_found_or_not_yours_page_that_keeps_the_session() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let resources = app.emulator.count("/oauth/token/accessible-resources");
    for _ in 0..3 {
        let response = app.get(&format!("{}/{}", issues_path(ACME_SITE), RESTRICTED_ISSUES[0])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "Jira's 404 stays a 404, never a 403 or 500");
        let page = response.text().await.unwrap();
        assert!(page.contains("Not found, or not yours to see") && page.contains("no permission"), "{page}");
        assert!(!page.contains("Sign in again"), "not a sign-in problem: {page}");
    }
    // The site list was read at sign-in, moments ago: the 404s do not send it back to Atlassian.
    assert_eq!(app.emulator.count("/oauth/token/accessible-resources"), resources);
    assert_eq!(app.emulator.token_grants("refresh_token"), 0, "a 404 is no reason to refresh");
    assert_eq!(app.get(&issues_path(ACME_SITE)).await.status(), StatusCode::OK, "still signed in");
}

#[tokio::test]
async fn a_missing_scope_names_the_scope_and_is_never_refreshed() {
    let scopes = &format!("{READ_ME} {READ_JIRA_USER} {READ_JIRA_WORK} {READ_SPACE_CONFLUENCE} {OFFLINE_ACCESS}");
    let app = TestApp::spawn_with(&[("THREELO_SCOPES", scopes)]).await;
    app.sign_in().await;
    let response = app.get(&format!("/sites/{}/confluence/pages/{HOSTILE_PAGE}", site(ACME_SITE))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let page = response.text().await.unwrap();
    assert!(page.contains(READ_PAGE_CONFLUENCE) && page.contains("developer console"), "{page}");
    assert_eq!(app.emulator.token_grants("refresh_token"), 0, "a scope problem is not an expired token");
}

#[tokio::test]
async fn an_issue_page_renders_fields_and_its_description() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let response = app.get(&format!("{}/{UNICODE_ISSUE}", issues_path(ACME_SITE))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains(UNICODE_ISSUE) && page.contains("Status") && page.contains("Description"), "{page}");
}

#[tokio::test]
async fn confluence_spaces_list_their_pages_and_a_page_shows_its_body() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let spaces = app.get(&format!("/sites/{}/confluence/spaces", site(ACME_SITE))).await.text().await.unwrap();
    // askama escapes with numeric entities.
    assert!(spaces.contains("People &#38; Culture"), "{spaces}");
    let page_link = links(&spaces).into_iter().find(|l| l.contains("/confluence/pages/")).expect("a page link");
    assert_eq!(app.get(&page_link).await.status(), StatusCode::OK);
    let beta = app.get(&format!("/sites/{}/confluence/spaces", site(BETA_SITE))).await;
    assert_eq!(beta.status(), StatusCode::NOT_FOUND, "beta has no Confluence");
}

#[tokio::test]
async fn hostile_content_from_atlassian_is_rendered_inert() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let list = app.page(&issues_path(ACME_SITE)).await;
    let acme = issues_path(ACME_SITE);
    let issue_1 = app.page(&format!("{acme}/{SHOWCASE_ISSUE}")).await;
    let issue_2 = app.page(&format!("{acme}/{SCRIPT_ISSUE}")).await;
    let issue_3 = app.page(&format!("{acme}/{IMG_ISSUE}")).await;
    let wiki =
        app.get(&format!("/sites/{}/confluence/pages/{HOSTILE_PAGE}", site(ACME_SITE))).await.text().await.unwrap();
    assert!(list.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "the hostile summary is shown, escaped");
    for (name, page) in
        [("list", &list), (SHOWCASE_ISSUE, &issue_1), (SCRIPT_ISSUE, &issue_2), (IMG_ISSUE, &issue_3), ("wiki", &wiki)]
    {
        for tag in tags(page) {
            let name_of_tag = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
            assert!(
                !["script", "iframe", "style", "svg", "form", "object", "embed", "input"].contains(&name_of_tag),
                "{name}: a live <{tag}>"
            );
            let attributes: Vec<&str> = tag.split_whitespace().skip(1).collect();
            for attribute in attributes {
                assert!(!attribute.starts_with("on"), "{name}: an event handler in <{tag}>");
                assert!(!attribute.starts_with("style"), "{name}: inline style in <{tag}>");
                assert!(
                    !attribute.contains("javascript:") && !attribute.contains("data:"),
                    "{name}: a script URL in <{tag}>"
                );
            }
        }
    }
}

/// Every tag of the page's main content the browser would parse: the text between `<` and `>`,
/// lower-cased (escaped text such as `&#60;script&#62;` is not a tag). The header, with our own
/// sign-out form, is left out.
fn tags(page: &str) -> Vec<String> {
    let main = page.split("<main").nth(1).and_then(|rest| rest.split("</main>").next()).expect("a <main>");
    main.split('<').skip(1).filter_map(|rest| rest.split('>').next()).map(str::to_ascii_lowercase).collect()
}

#[tokio::test]
async fn the_stylesheet_has_a_fingerprinted_name_and_is_kept_for_a_year() {
    let app = TestApp::spawn().await;
    let landing = app.page("/").await;
    let href = links(&landing).into_iter().find(|l| l.starts_with("/static/app.") && l.ends_with(".css")).unwrap();
    assert_ne!(href, "/static/app.css", "the name carries the content's hash");
    let css = app.get(&href).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let signed_in_page = app.get("/").await;
    assert_eq!(signed_in_page.headers()["cache-control"], "no-store", "pages are never kept");
    assert_eq!(app.get("/static/app.0000.css").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_icon_is_served_at_favicon_ico_and_named_by_every_page() {
    let app = TestApp::spawn().await;
    for path in ["/favicon.ico", "/static/favicon.svg"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml", "{path}");
        assert!(response.text().await.unwrap().starts_with("<svg"), "{path}");
    }
    let landing = app.page("/").await;
    assert!(landing.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""), "{landing}");
    assert!(landing.contains("<meta name=\"description\" content=\""), "the landing page describes itself");
}

#[tokio::test]
async fn every_navigation_landmark_is_labelled_and_no_table_header_is_empty() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let acme = site(ACME_SITE);
    for path in [
        "/".to_owned(),
        "/sites".to_owned(),
        issues_path(ACME_SITE),
        format!("{}/{SHOWCASE_ISSUE}", issues_path(ACME_SITE)),
        format!("/sites/{acme}/confluence/spaces"),
        "/account".to_owned(),
        "/search?q=release".to_owned(),
        "/no/such/page".to_owned(),
    ] {
        let page = app.page(&path).await;
        assert!(page.contains("aria-label=\"Account\""), "{path}: the header is there");
        for nav in page.split("<nav").skip(1) {
            let tag = nav.split('>').next().unwrap_or_default();
            assert!(tag.contains("aria-label=\""), "{path}: an unlabelled <nav{tag}>");
        }
        assert!(!page.contains("<th></th>"), "{path}: an empty table header");
    }
}

#[tokio::test]
async fn two_tabs_loading_the_dashboard_at_once_share_one_call_per_site() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    // Slow enough that both tabs' calls overlap.
    app.emulator.set_latency("/ex/jira", std::time::Duration::from_millis(400));
    let before = app.emulator.count("/ex/jira");
    let (one, two) = tokio::join!(app.page("/"), app.page("/"));
    for page in [&one, &two] {
        assert!(page.contains(SHOWCASE_ISSUE), "both tabs show the issues");
    }
    assert_eq!(app.emulator.count("/ex/jira") - before, 2, "one call for each of the two Jira sites");
}
