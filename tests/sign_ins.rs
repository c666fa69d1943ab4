//! Sign-ins in progress: several tabs at once, state bound to the browser, kept in a sealed
//! cookie of their own so that a visitor costs nothing in Redis, single use, ten minutes.

mod support;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use support::{TestApp, browser, location, query_param};
use threelo::session::{Pending, SignIns};

/// Replaces this browser's sign-in cookie with one sealed as the app seals it, holding `pending`.
fn plant_sign_ins(app: &TestApp, pending: &[Pending]) {
    let settings = support::settings_from(app.env.clone(), &[]);
    let cookie = SignIns::new(&settings).seal(pending);
    let url: reqwest::Url = app.url("/").parse().unwrap();
    app.jar.add_cookie_str(&format!("{}={}; Path=/", cookie.name(), cookie.value()), &url);
}

#[tokio::test]
async fn two_tabs_signing_in_at_once_both_complete() {
    let app = TestApp::spawn().await;
    let tab_a = location(app.get("/auth/login?return_to=/account").await.headers());
    let tab_b = location(app.get("/auth/login").await.headers());
    assert_ne!(query_param(&tab_a, "state"), query_param(&tab_b, "state"), "each tab has its own state");
    let back_a = location(app.client.get(&tab_a).send().await.unwrap().headers());
    let back_b = location(app.client.get(&tab_b).send().await.unwrap().headers());
    let done_b = app.client.get(&back_b).send().await.unwrap();
    assert_eq!(done_b.status(), StatusCode::SEE_OTHER);
    let done_a = app.client.get(&back_a).send().await.unwrap();
    assert_eq!(done_a.status(), StatusCode::SEE_OTHER, "the first tab completes too");
    assert_eq!(location(done_a.headers()), app.url("/account"));
    let tokens = app.redis.dump().into_iter().filter(|(k, _)| k.starts_with("threelo:token:")).count();
    assert_eq!(tokens, 1, "signing in again in the same browser replaces the old token record");
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    let authorize = location(app.get("/auth/login").await.headers());
    let callback = location(app.client.get(&authorize).send().await.unwrap().headers());
    let other_browser = browser();
    let response = other_browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("This sign-in link has expired"));
    assert_eq!(app.emulator.token_grants("authorization_code"), 0);
}

#[tokio::test]
async fn a_visitor_who_only_started_a_sign_in_costs_nothing_in_redis() {
    let app = TestApp::spawn().await;
    let login = app.get("/auth/login").await;
    let cookie = login.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("threelo-signin="), "the sign-in in progress is in a cookie: {cookie}");
    assert!(cookie.contains("Max-Age=600") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(app.redis.dump().is_empty(), "no Redis key for a visitor: {:?}", app.redis.dump());
}

#[tokio::test]
async fn ten_thousand_cookieless_logins_add_no_redis_key() {
    let app = TestApp::spawn().await;
    let client = support::browser();
    let url = app.url("/auth/login");
    let logins = futures_util::stream::iter(0..10_000).map(|_| {
        let (client, url) = (&client, &url);
        async move { client.get(url).send().await.unwrap().status() }
    });
    let statuses: Vec<StatusCode> = logins.buffer_unordered(16).collect().await;
    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER));
    assert_eq!(app.redis.dump().len(), 0, "cookieless visitors wrote to Redis");
}

#[tokio::test]
async fn a_sign_in_cookie_planted_twice_is_refused_at_the_callback() {
    let app = TestApp::spawn().await;
    let authorize = location(app.get("/auth/login").await.headers());
    let callback = location(app.client.get(&authorize).send().await.unwrap().headers());
    let mine = app.cookies().unwrap();
    // A sibling site under the same parent domain adds a second cookie of our session's name.
    let tossed = format!("threelo=planted-by-a-sibling; threelo=another; {mine}");
    let response = support::browser().get(&callback).header(COOKIE, tossed).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.emulator.token_grants("authorization_code"), 0, "the code was not exchanged");
    assert!(app.redis.dump().is_empty(), "no session was created");
}

#[tokio::test]
async fn a_sign_in_state_older_than_ten_minutes_has_expired() {
    let app = TestApp::spawn().await;
    let authorize = location(app.get("/auth/login").await.headers());
    let state = query_param(&authorize, "state");
    let mut aged = Pending::new(&state.unwrap(), "/");
    aged.created_at -= 601;
    plant_sign_ins(&app, &[aged]);
    let callback = location(app.client.get(&authorize).send().await.unwrap().headers());
    let response = app.client.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("This sign-in link has expired"));
    assert_eq!(app.emulator.token_grants("authorization_code"), 0);
}

#[tokio::test]
async fn at_most_five_sign_ins_are_pending_and_the_oldest_goes_first() {
    let app = TestApp::spawn().await;
    let mut started = Vec::new();
    for _ in 0..6 {
        started.push(location(app.get("/auth/login").await.headers()));
    }
    let oldest = location(app.client.get(&started[0]).send().await.unwrap().headers());
    assert_eq!(app.client.get(&oldest).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    let newest = location(app.client.get(&started[5]).send().await.unwrap().headers());
    assert_eq!(app.client.get(&newest).send().await.unwrap().status(), StatusCode::SEE_OTHER);
}
