//! threelo behind a real nginx under a path prefix: sign-in, links, cookie path, trusted and
//! untrusted forwarding headers, request ids.

mod support;

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use support::{TestApp, browser_at, location};

/// The client stands apart from nginx (127.0.0.1), as a real browser would.
const BROWSER_IP: &str = "127.0.0.5";

fn browser() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    browser_at(Some(BROWSER_IP.parse().unwrap()))
}

/// The address `/atl/account` shows for this browser's session.
fn listed_address(account_page: &str) -> String {
    let row = account_page.split("<tr class=\"current\">").nth(1).expect("the current session's row");
    let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap_or("")).collect();
    cells.get(1).expect("an address cell").to_string()
}

#[tokio::test]
async fn the_whole_sign_in_works_through_nginx_under_a_prefix() {
    let (app, _nginx, _) = TestApp::spawn_behind_nginx("/atl", &[]).await;
    let (client, _) = browser();
    let login = client.get(app.url("/atl/auth/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert!(login.headers()[SET_COOKIE].to_str().unwrap().contains("Path=/atl"));
    let authorize = location(login.headers());
    assert_eq!(support::query_param(&authorize, "redirect_uri").unwrap(), app.url("/atl/auth/callback"));
    let back = client.get(&authorize).send().await.unwrap();
    let callback = location(back.headers());
    assert!(callback.starts_with(&app.url("/atl/auth/callback?")), "{callback}");
    let done = client.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(done.headers()), app.url("/atl/"));

    let dashboard = client.get(app.url("/atl/")).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains(&format!("Signed in as {}", threelo_emulator::seed::ids::ALICE_NAME)), "{dashboard}");
    let links: Vec<&str> = dashboard.split("href=\"").skip(1).filter_map(|r| r.split('"').next()).collect();
    assert!(links.iter().all(|l| l.starts_with("/atl/")), "every link stays under the prefix: {links:?}");
    assert!(dashboard.contains("action=\"/atl/auth/logout\""));
    let css = links.iter().find(|l| l.contains("/static/")).unwrap();
    assert_eq!(client.get(app.url(css)).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_are_believed_from_nginx_and_ignored_from_anyone_else() {
    let (app, _nginx, direct) = TestApp::spawn_behind_nginx("/atl", &[]).await;
    // Through nginx, with a spoofed X-Forwarded-For the browser made up itself.
    let (client, _) = browser();
    let login = client.get(app.url("/atl/auth/login")).header("X-Forwarded-For", "6.6.6.6").send().await.unwrap();
    let back = client.get(location(login.headers())).send().await.unwrap();
    client.get(location(back.headers())).send().await.unwrap();
    let account = client.get(app.url("/atl/account")).header("X-Forwarded-For", "6.6.6.6").send().await.unwrap();
    let page = account.text().await.unwrap();
    assert_eq!(listed_address(&page), BROWSER_IP, "nginx's word is taken, the browser's own header is not");

    // Straight to the app, not through a trusted proxy: the header is ignored.
    let (bypass, _) = browser();
    let login =
        bypass.get(format!("{direct}/atl/auth/login")).header("X-Forwarded-For", "6.6.6.6").send().await.unwrap();
    let back = bypass.get(location(login.headers())).send().await.unwrap();
    let callback = location(back.headers());
    // The callback names the public URL (nginx); replay it straight to the app.
    let straight = callback.replace(&app.address, &direct);
    bypass.get(&straight).header("X-Forwarded-For", "6.6.6.6").send().await.unwrap();
    let page = bypass.get(format!("{direct}/atl/account")).send().await.unwrap().text().await.unwrap();
    assert_eq!(listed_address(&page), BROWSER_IP, "a header from an untrusted peer is ignored");
}

#[tokio::test]
async fn request_ids_come_from_the_trusted_proxy_or_are_made_fresh() {
    let (app, _nginx, direct) = TestApp::spawn_behind_nginx("/atl", &[]).await;
    let (client, _) = browser();
    let through = client.get(app.url("/atl/healthz")).header("X-Request-Id", "made-up").send().await.unwrap();
    let id = through.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "made-up", "nginx sets its own id, and the app echoes that");
    assert_eq!(id.len(), 32, "nginx's $request_id is 32 hex digits: {id}");
    let around = client.get(format!("{direct}/atl/healthz")).header("X-Request-Id", "made-up").send().await.unwrap();
    let own = around.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(own, "made-up", "an untrusted peer's id is replaced");
}
