//! The client side of `bench/run`: what `wrk` cannot do. Reads the same `THREELO_*` variables as
//! the app it measures (public URL, client credentials, emulator URLs, Redis, secrets), so the
//! script sets them once for both.
//!
//! ```text
//! bench_driver token                                  an access token for alice, straight from the upstream
//! bench_driver sign-in                                signs alice in through the app; prints the Cookie header
//! bench_driver sign-ins CONCURRENCY SECONDS          full sign-ins through the app for SECONDS
//! bench_driver hit PATH COOKIE REQUESTS CONCURRENCY  exactly REQUESTS GETs; every one must be 200
//! bench_driver storm PATH COOKIE REQUESTS             REQUESTS GETs all at once; wall time
//! bench_driver seed SESSIONS FILE                     stores SESSIONS signed-in sessions; their cookies to FILE
//! bench_driver sign-in-many SESSIONS FILE             SESSIONS sign-ins through the app; their cookies to FILE
//! bench_driver first-pages PATH FILE CONCURRENCY      one GET of PATH per cookie in FILE; latency percentiles
//! ```
//!
//! Every loop is bounded by a count and, for `sign-ins`, by time. Results are one line of
//! `key=value` pairs on stdout.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_session::storage::SessionStore;
use actix_web::cookie::{Cookie, CookieJar, Key};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use threelo::atlassian::TokenSet;
use threelo::atlassian::{Atlassian, Site};
use threelo::clock::unix_now;
use threelo::config::{Mode, Settings};
use threelo::metrics::Metrics;
use threelo::random::random_token;
use threelo::session::{KvSessionStore, SessionData, SessionIndex, SessionInfo, SessionKeys, User, signed_in_state};
use threelo::store::{Kv, redis_pool};
use threelo::tokens::{KeyRing, TokenStore};

/// The app's session cookie over http (see `session::session_cookie_name`).
const COOKIE_NAME: &str = "threelo";
/// The cookie of sign-ins in progress over http (see `session::SignIns`).
const SIGN_IN_COOKIE: &str = "threelo-signin";
/// At most this many sign-ins in one `sign-ins` run, whatever the time allows.
const MAX_SIGN_INS: u64 = 200_000;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .expect("an HTTP client")
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    Ok(response.headers().get(LOCATION).context("no Location header")?.to_str()?.to_owned())
}

/// The cookie named `name` that a response sets, as a `Cookie` header value.
fn cookie_named(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let pair = v.split(';').next()?.trim();
        (pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1).then(|| pair.to_owned())
    })
}

/// The session cookie a response sets.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    cookie_named(response, COOKIE_NAME)
}

/// login -> authorize (answered at once by the emulator) -> callback; the signed-in cookie.
async fn sign_in(client: &reqwest::Client, settings: &Settings) -> anyhow::Result<String> {
    let login = client.get(settings.public_url.absolute("/auth/login")).send().await?;
    if login.status() != StatusCode::SEE_OTHER {
        bail!("/auth/login answered {}", login.status());
    }
    // The sign-in in progress lives in a cookie of its own until the callback.
    let pending = cookie_named(&login, SIGN_IN_COOKIE).context("/auth/login set no sign-in cookie")?;
    let authorize = client.get(location(&login)?).send().await?;
    if authorize.status() != StatusCode::FOUND {
        bail!("/authorize answered {}", authorize.status());
    }
    let callback = client.get(location(&authorize)?).header(COOKIE, pending).send().await?;
    if callback.status() != StatusCode::SEE_OTHER {
        bail!("/auth/callback answered {}", callback.status());
    }
    session_cookie(&callback).context("/auth/callback set no cookie")
}

/// Tokens and sites for alice straight from the upstream, with the app's own OAuth client.
async fn upstream_tokens(settings: &Settings) -> anyhow::Result<(TokenSet, Vec<Site>)> {
    let atlassian = Atlassian::new(settings, Arc::new(Metrics::default()))?;
    let authorize = http().get(atlassian.oauth().authorize_url(&random_token(16))).send().await?;
    let callback = reqwest::Url::parse(&location(&authorize)?)?;
    let code = callback.query_pairs().find(|(k, _)| k == "code").context("no code")?.1.into_owned();
    let tokens = atlassian.oauth().exchange_code(atlassian.http(), &code).await?;
    let sites = atlassian.accessible_resources(&tokens.access_token).await?;
    Ok((tokens, sites))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn sign_ins(settings: Arc<Settings>, concurrency: usize, seconds: u64) -> anyhow::Result<()> {
    let client = http();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let (count, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, settings, count, failures) = (client.clone(), settings.clone(), count.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline && count.load(Ordering::Relaxed) < MAX_SIGN_INS {
                let one = Instant::now();
                match sign_in(&client, &settings).await {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        latencies.push(one.elapsed().as_secs_f64() * 1000.0);
                    }
                    Err(err) => {
                        if failures.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("bench_driver: a sign-in failed: {err:#}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let done = count.load(Ordering::Relaxed);
    println!(
        "sign_ins={done} failures={} seconds={elapsed:.2} rate={:.1} p50_ms={:.2} p99_ms={:.2}",
        failures.load(Ordering::Relaxed),
        done as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

async fn hit(url: String, cookie: String, requests: u64, concurrency: usize) -> anyhow::Result<()> {
    let client = http();
    let next = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, cookie, next, bad) = (client.clone(), url.clone(), cookie.clone(), next.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let problem = match client.get(&url).header(COOKIE, &cookie).send().await {
                    Ok(response) if response.status() != StatusCode::OK => {
                        Some(format!("status {}", response.status()))
                    }
                    Ok(response) => response.bytes().await.err().map(|err| format!("{err}")),
                    Err(err) => Some(format!("{err}")),
                };
                if let Some(problem) = problem
                    && bad.fetch_add(1, Ordering::Relaxed) == 0
                {
                    eprintln!("bench_driver: a request failed: {problem}");
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let bad = bad.load(Ordering::Relaxed);
    println!("requests={requests} not_ok={bad}");
    if bad > 0 {
        bail!("{bad} of {requests} requests did not answer 200");
    }
    Ok(())
}

async fn storm(url: String, cookie: String, requests: usize) -> anyhow::Result<()> {
    let client = http();
    let started = Instant::now();
    let calls = (0..requests).map(|_| {
        let (client, url, cookie) = (client.clone(), url.clone(), cookie.clone());
        tokio::spawn(async move {
            let response = client.get(&url).header(COOKIE, &cookie).send().await?;
            let status = response.status();
            response.bytes().await?;
            Ok::<StatusCode, reqwest::Error>(status)
        })
    });
    let results = futures_util::future::join_all(calls).await;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for result in results {
        let label = match result? {
            Ok(status) => status.as_u16().to_string(),
            Err(_) => "error".to_owned(),
        };
        *statuses.entry(label).or_default() += 1;
    }
    let ok = statuses.get("200").copied().unwrap_or(0);
    let mut other: Vec<String> =
        statuses.iter().filter(|(k, _)| *k != "200").map(|(k, v)| format!("{k}:{v}")).collect();
    other.sort();
    println!(
        "requests={requests} ok={ok} wall_ms={wall:.1} other={}",
        if other.is_empty() { "none".to_owned() } else { other.join(",") }
    );
    Ok(())
}

/// Signs alice in `sessions` times through the app (8 at a time) and writes the cookies to `file`.
async fn sign_in_many(settings: &Settings, sessions: usize, file: &str) -> anyhow::Result<()> {
    let client = http();
    let mut cookies = futures_util::stream::iter(0..sessions).map(|_| sign_in(&client, settings)).buffer_unordered(8);
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    while let Some(cookie) = cookies.next().await {
        writeln!(out, "{}", cookie?)?;
    }
    out.flush()?;
    println!("sessions={sessions}");
    Ok(())
}

/// One GET of `url` for each cookie in `file`, `concurrency` at a time: each session's first page.
async fn first_pages(url: String, file: &str, concurrency: usize) -> anyhow::Result<()> {
    let client = http();
    let cookies: Vec<String> = std::fs::read_to_string(file)?.lines().map(str::to_owned).collect();
    let one = |cookie: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let started = Instant::now();
            let response = client.get(&url).header(COOKIE, cookie).send().await?;
            let status = response.status();
            response.bytes().await?;
            Ok::<(StatusCode, f64), reqwest::Error>((status, started.elapsed().as_secs_f64() * 1000.0))
        }
    };
    let mut pages = futures_util::stream::iter(cookies).map(one).buffer_unordered(concurrency);
    let (mut latencies, mut not_ok) = (Vec::new(), 0);
    while let Some(page) = pages.next().await {
        let (status, millis) = page?;
        if status != StatusCode::OK {
            not_ok += 1;
        }
        latencies.push(millis);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "requests={} not_ok={not_ok} p50_ms={:.1} p99_ms={:.1}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

/// Stores `sessions` signed-in sessions exactly as a sign-in does (token record sealed by
/// `TokenStore`, index entry by `SessionIndex`, session state by the app's session store), each
/// for its own account, all holding alice's live tokens so their pages render. Writes the
/// matching encrypted cookies to `file`, one `Cookie` header value per line.
async fn seed(settings: Settings, sessions: usize, file: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let (tokens, sites) = upstream_tokens(&settings).await?;
    let pool = redis_pool(&settings.redis_url_or_default())?;
    let kv = Kv::Redis(pool);
    let store = KvSessionStore::new(kv.clone(), SessionKeys::new(settings.session_secret_bytes()));
    let ring = std::sync::Arc::new(KeyRing::new(&settings.token_keys));
    let records = TokenStore::new(kv.clone(), ring, settings.session.idle_timeout);
    let index = SessionIndex::new(kv, settings.session);
    let key = Key::try_from(settings.session_secret_bytes()).context("THREELO_SESSION_SECRET")?;
    let ttl = actix_web::cookie::time::Duration::seconds(settings.session.idle_timeout.as_secs() as i64);
    let now = unix_now();
    let one = |i: usize| {
        let (tokens, sites, records, index, store, key) = (&tokens, &sites, &records, &index, &store, &key);
        async move {
            let account_id = format!("712020:bench-{i:08}");
            let set = TokenSet {
                access_token: tokens.access_token.clone(),
                refresh_token: tokens.refresh_token.clone(),
                expires_at: tokens.expires_at,
                scopes: tokens.scopes.clone(),
            };
            let record = records.create(&account_id, set, now).await?;
            let info = SessionInfo {
                created_at: now,
                last_seen: now,
                browser: "Firefox on Linux".to_owned(),
                address: "127.0.0.1".to_owned(),
            };
            index.add(&account_id, record, &info).await?;
            let user = User {
                account_id,
                name: format!("Bench User {i}"),
                email: Some(format!("bench{i}@example.com")),
                avatar_url: None,
            };
            let signed_in = SessionData {
                user,
                token_record: record,
                sites: sites.clone(),
                sites_checked_at: now,
                csrf: random_token(32),
                created_at: now,
                last_seen: now,
            };
            let state = signed_in_state(&signed_in)?;
            let session_key = store.save(state, &ttl).await.map_err(|err| anyhow::anyhow!("{err}"))?;
            // What actix-session puts in the cookie: the session key, encrypted (private jar).
            let mut jar = CookieJar::new();
            jar.private_mut(key).add(Cookie::new(COOKIE_NAME, session_key.as_ref().to_owned()));
            let value = jar.get(COOKIE_NAME).context("cookie")?.value().to_owned();
            Ok::<String, anyhow::Error>(format!("{COOKIE_NAME}={value}"))
        }
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    let mut results = futures_util::stream::iter(0..sessions).map(one).buffer_unordered(64);
    let mut written = 0;
    while let Some(cookie) = results.next().await {
        writeln!(out, "{}", cookie?)?;
        written += 1;
    }
    out.flush()?;
    println!("sessions={written} seconds={:.1}", started.elapsed().as_secs_f64());
    Ok(())
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> anyhow::Result<T> {
    args.get(i).with_context(|| format!("missing {what}"))?.parse().map_err(|_| anyhow::anyhow!("{what}: not valid"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::load(Mode::Serve, None).map_err(|err| anyhow::anyhow!("{err}"))?;
    let url = |path: &str| settings.public_url.absolute(path);
    match args.first().map(String::as_str) {
        Some("token") => {
            let (tokens, _) = upstream_tokens(&settings).await?;
            println!("{}", secrecy::ExposeSecret::expose_secret(&tokens.access_token));
        }
        Some("sign-in") => println!("{}", sign_in(&http(), &settings).await?),
        Some("sign-ins") => {
            let (concurrency, seconds) = (arg(&args, 1, "CONCURRENCY")?, arg(&args, 2, "SECONDS")?);
            sign_ins(Arc::new(settings), concurrency, seconds).await?;
        }
        Some("hit") => {
            let path: String = arg(&args, 1, "PATH")?;
            hit(url(&path), arg(&args, 2, "COOKIE")?, arg(&args, 3, "REQUESTS")?, arg(&args, 4, "CONCURRENCY")?)
                .await?;
        }
        Some("storm") => {
            let path: String = arg(&args, 1, "PATH")?;
            storm(url(&path), arg(&args, 2, "COOKIE")?, arg(&args, 3, "REQUESTS")?).await?;
        }
        Some("seed") => {
            let (sessions, file): (usize, String) = (arg(&args, 1, "SESSIONS")?, arg(&args, 2, "FILE")?);
            seed(settings, sessions, &file).await?;
        }
        Some("sign-in-many") => {
            let (sessions, file): (usize, String) = (arg(&args, 1, "SESSIONS")?, arg(&args, 2, "FILE")?);
            sign_in_many(&settings, sessions, &file).await?;
        }
        Some("first-pages") => {
            let (path, file): (String, String) = (arg(&args, 1, "PATH")?, arg(&args, 2, "FILE")?);
            first_pages(url(&path), &file, arg(&args, 3, "CONCURRENCY")?).await?;
        }
        _ => bail!(
            "usage: bench_driver token | sign-in | sign-ins C S | hit PATH COOKIE N C | storm PATH COOKIE N | seed N FILE \
             | sign-in-many N FILE | first-pages PATH FILE C"
        ),
    }
    Ok(())
}
