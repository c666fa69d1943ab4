//! Sign-in, sign-out and the pages around them, through the real app, emulator and Redis.

mod support;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use support::{TestApp, browser, csrf_of, location, query_param};
use threelo_emulator::seed::ids::{ALICE, ALICE_NAME, CAROL, OFFLINE_ACCESS};
use threelo_emulator::{ConsentMode, Emulator, Fault};

#[tokio::test]
async fn signed_out_visitors_see_what_threelo_is_and_the_sign_in_button() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(SET_COOKIE).is_none(), "no session for a mere visit");
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign in with Atlassian"));
    assert!(page.contains("href=\"/auth/login\""));
}

#[tokio::test]
async fn the_whole_sign_in_greets_the_user_by_name_and_lists_their_sites() {
    let app = TestApp::spawn().await;
    let login = app.get("/auth/login").await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let authorize = location(login.headers());
    assert!(authorize.starts_with(&format!("{}/authorize?", app.emulator.base_url())), "{authorize}");
    for (name, expected) in [
        ("audience", "api.atlassian.com"),
        ("client_id", support::CLIENT_ID),
        ("response_type", "code"),
        ("prompt", "consent"),
        ("redirect_uri", &app.url("/auth/callback")),
    ] {
        assert_eq!(query_param(&authorize, name).as_deref(), Some(expected), "{name}");
    }
    let scope = query_param(&authorize, "scope").unwrap();
    assert!(scope.split(' ').any(|s| s == OFFLINE_ACCESS), "{scope}");
    assert!(query_param(&authorize, "state").unwrap().len() >= 22, "state carries at least 128 bits");

    let back = app.client.get(&authorize).send().await.unwrap();
    let callback = app.client.get(location(back.headers())).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(callback.headers()), app.url("/"));

    let page = app.page("/").await;
    assert!(page.contains(&format!("Signed in as {ALICE_NAME}")), "{page}");
    for site in Emulator::sites() {
        assert!(page.contains(site.name), "site {} missing", site.name);
    }
    assert_eq!(app.emulator.token_grants("authorization_code"), 1);
}

#[tokio::test]
async fn a_user_with_no_sites_is_signed_in_and_told_how_to_get_access() {
    let app = TestApp::spawn().await;
    let response = app.sign_in_as(CAROL).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = app.page("/").await;
    assert!(page.contains("Signed in as"), "{page}");
    assert!(page.contains("No Atlassian site is available to threelo yet"), "{page}");
}

#[tokio::test]
async fn callback_with_a_foreign_state_is_rejected_and_creates_no_signed_in_session() {
    let app = TestApp::spawn().await;
    let login = app.get("/auth/login").await;
    let authorize = location(login.headers());
    let back = app.client.get(&authorize).send().await.unwrap();
    let callback = location(back.headers());
    let code = query_param(&callback, "code").unwrap();
    let forged = app.url(&format!("/auth/callback?code={code}&state=forged-state-value-000000000000"));
    let response = app.client.get(forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("This sign-in link has expired"));
    assert_eq!(app.emulator.token_grants("authorization_code"), 0, "the code must not be exchanged");
    let page = app.page("/").await;
    assert!(!page.contains("Signed in as"));
}

#[tokio::test]
async fn callback_without_state_or_code_or_with_junk_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(10_000);
    for query in ["", "?code=abc", "?state=abc", "?code=a&code=b&state=c", &format!("?code={long}&state=s"), "?%zz=%%%"]
    {
        let response = app.get(&format!("/auth/callback{query}")).await;
        assert!(response.status() == StatusCode::BAD_REQUEST, "{query:.40}: {}", response.status());
        let page = response.text().await.unwrap();
        assert!(page.contains("<h1>"), "a designed page, not a bare error");
    }
    assert_eq!(app.emulator.count("/oauth/token"), 0);
}

#[tokio::test]
async fn cancelling_on_the_consent_screen_shows_the_cancel_page() {
    let app = TestApp::spawn().await;
    app.emulator.set_consent(ConsentMode::Cancel);
    let response = support::sign_in(&app.client, &app.url("/auth/login")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("You cancelled the sign-in"), "{page}");
    assert!(page.contains("/auth/login"), "a button to try again");
    assert!(!app.is_signed_in().await);
}

#[tokio::test]
async fn a_replayed_callback_url_is_refused() {
    let app = TestApp::spawn().await;
    let login = app.get("/auth/login").await;
    let back = app.client.get(location(login.headers())).send().await.unwrap();
    let callback = location(back.headers());
    assert_eq!(app.client.get(&callback).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let replay = app.client.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("This sign-in link has expired"));
}

#[tokio::test]
async fn redis_holds_no_token_code_or_secret_in_plaintext() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let secrets = app.emulator.issued_secrets();
    assert!(secrets.len() >= 3, "code, access and refresh token at least");
    let dump = app.redis.dump();
    assert!(dump.iter().any(|(k, _)| k.starts_with("threelo:token:")), "a token record exists");
    assert!(dump.iter().any(|(k, _)| k.starts_with("threelo:session:")), "a session exists");
    for (key, value) in &dump {
        for secret in &secrets {
            assert!(!key.contains(secret.as_str()) && !value.contains(secret.as_str()), "plaintext secret under {key}");
        }
    }
}

#[tokio::test]
async fn signing_out_deletes_the_session_and_token_record_and_the_old_cookie_is_worthless() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let cookie = session_cookie(&app).await;
    let page = app.page("/").await;
    let csrf = csrf_of(&page);

    let response = app.client.post(app.url("/auth/logout")).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cleared = response.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0") || cleared.contains("expires=Thu, 01 Jan 1970"), "{cleared}");
    assert!(
        !app.redis.dump().iter().any(|(k, _)| k.starts_with("threelo:token:") || k.starts_with("threelo:session:"))
    );

    let replay = browser().get(app.url("/")).header(COOKIE, cookie).send().await.unwrap();
    assert!(!replay.text().await.unwrap().contains("Signed in as"));
}

#[tokio::test]
async fn signing_out_without_the_csrf_token_or_from_another_origin_is_refused() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let csrf = app.csrf().await;
    let missing = app.client.post(app.url("/auth/logout")).form(&[("x", "y")]).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let foreign = app
        .client
        .post(app.url("/auth/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(app.is_signed_in().await, "still signed in");
}

#[tokio::test]
async fn a_garbage_or_tampered_cookie_simply_means_signed_out() {
    let app = TestApp::spawn().await;
    app.sign_in().await;
    let cookie = session_cookie(&app).await;
    let (name, value) = cookie.split_once('=').unwrap();
    let mut flipped = value.to_owned().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{name}={}", String::from_utf8(flipped).unwrap());
    let huge = format!("{name}={}", "A".repeat(3000));
    for cookie in
        [tampered, huge, format!("{name}="), format!("{name}=%%%;;"), format!("{name}={}", &value[..value.len() / 2])]
    {
        let response = browser().get(app.url("/")).header(COOKIE, cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("Sign in with Atlassian"));
    }
}

#[tokio::test]
async fn a_token_endpoint_that_rejects_our_client_secret_shows_a_misconfiguration_page() {
    let app = TestApp::spawn_with(&[("THREELO_CLIENT_SECRET", "wrong-secret")]).await;
    let response = app.sign_in_as(ALICE).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = response.text().await.unwrap();
    assert!(page.contains("Sign-in is misconfigured"), "{page}");
    assert!(!page.contains("access_denied") && !page.contains("THREELO_CLIENT_SECRET"), "no internals on the page");
}

#[tokio::test]
async fn a_failing_profile_call_fails_the_sign_in_cleanly() {
    let app = TestApp::spawn().await;
    // Twice: a GET is retried once after a 5xx.
    app.emulator.inject("/me", Fault { status: 500, retry_after: None }, 2);
    let response = app.sign_in_as(ALICE).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("Sign-in failed, try again"));
    assert!(!app.is_signed_in().await);
    assert!(app.stored_count("threelo:token:") == 0, "no orphan token record");
}

#[tokio::test]
async fn health_is_always_up_and_readiness_follows_redis() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    app.sign_in().await;
    app.redis.stop();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "pages answer 503 while Redis is down");
    assert!(page.text().await.unwrap().contains("Temporarily unavailable"));
    // Starting a sign-in needs no Redis (it lives in a cookie); finishing one does.
    let (visitor, _) = support::browser_with_jar();
    let started = support::sign_in(&visitor, &app.url("/auth/login")).await;
    assert_eq!(started.status(), StatusCode::SERVICE_UNAVAILABLE, "the callback cannot store a session");
    app.redis.restart();
    // The store leaves a failed Redis alone for a moment before it probes again.
    let mut ready = app.get("/readyz").await.status();
    for _ in 0..50 {
        if ready == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        ready = app.get("/readyz").await.status();
    }
    assert_eq!(ready, StatusCode::OK, "recovers by itself");
    assert_eq!(app.get("/").await.status(), StatusCode::OK, "pages answer again");
}

#[tokio::test]
async fn an_unknown_address_gets_a_designed_404_page() {
    let app = TestApp::spawn().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

/// The session cookie as `name=value`, as the client holds it.
async fn session_cookie(app: &TestApp) -> String {
    app.cookies().expect("a session cookie")
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/", "/static/app.css", "/no/such/page", "/auth/callback?state=x"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers.get("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP")).to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn head_requests_are_answered_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    for (path, status) in [
        ("/healthz", StatusCode::OK),
        ("/readyz", StatusCode::OK),
        ("/", StatusCode::OK),
        ("/nope", StatusCode::NOT_FOUND),
    ] {
        let response = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert!(response.bytes().await.unwrap().is_empty(), "{path}: no body");
    }
}
