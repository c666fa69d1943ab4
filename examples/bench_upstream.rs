//! The fast upstream for `bench/run`: threelo's Atlassian emulator in fast mode (API answers kept
//! in memory, consent answered at once as `alice`), plus a small control port for the benchmark.
//!
//! ```text
//! bench_upstream --listen 127.0.0.1:PORT --control 127.0.0.1:PORT \
//!     --client-id ID --client-secret SECRET --redirect-uri URL [--max-seconds 1800]
//! ```
//!
//! Control port (loopback only):
//! - `GET  /refreshes`                 how many refresh-token grants were answered 200
//! - `GET  /sign-ins`                  how many authorization-code grants were answered 200
//! - `GET  /token-requests`            how many `POST /oauth/token` came in, whatever the answer
//! - `POST /access-token-ttl/{secs}`   lifetime of access tokens issued from now on
//! - `POST /expire-access-tokens`      every access token issued so far answers 401 from now on
//! - `POST /round-trip/{ms}/{jitter}`  every request waits ms plus up to jitter milliseconds
//! - `GET  /api-requests`              how many API requests (not `/oauth/token`) came in
//!
//! It stops on SIGINT/SIGTERM, and by itself after `--max-seconds`, so a benchmark that dies
//! half-way leaves nothing running for long.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use threelo_emulator::{ConsentMode, Emulator, EmulatorConfig, RoundTrip};

struct Args {
    listen: String,
    control: String,
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    max_seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut control, mut client_id, mut client_secret, mut redirect_uri) = (None, None, None, None, None);
    let mut max_seconds = 1800;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value),
            "--control" => control = Some(value),
            "--client-id" => client_id = Some(value),
            "--client-secret" => client_secret = Some(value),
            "--redirect-uri" => redirect_uri = Some(value),
            "--max-seconds" => max_seconds = value.parse().map_err(|_| "--max-seconds: a number".to_owned())?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    Ok(Args {
        listen: need(listen, "--listen")?,
        control: need(control, "--control")?,
        client_id: need(client_id, "--client-id")?,
        client_secret: need(client_secret, "--client-secret")?,
        redirect_uri: need(redirect_uri, "--redirect-uri")?,
        max_seconds,
    })
}

async fn refreshes(emulator: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().body(emulator.token_grants("refresh_token").to_string())
}

async fn sign_ins(emulator: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().body(emulator.token_grants("authorization_code").to_string())
}

async fn token_requests(emulator: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().body(emulator.count("/oauth/token").to_string())
}

async fn access_token_ttl(emulator: web::Data<Emulator>, secs: web::Path<u64>) -> HttpResponse {
    emulator.set_access_token_ttl(Duration::from_secs(*secs));
    HttpResponse::NoContent().finish()
}

async fn expire_access_tokens(emulator: web::Data<Emulator>) -> HttpResponse {
    emulator.expire_access_tokens();
    HttpResponse::NoContent().finish()
}

async fn round_trip(emulator: web::Data<Emulator>, millis: web::Path<(u64, u64)>) -> HttpResponse {
    let (base, jitter) = millis.into_inner();
    emulator.set_round_trip(RoundTrip { base: Duration::from_millis(base), jitter: Duration::from_millis(jitter) });
    HttpResponse::NoContent().finish()
}

async fn api_requests(emulator: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().body(emulator.api_requests().to_string())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = parse_args().unwrap_or_else(|problem| {
        eprintln!("bench_upstream: {problem}");
        std::process::exit(2);
    });
    let mut config = EmulatorConfig::new(args.client_id, args.client_secret, args.redirect_uri);
    config.consent = ConsentMode::Accept { login: threelo_emulator::seed::ids::ALICE.to_owned() };
    config.fast = true;
    let emulator = Emulator::start(config, &args.listen).await?;
    println!("bench_upstream: emulator (fast mode) at {}", emulator.base_url());

    let data = web::Data::new(emulator.clone());
    let control = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/refreshes", web::get().to(refreshes))
            .route("/sign-ins", web::get().to(sign_ins))
            .route("/token-requests", web::get().to(token_requests))
            .route("/access-token-ttl/{secs}", web::post().to(access_token_ttl))
            .route("/expire-access-tokens", web::post().to(expire_access_tokens))
            .route("/round-trip/{ms}/{jitter}", web::post().to(round_trip))
            .route("/api-requests", web::get().to(api_requests))
    })
    .workers(1)
    .bind(&args.control)?
    .run();
    let handle = control.handle();
    let deadline = Duration::from_secs(args.max_seconds);
    tokio::spawn(async move {
        tokio::time::sleep(deadline).await;
        eprintln!("bench_upstream: --max-seconds reached, stopping");
        handle.stop(false).await;
    });
    // Returns on SIGINT/SIGTERM (actix handles both) or when the deadline stops it.
    control.await?;
    emulator.stop().await;
    Ok(())
}
