//! threelo in a real browser: headless Chromium (through chromedriver) signs in on the emulator's
//! consent page, reads Jira and Confluence pages and signs out, with the app behind nginx under
//! `/atl`. After every page each test asserts that the browser logged no console error and no CSP
//! violation, that the session cookie as the browser stores it is what we mean it to be, and that
//! no token or code is in the page or in the browser's storage. Screenshots of the main pages go
//! to `target/screenshots/`, for a person to look at.

mod support;

use std::time::Duration;

use fantoccini::Locator;
use support::TestApp;
use support::browser::{Browser, LogEntry};
use support::nginx::Nginx;
use threelo_emulator::ConsentMode;
use threelo_emulator::seed::ids::{ALICE, ALICE_NAME, SHOWCASE_ISSUE, UNICODE_ISSUE};

const PREFIX: &str = "/atl";

/// The app behind nginx under `/atl` (with its emulator and Redis), and a browser.
struct Scene {
    app: TestApp,
    _nginx: Nginx,
    browser: Browser,
}

impl Scene {
    async fn start(extra: &[(&str, &str)]) -> Scene {
        // Chromium starts while the app does.
        let (browser, (app, nginx, _)) = tokio::join!(Browser::start(), TestApp::spawn_behind_nginx(PREFIX, extra));
        Scene { app, _nginx: nginx, browser }
    }

    /// Our public URL of `path` (which leaves out the prefix).
    fn url(&self, path: &str) -> String {
        self.app.url(&format!("{PREFIX}{path}"))
    }

    /// Opens the start page and signs alice in without a consent page (the emulator accepts at once).
    async fn sign_in_without_a_click(&self) {
        self.app.emulator.set_consent(ConsentMode::Accept { login: ALICE.to_owned() });
        self.browser.goto(&self.url("/")).await;
        self.browser.click_link("Sign in with Atlassian").await;
        self.browser.wait_for_text(&format!("Signed in as {ALICE_NAME}")).await;
        assert!(self.has_cookie("threelo").await, "signed in, the browser holds the session cookie");
        self.check("the dashboard").await;
    }

    /// What every page must satisfy (see the module comment); `page` names it in failures.
    async fn check(&self, page: &str) {
        self.check_allowing(page, |_| false).await;
    }

    /// [`Scene::check`], also allowing the log entries `allowed` picks (e.g. an error page's own status).
    async fn check_allowing(&self, page: &str, allowed: impl Fn(&LogEntry) -> bool) {
        let browser = &self.browser;
        let entries = browser.new_log_entries().await;
        let problems: Vec<LogEntry> = entries
            .into_iter()
            .filter(|e| e.level == "SEVERE" || e.is_csp_violation())
            .filter(|e| !is_not_ours(e) && !allowed(e))
            .collect();
        assert!(problems.is_empty(), "{page}: the browser reported problems: {problems:#?}");

        let url = browser.url().await;
        let source = browser.source().await;
        let storage = browser.storage().await;
        let cookies = browser.client().get_all_cookies().await.expect("the browser's cookies");
        assert!(
            storage.local.is_empty() && storage.session.is_empty(),
            "{page}: nothing belongs in web storage: {storage:?}"
        );
        assert_eq!(storage.cookie, "", "{page}: a script on the page can read cookies");
        // Failure messages name the place, never the secret.
        for secret in self.app.emulator.issued_secrets() {
            assert!(!source.contains(&secret), "{page}: a token, code or the client secret is in the page source");
            assert!(!url.contains(&secret), "{page}: a token, code or the client secret is in the address");
            assert!(
                !cookies.iter().any(|c| c.value().contains(&secret)),
                "{page}: a token, code or the client secret is in a cookie"
            );
        }
        if url.starts_with(&self.url("/")) {
            for cookie in &cookies {
                // Described without its value: failure output is no place for a session key.
                let shown = format!(
                    "{}: path {:?}, HttpOnly {:?}, SameSite {:?}, Secure {:?}, expires {:?}",
                    cookie.name(),
                    cookie.path(),
                    cookie.http_only(),
                    cookie.same_site(),
                    cookie.secure(),
                    cookie.expires()
                );
                // The session cookie, and while a sign-in is under way (another window), its own
                // short-lived cookie: nothing else.
                assert!(
                    matches!(cookie.name(), "threelo" | "threelo-signin"),
                    "{page}: only the session and sign-in cookies are set: {shown}"
                );
                assert_eq!(cookie.path(), Some(PREFIX), "{page}: the cookie is scoped to the prefix: {shown}");
                assert_eq!(cookie.http_only(), Some(true), "{page}: scripts cannot read the cookie: {shown}");
                let same_site = cookie.same_site().map(|s| s.to_string());
                assert_eq!(same_site.as_deref(), Some("Lax"), "{page}: sent on top-level navigations only: {shown}");
                assert_eq!(cookie.secure(), Some(false), "{page}: plain http cannot keep a Secure cookie: {shown}");
                if cookie.name() == "threelo" {
                    assert_eq!(cookie.expires(), None, "{page}: a browser-session cookie, with no expiry: {shown}");
                } else {
                    let expires = cookie.expires().and_then(|e| e.datetime()).map(|t| t.unix_timestamp());
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    assert!(expires.is_some_and(|t| t <= now + 600), "{page}: a sign-in lasts ten minutes: {shown}");
                }
            }
        }
    }

    /// Whether the browser holds the session cookie for the current page.
    async fn has_cookie(&self, name: &str) -> bool {
        let cookies = self.browser.client().get_all_cookies().await.expect("the browser's cookies");
        cookies.iter().any(|c| c.name() == name)
    }

    /// The issue keys in the issue table on the page.
    async fn issue_keys(&self) -> Vec<String> {
        let links =
            self.browser.client().find_all(Locator::Css("table.issues td.nowrap a")).await.expect("issue links");
        let mut keys = Vec::new();
        for link in links {
            keys.push(link.text().await.expect("link text"));
        }
        keys
    }

    async fn screenshot(&self, name: &str) {
        self.browser.screenshot(name).await;
    }

    async fn finish(self) {
        self.check("the end of the test").await;
        self.browser.close().await;
    }
}

/// Log entries that are not the app's doing:
/// - 404s for `/favicon.ico`: Chromium asks every origin for one at its root; nginx serves only
///   `/atl/`, and the emulator has none (a real Atlassian has one; that is not what we test);
/// - Atlassian's avatar images: the emulator hands out the real CDN addresses (`*.atl-paas.net`),
///   which this browser cannot resolve (it reaches nothing beyond loopback).
fn is_not_ours(entry: &LogEntry) -> bool {
    let favicon = entry.message.contains("/favicon.ico") && entry.message.contains("status of 404");
    let avatar = entry.message.contains(".atl-paas.net/") && entry.message.contains("ERR_NAME_NOT_RESOLVED");
    entry.source == "network" && (favicon || avatar)
}

#[tokio::test]
async fn signing_in_on_the_consent_page_lands_on_the_dashboard_with_the_users_issues() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    scene.app.emulator.set_consent(ConsentMode::Manual);
    browser.goto(&scene.url("/")).await;
    let landing = browser.wait_for_text("Sign in with Atlassian").await;
    assert!(!landing.contains("Signed in as"), "{landing}");
    scene.check("the landing page").await;
    scene.screenshot("landing").await;

    browser.click_link("Sign in with Atlassian").await;
    let consent = browser.wait_for_text("An app is requesting access").await;
    assert!(browser.url().await.starts_with(&format!("{}/authorize?", scene.app.emulator.base_url())));
    assert!(consent.contains(ALICE_NAME), "{consent}");
    scene.check("the consent page").await;
    scene.screenshot("consent").await;

    browser.click_button("Accept").await;
    let dashboard = browser.wait_for_text(&format!("Signed in as {ALICE_NAME}")).await;
    assert_eq!(browser.url().await, scene.url("/"), "the sign-in ends on the start page");
    assert!(dashboard.contains(SHOWCASE_ISSUE), "alice's issues are listed: {dashboard}");
    assert!(scene.has_cookie("threelo").await, "signed in, the browser holds the session cookie");
    let secrets = scene.app.emulator.issued_secrets().len();
    assert!(secrets >= 3, "the leak checks have a code and tokens to look for: {secrets}");
    scene.check("the dashboard").await;
    scene.screenshot("dashboard").await;
    scene.finish().await;
}

#[tokio::test]
async fn the_issue_list_pages_forward_and_an_issue_shows_its_description() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    scene.sign_in_without_a_click().await;

    browser.click_link("All your issues on acme →").await;
    browser.wait_for_text("Your open issues on acme").await;
    let first = scene.issue_keys().await;
    assert_eq!(first.len(), 50, "a full first page: {first:?}");
    scene.check("the issue list").await;
    scene.screenshot("issues").await;

    browser.click_link("Next page →").await;
    browser.wait_for_text("← First page").await;
    let second = scene.issue_keys().await;
    assert!(!second.is_empty(), "the second page lists issues");
    assert!(second.iter().all(|k| !first.contains(k)), "the second page repeats none of the first: {second:?}");
    scene.check("the second page of issues").await;
    scene.screenshot("issues-page-2").await;

    browser.click_link("← First page").await;
    browser.wait_for_text("Next page →").await;
    assert_eq!(scene.issue_keys().await, first, "back on the first page");
    browser.click_link(UNICODE_ISSUE).await;
    let issue = browser.wait_for_text("Support emoji 🎉 and accents").await;
    assert!(browser.url().await.ends_with(&format!("/jira/issues/{UNICODE_ISSUE}")), "{}", browser.url().await);
    assert!(issue.contains("Raised by the"), "the description renders: {issue}");
    let client = browser.client();
    let strong = client.find(Locator::Css("article.description strong")).await.expect("bold text in the description");
    assert_eq!(strong.text().await.unwrap(), "acceptance criteria", "rich text keeps its marks");
    let items = client.find_all(Locator::Css("article.description ul > li")).await.unwrap();
    assert_eq!(items.len(), 3, "the description's bullet list renders");
    scene.check("the issue page").await;
    scene.screenshot("issue").await;
    scene.finish().await;
}

#[tokio::test]
async fn a_confluence_page_opens_from_the_sites_page_and_hostile_content_stays_inert() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    scene.sign_in_without_a_click().await;

    browser.goto(&scene.url("/sites")).await;
    browser.wait_for_text("Your Atlassian sites").await;
    scene.check("the sites page").await;
    scene.screenshot("sites").await;

    browser.click_link("Confluence: spaces").await;
    browser.wait_for_text("Confluence spaces on acme").await;
    scene.check("the spaces page").await;
    scene.screenshot("confluence-spaces").await;

    browser.click_link("Engineering Home").await;
    let page = browser.wait_for_text("Welcome to Engineering").await;
    assert!(page.contains("design docs"), "{page}");
    scene.check("the Confluence page").await;
    scene.screenshot("confluence-page").await;

    // The page whose body tries every trick: nothing runs, nothing breaks the CSP.
    browser.client().back().await.expect("back to the spaces");
    browser.click_link("Security test page <script>alert('title')</script>").await;
    let hostile = browser.wait_for_text("This page exists to test sanitising").await;
    assert!(browser.client().get_alert_text().await.is_err(), "no alert is open");
    assert!(hostile.contains("Text with entities: <not a tag> & friends."), "{hostile}");
    scene.check("the hostile Confluence page").await;
    scene.screenshot("confluence-hostile").await;
    scene.finish().await;
}

#[tokio::test]
async fn cancelling_on_the_consent_page_shows_the_cancel_page() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    scene.app.emulator.set_consent(ConsentMode::Manual);
    browser.goto(&scene.url("/")).await;
    browser.click_link("Sign in with Atlassian").await;
    browser.wait_for_text("An app is requesting access").await;
    browser.click_button("Cancel").await;
    let cancelled = browser.wait_for_text("You cancelled the sign-in").await;
    assert!(!cancelled.contains("Signed in as"), "{cancelled}");
    assert_eq!(scene.app.emulator.token_grants("authorization_code"), 0, "no code was exchanged");
    assert!(!scene.has_cookie("threelo-signin").await, "the cancelled sign-in is forgotten");
    assert!(!scene.has_cookie("threelo").await, "a visitor who cancelled has no session");
    scene.check("the cancel page").await;
    scene.screenshot("cancelled").await;

    // An error page, while we are here: an address that does not exist.
    let missing = scene.url("/no/such/page");
    browser.goto(&missing).await;
    browser.wait_for_text("Page not found").await;
    let own_status = |e: &LogEntry| {
        e.message
            .starts_with(&format!("{missing} - Failed to load resource: the server responded with a status of 404"))
    };
    scene.check_allowing("the not-found page", own_status).await;
    scene.screenshot("error").await;
    scene.finish().await;
}

#[tokio::test]
async fn after_signing_out_the_back_button_shows_no_signed_in_content() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    scene.sign_in_without_a_click().await;
    browser.click_link(SHOWCASE_ISSUE).await;
    browser.wait_for_text("Release checklist for 4.2").await;
    scene.check("the issue page").await;
    // Whatever Back brings must not sign anyone in again by itself.
    scene.app.emulator.set_consent(ConsentMode::Manual);

    browser.click_button("Sign out").await;
    let signed_out = browser.text().await;
    assert_eq!(browser.url().await, scene.url("/"), "signing out ends on the start page, not on: {signed_out}");
    assert!(signed_out.contains("Sign in with Atlassian") && !signed_out.contains("Signed in as"), "{signed_out}");
    assert!(!scene.has_cookie("threelo").await, "signing out removes the session cookie");
    scene.check("the start page after signing out").await;

    browser.client().back().await.expect("Back");
    browser.wait_until_loaded().await;
    let after_back = browser.text().await;
    let source = browser.source().await;
    for shown in ["Signed in as", SHOWCASE_ISSUE, "Release checklist"] {
        assert!(!after_back.contains(shown) && !source.contains(shown), "Back shows “{shown}”: {after_back}");
    }
    // The issue page is fetched again (no-store): signed out, it sends the browser to sign in
    // (today) or shows a signed-out page of ours.
    let url = browser.url().await;
    let at_sign_in = url.starts_with(&format!("{}/authorize?", scene.app.emulator.base_url()));
    let signed_out_page = url.starts_with(&scene.url("/")) && after_back.contains("Sign in");
    assert!(at_sign_in || signed_out_page, "Back shows {url}: {after_back}");
    scene.check("the page Back shows").await;
    scene.finish().await;
}

#[tokio::test]
async fn two_windows_signing_in_at_once_both_end_signed_in() {
    let scene = Scene::start(&[]).await;
    let browser = &scene.browser;
    let client = browser.client();
    scene.app.emulator.set_consent(ConsentMode::Manual);
    let first = client.window().await.unwrap();
    browser.goto(&scene.url("/")).await;
    browser.click_link("Sign in with Atlassian").await;
    browser.wait_for_text("An app is requesting access").await;

    let second = client.new_window(false).await.expect("a second window").handle;
    client.switch_to_window(second.clone()).await.unwrap();
    browser.goto(&scene.url("/")).await;
    browser.click_link("Sign in with Atlassian").await;
    browser.wait_for_text("An app is requesting access").await;

    // The second window finishes first, then the first one.
    browser.click_button("Accept").await;
    browser.wait_for_text(&format!("Signed in as {ALICE_NAME}")).await;
    scene.check("the dashboard in the second window").await;
    client.switch_to_window(first.clone()).await.unwrap();
    browser.click_button("Accept").await;
    let dashboard = browser.wait_for_text(&format!("Signed in as {ALICE_NAME}")).await;
    assert!(dashboard.contains(SHOWCASE_ISSUE), "{dashboard}");
    scene.check("the dashboard in the first window").await;

    client.switch_to_window(second).await.unwrap();
    client.refresh().await.unwrap();
    browser.wait_for_text(&format!("Signed in as {ALICE_NAME}")).await;
    scene.check("the second window, reloaded").await;
    assert_eq!(scene.app.emulator.token_grants("authorization_code"), 2, "both sign-ins completed");
    assert_eq!(scene.app.stored_count("threelo:token:"), 1, "one browser, one session, one token record");
    scene.finish().await;
}

#[tokio::test]
async fn a_session_that_expires_while_the_page_is_open_signs_in_again_and_returns_there() {
    let scene = Scene::start(&[("THREELO_SESSION_IDLE_TIMEOUT", "2s")]).await;
    let browser = &scene.browser;
    scene.sign_in_without_a_click().await;
    browser.goto(&scene.url("/account")).await;
    browser.wait_for_text("Where you are signed in").await;
    scene.check("the account page").await;
    scene.screenshot("account").await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.client().refresh().await.expect("reload");
    browser.wait_for_text("Where you are signed in").await;
    assert_eq!(browser.url().await, scene.url("/account"), "back where the user was");
    assert_eq!(scene.app.emulator.token_grants("authorization_code"), 2, "through a fresh sign-in");
    scene.check("the account page after signing in again").await;
    scene.finish().await;
}

/// The default scopes plus the two that turn on writes and Confluence search.
const ALL_SCOPES: &str = "read:me read:jira-user read:jira-work read:space:confluence read:page:confluence \
                          offline_access write:jira-work search:confluence";

impl Scene {
    /// Types `text` into the field `css` picks.
    async fn type_into(&self, css: &str, text: &str) {
        let field = self.browser.client().find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        field.send_keys(text).await.unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// Fails when the page is wider than the window, `width` px (it would scroll sideways). On a
    /// phone the browser zooms out to show what sticks out, so `innerWidth` can grow with the
    /// page: the width asked for is the measure.
    async fn assert_no_sideways_scroll(&self, page: &str, width: u32) {
        let (document, window) = self.browser.widths().await;
        let window = window.min(f64::from(width));
        assert!(
            document <= window,
            "{page} scrolls sideways: the document is {document} px wide, the window {window} px"
        );
    }
}

#[tokio::test]
async fn searching_commenting_and_moving_an_issue_work_in_the_browser() {
    let scene = Scene::start(&[("THREELO_SCOPES", ALL_SCOPES)]).await;
    let browser = &scene.browser;
    scene.sign_in_without_a_click().await;

    scene.type_into("#q", "release").await;
    browser.click_button("Search").await;
    let results = browser.wait_for_text("Search for “release”").await;
    assert!(results.contains("Release checklist for 4.2") && results.contains("Release process"), "{results}");
    scene.check("the search results").await;
    scene.screenshot("search-1280").await;

    browser.click_link(SHOWCASE_ISSUE).await;
    browser.wait_for_text("Regression suite is green on staging.").await;
    scene.type_into("#comment-body", "Tagged 4.2 from the browser.").await;
    browser.click_button("Post comment").await;
    let issue = browser.wait_for_text("Tagged 4.2 from the browser.").await;
    assert!(browser.url().await.ends_with(&format!("/jira/issues/{SHOWCASE_ISSUE}")), "303 back to the issue");
    assert_eq!(issue.matches("Tagged 4.2 from the browser.").count(), 1, "posted once: {issue}");
    let textarea = browser.client().find(Locator::Css("#comment-body")).await.unwrap();
    assert_eq!(textarea.prop("value").await.unwrap().as_deref(), Some(""), "a fresh form after posting");
    scene.check("the issue page after commenting").await;
    scene.screenshot("issue-comments-1280").await;

    browser.click_button("Done").await;
    browser.wait_for_text("Start progress → In Progress").await;
    let status = browser.client().find(Locator::XPath("//dt[.='Status']/following-sibling::dd[1]")).await.unwrap();
    assert_eq!(status.text().await.unwrap(), "Done", "the transition moved the issue");
    scene.check("the issue page after a transition").await;
    scene.finish().await;
}

#[tokio::test]
async fn no_page_scrolls_sideways_on_a_phone_and_each_is_pictured_at_both_widths() {
    let scene = Scene::start(&[("THREELO_SCOPES", ALL_SCOPES)]).await;
    let browser = &scene.browser;
    let acme = threelo_emulator::seed::ids::ACME_CLOUD_ID;
    // Signed out first: the landing page.
    let mut pages: Vec<(&str, String, &str)> = vec![("landing", "/".to_owned(), "Sign in with Atlassian")];
    for (width, height, mobile, suffix) in [(390, 844, true, "390"), (1280, 900, false, "1280")] {
        browser.set_viewport(width, height, mobile).await;
        for (name, path, text) in &pages {
            browser.goto(&scene.url(path)).await;
            browser.wait_for_text(text).await;
            scene.assert_no_sideways_scroll(&format!("{name} at {width} px"), width).await;
            scene.screenshot(&format!("{name}-{suffix}")).await;
        }
    }
    scene.sign_in_without_a_click().await;
    pages = vec![
        ("dashboard", "/".to_owned(), "Your open issues"),
        ("issues", format!("/sites/{acme}/jira/issues"), "Your open issues on acme"),
        ("issue", format!("/sites/{acme}/jira/issues/{SHOWCASE_ISSUE}"), "Regression suite is green"),
        ("issue-long-summary", format!("/sites/{acme}/jira/issues/ACME-5"), "Very long summary"),
        ("issue-hostile", format!("/sites/{acme}/jira/issues/ACME-3"), "Description"),
        ("search", "/search?q=release".to_owned(), "Search for “release”"),
        ("search-empty", "/search?q=".to_owned(), "Type a word or two"),
        ("sites", "/sites".to_owned(), "Your Atlassian sites"),
        ("spaces", format!("/sites/{acme}/confluence/spaces"), "Confluence spaces on acme"),
        ("confluence-table", format!("/sites/{acme}/confluence/pages/163842"), "Architecture overview"),
        ("account", "/account".to_owned(), "Where you are signed in"),
        ("not-found-signed-in", "/no/such/page".to_owned(), "Page not found"),
    ];
    for (width, height, mobile, suffix) in [(390, 844, true, "390"), (1280, 900, false, "1280")] {
        browser.set_viewport(width, height, mobile).await;
        for (name, path, text) in &pages {
            browser.goto(&scene.url(path)).await;
            browser.wait_for_text(text).await;
            scene.assert_no_sideways_scroll(&format!("{name} at {width} px"), width).await;
            if width == 390 && (*name == "issue" || name.starts_with("issue-")) {
                // One column on a phone: the description and the facts each get the width.
                let script = "return ['article.description', 'aside.issue-side']
                    .map((css) => document.querySelector(css).getBoundingClientRect().width);";
                let value = browser.client().execute(script, vec![]).await.expect("the columns' widths");
                let narrowest =
                    value.as_array().expect("widths").iter().filter_map(|w| w.as_f64()).fold(f64::MAX, f64::min);
                assert!(narrowest >= f64::from(width) * 0.75, "{name} at {width} px: a column is {narrowest} px wide");
            }
            scene.screenshot(&format!("{name}-{suffix}")).await;
        }
    }
    // The account page is one tap away on a phone, and a signed-in error page keeps the header.
    browser.set_viewport(390, 844, true).await;
    browser.goto(&scene.url("/no/such/page")).await;
    browser.wait_for_text("Page not found").await;
    let account = browser.client().find(Locator::Css("a.account-link")).await.expect("the account link");
    assert!(account.is_displayed().await.unwrap(), "the account link shows at 390 px");
    account.click().await.unwrap();
    browser.wait_for_text("Where you are signed in").await;
    let missing = scene.url("/no/such/page");
    let own_status = |e: &LogEntry| e.message.starts_with(&missing) && e.message.contains("status of 404");
    scene.check_allowing("the pages at both widths", own_status).await;
    scene.finish().await;
}
