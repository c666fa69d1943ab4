//! Session security: login state, return_to, cookies, lifetimes, signing out elsewhere and key
//! rotation, through the real app, emulator and Redis.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use support::{TestApp, browser, browser_with_jar, csrf_of, location, query_param, signed_in_at};
use threelo::config::random_b64;
use threelo::session::MAX_SESSIONS_PER_ACCOUNT;

/// The cookie a response sets: the session cookie when it sets one, else the first (at
/// `/auth/login`, the cookie of sign-ins in progress).
fn set_cookie(response: &reqwest::Response) -> String {
    let all: Vec<String> =
        response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = all.iter().find(|c| !c.contains("-signin="));
    session.or(all.first()).expect("a Set-Cookie header").clone()
}

/// The Location the callback sends the browser to after signing in from `login_path`.
async fn landing_after_sign_in(app: &TestApp, login_path: &str) -> String {
    let response = support::sign_in(&app.client, &app.url(login_path)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{login_path}");
    location(response.headers())
}

#[tokio::test]
async fn sign_in_lands_on_return_to_when_it_is_one_of_our_paths() {
    let app = TestApp::spawn().await;
    assert_eq!(landing_after_sign_in(&app, "/auth/login?return_to=%2Faccount").await, app.url("/account"));
}

#[tokio::test]
async fn a_hostile_return_to_falls_back_to_the_start_page() {
    let app = TestApp::spawn().await;
    let hostile = [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/ok%0d%0aSet-Cookie:%20x=1",
        &format!("/{}", "a".repeat(2000)),
    ];
    for value in hostile {
        let query: String = url_encode(value);
        let landed = landing_after_sign_in(&app, &format!("/auth/login?return_to={query}")).await;
        assert_eq!(landed, app.url("/"), "return_to={value:.60}");
        // Sign out again so that the next round starts a real sign-in.
        let csrf = app.csrf().await;
        app.client.post(app.url("/auth/logout")).form(&[("csrf", csrf)]).send().await.unwrap();
    }
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn a_token_endpoint_that_times_out_fails_the_sign_in_cleanly() {
    let app = TestApp::spawn_with(&[("THREELO_UPSTREAM_TIMEOUT", "1s")]).await;
    app.emulator.set_latency("/oauth/token", Duration::from_millis(2500));
    let response = app.sign_in_as(threelo_emulator::seed::ids::ALICE).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("Sign-in failed, try again"));
    assert!(!app.is_signed_in().await);
}

#[tokio::test]
async fn the_session_cookie_is_small_http_only_lax_and_scoped_to_the_root() {
    let app = TestApp::spawn().await;
    let response = support::sign_in(&app.client, &app.url("/auth/login")).await;
    let cookie = set_cookie(&response);
    let pair = cookie.split(';').next().unwrap();
    assert!(pair.starts_with("threelo="), "{cookie}");
    assert!(pair.len() < 200, "the cookie holds only the session key: {} bytes", pair.len());
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http cannot carry a Secure cookie");
}

#[tokio::test]
async fn over_https_at_the_root_the_cookie_is_secure_with_the_host_prefix() {
    let port = support::free_port();
    let app = TestApp::spawn_with(&[("THREELO_PUBLIC_URL", &format!("https://127.0.0.1:{port}"))]).await;
    // The cookies are Secure, so this plain-http client hands the sign-in cookie on by hand.
    let login = app.get("/auth/login").await;
    let signin = login.headers().get(SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(signin.starts_with("__Host-threelo-signin="), "{signin}");
    let authorize = location(login.headers());
    let callback = location(app.client.get(&authorize).send().await.unwrap().headers());
    let callback = app.url(&callback[callback.find("/auth/callback").unwrap()..]);
    let response = browser().get(&callback).header(COOKIE, signin).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("__Host-threelo="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn under_a_path_prefix_routes_and_the_cookie_path_follow_it() {
    let port = support::free_port();
    let app = TestApp::spawn_with(&[("THREELO_PUBLIC_URL", &format!("http://127.0.0.1:{port}/atl"))]).await;
    let response = app.get("/atl/auth/login").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect_uri = query_param(&location(response.headers()), "redirect_uri").unwrap();
    assert_eq!(redirect_uri, format!("http://127.0.0.1:{port}/atl/auth/callback"));
    assert!(set_cookie(&response).contains("Path=/atl"), "{}", set_cookie(&response));
    assert_eq!(app.get("/auth/login").await.status(), StatusCode::NOT_FOUND);
    let page = app.page("/atl/").await;
    assert!(page.contains("href=\"/atl/auth/login\"") && page.contains("href=\"/atl/static/app."));
}

#[tokio::test]
async fn an_idle_session_ends_on_the_server_and_its_tokens_go_with_it() {
    let app = TestApp::spawn_with(&[("THREELO_SESSION_IDLE_TIMEOUT", "2s")]).await;
    app.sign_in().await;
    let session_key = app.stored("threelo:session:").unwrap().0;
    assert!((1..=2).contains(&app.redis.ttl(&session_key)), "the session key expires with the idle timeout");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(!app.is_signed_in().await);
    assert!(app.stored_count("threelo:token:") == 0, "no token record lingers");
}

#[tokio::test]
async fn an_active_session_stays_until_its_absolute_lifetime() {
    let app = TestApp::spawn_with(&[("THREELO_SESSION_IDLE_TIMEOUT", "2s"), ("THREELO_SESSION_LIFETIME", "4s")]).await;
    app.sign_in().await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert!(app.is_signed_in().await, "use keeps it alive");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut ended = false;
    for _ in 0..3 {
        if !app.is_signed_in().await {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert!(ended, "the absolute lifetime ends the session however much it is used");
}

#[tokio::test]
async fn session_records_carry_ttls_so_nothing_lingers() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    for (key, _) in app.redis.dump() {
        let ttl = app.redis.ttl(&key);
        // Sessions and token records live as long as the idle timeout allows; the per-account
        // index as long as the longest session it may list.
        let limit = if key.starts_with("threelo:account:") { 7 * 86_400 } else { 12 * 3600 };
        assert!(ttl > 0 && ttl <= limit, "{key} has TTL {ttl}");
    }
}

#[tokio::test]
async fn signing_out_everywhere_else_ends_the_other_browser_but_not_this_one() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (other, _) = browser_with_jar();
    assert_eq!(support::sign_in(&other, &app.url("/auth/login")).await.status(), StatusCode::SEE_OTHER);
    assert!(signed_in_at(&other, &app.url("/")).await);

    let account = app.page("/account").await;
    assert_eq!(account.matches("This browser").count(), 1, "{account}");
    assert_eq!(account.matches("name=\"session\"").count(), 1, "one other session listed: {account}");
    let csrf = csrf_of(&account);

    let refused = app.client.post(app.url("/account/sessions/end-others")).form(&[("x", "1")]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no CSRF token, no action");
    let ended = app.client.post(app.url("/account/sessions/end-others")).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);

    assert!(!signed_in_at(&other, &app.url("/")).await);
    assert!(app.is_signed_in().await, "this browser stays");
}

#[tokio::test]
async fn a_session_ended_from_another_browser_leaves_nothing_of_it_in_redis() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (other, _) = browser_with_jar();
    assert_eq!(support::sign_in(&other, &app.url("/auth/login")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.stored_count("threelo:session:"), 2);
    let csrf = csrf_of(&app.page("/account").await);
    let ended = app.client.post(app.url("/account/sessions/end-others")).form(&[("csrf", &csrf)]).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    // Without the other browser coming back: its state, tokens and index entry are gone now.
    assert_eq!(app.stored_count("threelo:session:"), 1, "only this browser's session state is left");
    assert_eq!(app.stored_count("threelo:token:"), 1);
    assert!(app.is_signed_in().await, "this browser stays");
}

#[tokio::test]
async fn one_other_session_can_be_ended_by_itself() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (other, _) = browser_with_jar();
    support::sign_in(&other, &app.url("/auth/login")).await;
    let account = app.page("/account").await;
    let marker = "name=\"session\" value=\"";
    let start = account.find(marker).expect("an end button for the other session") + marker.len();
    let id = account[start..].split('"').next().unwrap().to_owned();
    let csrf = csrf_of(&account);
    let response = app
        .client
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("session", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in_at(&other, &app.url("/")).await);
}

#[tokio::test]
async fn account_needs_a_sign_in_and_comes_back_after_it() {
    let app = TestApp::spawn().await;
    let response = app.get("/account").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(response.headers());
    assert_eq!(login, app.url("/auth/login?return_to=%2Faccount"));
    assert_eq!(landing_after_sign_in(&app, "/auth/login?return_to=%2Faccount").await, app.url("/account"));
}

#[tokio::test]
async fn a_new_first_token_key_keeps_sessions_and_a_removed_key_means_sign_in_again() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let old = app.env.iter().find(|(k, _)| k == "THREELO_TOKEN_KEYS").unwrap().1.clone();
    let new = format!("k2:{}", random_b64(32));

    let rotated = app.spawn_sibling(&[("THREELO_TOKEN_KEYS", &format!("{new},{old}"))]).await;
    let cookie = app.cookies().unwrap();
    let account = browser().get(format!("{rotated}/account")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK, "the rotated instance still opens the old record");
    assert!(account.text().await.unwrap().contains("Access token expires"));

    let dropped = app.spawn_sibling(&[("THREELO_TOKEN_KEYS", &new)]).await;
    let page = browser().get(format!("{dropped}/")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "never a 500");
    assert!(page.text().await.unwrap().contains("Sign in with Atlassian"), "signed out, asked to sign in again");
}

#[tokio::test]
async fn a_browser_whose_session_was_ended_elsewhere_can_sign_in_again() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (other, _) = browser_with_jar();
    support::sign_in(&other, &app.url("/auth/login")).await;
    let csrf = csrf_of(&app.page("/account").await);
    app.client.post(app.url("/account/sessions/end-others")).form(&[("csrf", &csrf)]).send().await.unwrap();
    // The ended browser goes straight to sign in again, with its stale cookie.
    let again = support::sign_in(&other, &app.url("/auth/login")).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "{}", again.text().await.unwrap_or_default());
    assert!(signed_in_at(&other, &app.url("/")).await);
}

#[tokio::test]
async fn the_server_enforces_the_idle_timeout_even_while_redis_still_holds_the_session() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let (key, value) = app.stored("threelo:session:").unwrap();
    // Move last_seen 13 hours back (the idle timeout is 12 h); Redis keeps the key meanwhile.
    let state: std::collections::HashMap<String, String> = serde_json::from_str(&value).unwrap();
    let mut signed_in: serde_json::Value = serde_json::from_str(&state["signed_in"]).unwrap();
    let last_seen = signed_in["last_seen"].as_i64().unwrap();
    signed_in["last_seen"] = serde_json::json!(last_seen - 13 * 3600);
    let mut planted = state.clone();
    planted.insert("signed_in".to_owned(), signed_in.to_string());
    app.redis.set(&key, &serde_json::to_string(&planted).unwrap());

    assert!(app.page("/").await.contains("Sign in with Atlassian"), "signed out");
    let keys: Vec<String> = app.redis.dump().into_iter().map(|(k, _)| k).collect();
    assert!(!keys.iter().any(|k| k.starts_with("threelo:token:")), "its token record is deleted: {keys:?}");
}

#[tokio::test]
async fn a_post_the_browser_marks_as_cross_site_is_refused() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let csrf = app.csrf().await;
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in().await);
}

#[tokio::test]
async fn a_same_origin_post_with_origin_null_is_accepted_as_browsers_send_it() {
    // With `Referrer-Policy: no-referrer`, browsers send `Origin: null` on our own forms.
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let csrf = app.csrf().await;
    let forged = app
        .client
        .post(app.url("/auth/logout"))
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "null from another site is refused");
    let without_site =
        app.client.post(app.url("/auth/logout")).header("Origin", "null").form(&[("csrf", csrf.as_str())]);
    assert_eq!(without_site.send().await.unwrap().status(), StatusCode::FORBIDDEN, "null alone proves nothing");
    let own = app
        .client
        .post(app.url("/auth/logout"))
        .header("Origin", "null")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
    assert!(!app.is_signed_in().await);
}

#[tokio::test]
async fn an_account_keeps_at_most_fifty_sessions_and_a_new_sign_in_ends_one_beyond_that() {
    let app = TestApp::spawn().await;
    let mut clients = Vec::new();
    for _ in 0..=MAX_SESSIONS_PER_ACCOUNT {
        let (client, _) = browser_with_jar();
        assert_eq!(support::sign_in(&client, &app.url("/auth/login")).await.status(), StatusCode::SEE_OTHER);
        clients.push(client);
    }
    let mut signed_in = 0;
    for client in &clients {
        if signed_in_at(client, &app.url("/")).await {
            signed_in += 1;
        }
    }
    assert_eq!(signed_in, MAX_SESSIONS_PER_ACCOUNT, "one session was ended to make room");
    let newest = clients.last().expect("clients");
    assert!(signed_in_at(newest, &app.url("/")).await, "never the one that just signed in");
    assert_eq!(app.stored_count("threelo:token:"), MAX_SESSIONS_PER_ACCOUNT, "its tokens are gone too");
    assert_eq!(app.stored_count("threelo:session:"), MAX_SESSIONS_PER_ACCOUNT, "and its session's state");
    let account = newest.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert_eq!(account.matches("name=\"session\"").count(), MAX_SESSIONS_PER_ACCOUNT - 1, "the others listed");
}
