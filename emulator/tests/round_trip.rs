//! The round-trip knob (`EmulatorConfig::round_trip`, `Emulator::set_round_trip`): every request,
//! API and authorization server alike, fast mode included, waits the base plus up to the jitter;
//! and the count of API requests.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{CALLBACK, CLIENT_ID, SECRET, spawn};
use threelo_emulator::seed::ids::{ACME_CLOUD_ID, ALICE};
use threelo_emulator::{ConsentMode, Emulator, EmulatorConfig, RoundTrip};

const BASE: Duration = Duration::from_millis(300);

/// The time `call` took.
async fn timed<F: Future>(call: F) -> (F::Output, Duration) {
    let started = Instant::now();
    let out = call.await;
    (out, started.elapsed())
}

#[tokio::test]
async fn every_request_waits_the_round_trip_and_api_requests_are_counted() {
    let t = spawn().await;
    let token = t.access_token(ALICE).await;
    let before = t.emu.api_requests();
    t.emu.set_round_trip(RoundTrip { base: BASE, jitter: Duration::from_millis(50) });
    let path = format!("/ex/jira/{ACME_CLOUD_ID}/rest/api/3/myself");
    for path in ["/me", path.as_str()] {
        let (res, took) = timed(t.get(&token, path)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(took >= BASE, "{path} took {took:?}");
    }
    let (res, took) = timed(t.token_request(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])).await;
    assert!(res.status().is_client_error());
    assert!(took >= BASE, "the token endpoint waits too: {took:?}");
    assert_eq!(t.emu.api_requests() - before, 2, "two API requests; /oauth/token is not one");
    t.emu.set_round_trip(RoundTrip::default());
    let (_, took) = timed(t.get(&token, "/me")).await;
    assert!(took < BASE, "set back to none: {took:?}");
}

#[tokio::test]
async fn fast_mode_waits_the_round_trip_set_at_start_even_for_answers_kept_in_memory() {
    let mut config = EmulatorConfig::new(CLIENT_ID, SECRET, CALLBACK);
    config.consent = ConsentMode::Accept { login: ALICE.to_owned() };
    config.fast = true;
    config.round_trip = RoundTrip { base: BASE, jitter: Duration::ZERO };
    let emu = Emulator::start(config, "127.0.0.1:0").await.expect("emulator starts");
    let t = support::Test { emu, http: support::client() };
    let token = t.access_token(ALICE).await;
    for _ in 0..2 {
        // The second answer comes from memory, after the same wait.
        let (res, took) = timed(t.get(&token, "/me")).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(took >= BASE, "{took:?}");
    }
    assert_eq!(t.emu.api_requests(), 2, "counted in fast mode too");
}
