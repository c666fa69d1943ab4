//! A faithful, in-process emulator of `auth.atlassian.com` and `api.atlassian.com`.
//!
//! One actix-web server on its own port answers both the authorization server paths
//! (`/authorize`, `/oauth/token`) and the API gateway paths (`/me`, accessible-resources,
//! `/ex/jira/…`, `/ex/confluence/…`). It validates like Atlassian does and answers with
//! Atlassian's statuses and error bodies (the facts are in threelo's `docs/atlassian.md`), so
//! `threelo demo` and the integration tests exercise the same failure paths the real service
//! produces.
//!
//! A crate of its own, so that nothing in the app can reach into it: threelo links it only with
//! its `demo` feature (and its tests, examples and benches as a dev-dependency).
//!
//! Layout: `config` (the public knobs and records), `seed` + `seed_jira` + `seed_adf` +
//! `seed_wiki` (fixed users, sites, issues, pages; `seed::ids` names them for the tests),
//! `state` (clock, knobs, request log), `grants` (codes, grants, token rotation), `auth`
//! (authorize + consent screen, its templates in `templates/`), `token`
//! (`/oauth/token`), `api` (bearer check, `/me`, accessible-resources), `jira` +
//! `jira_json` + `jql`, `jira_write` (comments, transitions, assignee: state per issue),
//! `jira_extra` (a large streamed attachment), `confluence`, `cql` (v1 search), `observe` (latency,
//! faults, request log), `round_trip` (the network's delay, requests counted), `rate_limit` (429s
//! and near-limit marks as Atlassian formats them), `fast` (benchmark mode: API answers kept in
//! memory), `http` (parameters, error bodies, cursors), `scopes` (known scopes and their words,
//! what each Jira endpoint accepts).

mod api;
mod auth;
mod config;
mod confluence;
mod cql;
mod fast;
mod grants;
mod http;
mod jira;
mod jira_extra;
mod jira_json;
mod jira_write;
mod jql;
mod observe;
mod rate_limit;
mod round_trip;
mod scopes;
pub mod seed;
mod seed_adf;
mod seed_jira;
mod seed_wiki;
mod state;
mod token;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, middleware::from_fn, web};

pub use config::{ConsentMode, EmulatorConfig, Fault, LoggedRequest, RoundTrip};
pub use rate_limit::Limit;
pub use seed::{SeedSite, SeedUser};
use state::{State, lock};

/// Handle to a running emulator. Clones share one server; when the last clone is
/// dropped the server stops, so keep one alive for as long as the app needs it.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<Mutex<State>>,
    gateway: web::Data<round_trip::Gateway>,
    port: u16,
    base_url: String,
    server: ServerHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // `stop` sends the command right away; the returned future only waits for it.
        drop(self.server.stop(false));
    }
}

impl Emulator {
    /// Binds `listen` (e.g. `127.0.0.1:0`), spawns the server on the current tokio runtime
    /// and returns once it accepts connections.
    pub async fn start(config: EmulatorConfig, listen: &str) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen)?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            // 0.0.0.0 is not something a client can connect to; loopback always is.
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let base_url = format!("http://{addr}");
        // Registered only in fast mode: its presence is what switches the middleware over.
        let answers = config.fast.then(|| web::Data::new(fast::Answers::default()));
        let gateway = web::Data::new(round_trip::Gateway::new(config.round_trip));
        let gateway_of_workers = gateway.clone();
        let state = Arc::new(Mutex::new(State::new(config, base_url.clone())));
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            let app = App::new().app_data(data.clone()).app_data(gateway_of_workers.clone());
            let app = match &answers {
                Some(answers) => app.app_data(answers.clone()),
                None => app,
            };
            // The last `wrap` runs first: the round trip comes before everything else.
            app.wrap(from_fn(fast::observe_or_serve_fast)).wrap(from_fn(round_trip::round_trip)).configure(routes)
        })
        .workers(2)
        // The host app owns Ctrl-C; the emulator must not react to it on its own.
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Emulator { inner: Arc::new(Inner { state, gateway, port: addr.port(), base_url, server: handle }) })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash; both the auth and the API base URL.
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.inner.state))
    }

    /// Changes what `/authorize` does from now on.
    pub fn set_consent(&self, mode: ConsentMode) {
        self.with(|s| s.config.consent = mode);
    }

    /// Lifetime of access tokens issued from now on.
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.with(|s| s.config.access_token_ttl = ttl);
    }

    /// Grace period of rotated-out refresh tokens, applied to every later check.
    pub fn set_refresh_leeway(&self, leeway: Duration) {
        self.with(|s| s.config.refresh_leeway = leeway);
    }

    /// Whether `accessible-resources` lists a site once per product from now on (see
    /// [`EmulatorConfig::resources_per_product`]).
    pub fn set_resources_per_product(&self, on: bool) {
        self.with(|s| s.config.resources_per_product = on);
    }

    /// `GET issue/{key}` answers `description` as the issue's description from now on (any JSON,
    /// e.g. ADF nested deeper than a JSON decoder's default limit).
    pub fn set_issue_description(&self, key: &str, description: serde_json::Value) {
        self.with(|s| s.descriptions.insert(key.to_owned(), description));
    }

    /// Registers one more callback URL.
    pub fn add_redirect_uri(&self, uri: &str) {
        self.with(|s| s.config.redirect_uris.push(uri.to_owned()));
    }

    /// Moves the emulator's clock forward (expiry of codes, tokens and leeways).
    pub fn advance_clock(&self, by: Duration) {
        self.with(|s| s.advance(by));
    }

    /// Every access token issued so far answers 401 from now on.
    pub fn expire_access_tokens(&self) {
        self.with(State::expire_access_tokens);
    }

    /// The user removed the app: their refresh tokens get 403, access tokens 401.
    pub fn revoke_grants(&self, login: &str) {
        self.with(|s| s.revoke_user(login));
    }

    /// Atlassian killed the user's grants for refresh-token reuse: refreshes get 403
    /// `unauthorized_client` "refresh_token is invalid", access tokens 401.
    pub fn revoke_grants_for_reuse(&self, login: &str) {
        self.with(|s| s.revoke_user_for_reuse(login));
    }

    /// The next `times` requests whose path starts with `path_prefix` get `fault`. A 429 is
    /// Atlassian's burst limit; see [`Emulator::inject_limit`] for the others.
    pub fn inject(&self, path_prefix: &str, fault: Fault, times: u32) {
        self.with(|s| s.inject(None, path_prefix, (fault, Limit::Burst), times));
    }

    /// Like [`Emulator::inject`], for requests with `method` (`POST`, `PUT`…) only.
    pub fn inject_on(&self, method: &str, path_prefix: &str, fault: Fault, times: u32) {
        self.with(|s| s.inject(Some(method), path_prefix, (fault, Limit::Burst), times));
    }

    /// The next `times` requests under `path_prefix` get a 429 for `limit`, with `Retry-After:
    /// retry_after` when given (else only `X-RateLimit-Reset` says how long to wait).
    pub fn inject_limit(&self, path_prefix: &str, limit: Limit, retry_after: Option<u64>, times: u32) {
        self.with(|s| s.inject(None, path_prefix, (Fault { status: 429, retry_after }, limit), times));
    }

    /// Whether successful product answers (`/ex/…`) carry `X-RateLimit-NearLimit: true` from now
    /// on, as Atlassian's do when less than 20% of the app's quota is left (see
    /// [`EmulatorConfig::near_limit`]).
    pub fn set_near_limit(&self, on: bool) {
        self.with(|s| s.config.near_limit = on);
    }

    /// Jira's per-issue write limit: the next `times` writes to issue `key` (a comment, a
    /// transition, an assignment) get 429 with `RateLimit-Reason: jira-per-issue-on-write` and
    /// `Retry-After: retry_after`, and change nothing.
    pub fn limit_writes(&self, key: &str, times: u32, retry_after: u64) {
        self.with(|s| s.write_limits.push((key.to_ascii_uppercase(), times, retry_after)));
    }

    /// The comments on issue `key` of the site named `site`, oldest first, as plain text
    /// (ADF text nodes joined; paragraphs by a newline).
    pub fn comments(&self, site: &str, key: &str) -> Vec<String> {
        self.with(|s| jira_write::comment_texts(s, site, key))
    }

    /// Delay before answering requests under `path_prefix`; `Duration::ZERO` removes it.
    pub fn set_latency(&self, path_prefix: &str, delay: Duration) {
        self.with(|s| s.set_latency(path_prefix, delay));
    }

    /// The round trip every request waits from now on (see [`RoundTrip`]).
    pub fn set_round_trip(&self, round_trip: RoundTrip) {
        self.inner.gateway.set(round_trip);
    }

    /// How many API requests (everything but `/authorize` and `/oauth/token`) came in so far,
    /// fast mode included, whatever their answer.
    pub fn api_requests(&self) -> u64 {
        self.inner.gateway.api_requests()
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.with(|s| s.log.clone())
    }

    /// How many requests hit paths starting with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.with(|s| s.log.iter().filter(|r| r.path.starts_with(path_prefix)).count())
    }

    /// How many streamed answers (attachment content) were sent to their last byte.
    pub fn finished_streams(&self) -> usize {
        self.with(|s| s.finished_streams)
    }

    /// How many `POST /oauth/token` with this `grant_type` were answered 200.
    pub fn token_grants(&self, grant_type: &str) -> usize {
        self.with(|s| {
            let ok = |r: &&LoggedRequest| {
                r.path == "/oauth/token" && r.status == 200 && r.grant_type.as_deref() == Some(grant_type)
            };
            s.log.iter().filter(ok).count()
        })
    }

    /// Every code, access token and refresh token ever issued, plus the client secret,
    /// for tests that grep stores, logs and pages for leaks.
    pub fn issued_secrets(&self) -> Vec<String> {
        self.with(|s| s.issued.clone())
    }

    /// The seed users (`alice`, `bob`, `carol`).
    pub fn users() -> &'static [SeedUser] {
        &seed::USERS
    }

    /// The seed sites (`acme`, `beta`).
    pub fn sites() -> &'static [SeedSite] {
        &seed::SITES
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(self) {
        self.inner.server.stop(true).await;
    }
}

/// Every route of the emulator, auth server and API gateway alike.
fn routes(cfg: &mut web::ServiceConfig) {
    const JIRA: &str = "/ex/jira/{cloud_id}/rest/api/3";
    const WIKI: &str = "/ex/confluence/{cloud_id}/wiki/api/v2";
    cfg.route("/authorize", web::get().to(auth::authorize))
        .route("/authorize/decision", web::post().to(auth::decision))
        .route("/oauth/token", web::post().to(token::token))
        .route("/oauth/token/accessible-resources", web::get().to(api::accessible_resources))
        .route("/me", web::get().to(api::me))
        .route(&format!("{JIRA}/myself"), web::get().to(jira::myself))
        .route(&format!("{JIRA}/search"), web::route().to(jira::search_gone))
        .service(
            web::resource(format!("{JIRA}/search/jql"))
                .route(web::get().to(jira::search_get))
                .route(web::post().to(jira::search_post)),
        )
        .route(&format!("{JIRA}/search/approximate-count"), web::post().to(jira::count))
        .route(&format!("{JIRA}/issue/{{key}}"), web::get().to(jira::issue))
        .service(
            web::resource(format!("{JIRA}/issue/{{key}}/comment"))
                .route(web::get().to(jira_write::comments))
                .route(web::post().to(jira_write::add_comment)),
        )
        .service(
            web::resource(format!("{JIRA}/issue/{{key}}/transitions"))
                .route(web::get().to(jira_write::transitions))
                .route(web::post().to(jira_write::transition)),
        )
        .route(&format!("{JIRA}/issue/{{key}}/assignee"), web::put().to(jira_write::assign))
        .route("/ex/confluence/{cloud_id}/wiki/rest/api/search", web::get().to(cql::search))
        .route(&format!("{JIRA}/attachment/content/{{id}}"), web::get().to(jira_extra::attachment_content))
        .route(&format!("{WIKI}/spaces"), web::get().to(confluence::spaces))
        .route(&format!("{WIKI}/spaces/{{id}}"), web::get().to(confluence::space))
        .route(&format!("{WIKI}/spaces/{{id}}/pages"), web::get().to(confluence::space_pages))
        .route(&format!("{WIKI}/pages"), web::get().to(confluence::pages))
        .route(&format!("{WIKI}/pages/{{id}}"), web::get().to(confluence::page))
        .default_service(web::to(api::not_found));
}
