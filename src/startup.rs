//! The one place that knows every route and middleware.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::access_keys::AccessKeys;
use crate::api::KeySites;
use crate::atlassian::Atlassian;
use crate::config::{RedisUrl, Settings};
use crate::error::AppError;
use crate::head::head_as_get;
use crate::log_throttle::LogThrottle;
use crate::metrics::Metrics;
use crate::pages::error_page::render_error_pages;
use crate::rate_limits::RateLimits;
use crate::security_headers::add_security_headers;
use crate::session::{KvSessionStore, SessionIndex, SessionKeys, Sessions, session_cookie_name};
use crate::store::{Kv, redis_pool};
use crate::tokens::{KeyRing, Refresher, TokenStore};
use crate::urls::Urls;
use crate::{api, auth, health, metrics, pages, server_limits, telemetry};

/// Where sessions and token records live.
#[derive(Clone, Debug)]
pub enum Storage {
    Redis(RedisUrl),
    /// In-process maps, for `threelo demo` only: everything is gone when the process ends.
    Memory,
}

/// A bound, ready-to-run instance of the app.
pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on its own address, when THREELO_METRICS_LISTEN asks for it.
    metrics_server: Option<Server>,
}

impl Application {
    /// Binds `settings.listen` and builds the app.
    pub async fn build(settings: Settings, storage: Storage) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.listen).with_context(|| {
            format!(
                "cannot listen on {} (is another program using that port? set THREELO_LISTEN to another address)",
                settings.listen
            )
        })?;
        Application::build_on(listener, settings, storage).await
    }

    /// Builds the app on an already bound listener (tests bind port 0 and read the port first).
    pub async fn build_on(listener: TcpListener, settings: Settings, storage: Storage) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let kv = match storage {
            Storage::Redis(url) => Kv::Redis(redis_pool(&url)?),
            Storage::Memory => Kv::memory(),
        };
        let session_store = KvSessionStore::new(kv.clone(), SessionKeys::new(settings.session_secret_bytes()));
        let key = Key::try_from(settings.session_secret_bytes())
            .map_err(|_| anyhow::anyhow!("THREELO_SESSION_SECRET must decode to at least 64 bytes"))?;
        let metrics = Arc::new(Metrics::default());
        let metrics_listen = settings.metrics_listen;
        let metrics_elsewhere = metrics_listen.is_some();
        let metrics_for_listener = metrics.clone();
        let atlassian = web::Data::new(Atlassian::new(&settings, metrics.clone())?);
        let ring = Arc::new(KeyRing::new(&settings.token_keys));
        let tokens = TokenStore::new(kv.clone(), ring, settings.session.idle_timeout);
        let index = SessionIndex::new(kv.clone(), settings.session);
        let sessions = web::Data::new(Sessions::new(&settings, tokens.clone(), index));
        // Patience for another instance's refresh: one token request plus some slack.
        let patience = settings.upstream_timeout + std::time::Duration::from_secs(5);
        let refresher = web::Data::new(Refresher::new(tokens, atlassian.get_ref().clone(), patience));
        let ring_for_keys = Arc::new(KeyRing::new(&settings.token_keys));
        let access_keys =
            web::Data::new(AccessKeys::new(kv.clone(), ring_for_keys, atlassian.get_ref().clone(), patience));
        let key_sites = web::Data::new(KeySites::default());
        let urls = web::Data::new(Urls::new(&settings.public_url));
        let rate_limits = web::Data::new(RateLimits::new(kv.clone()));
        let log_throttle = web::Data::new(LogThrottle::default());
        if let Err(err) = kv.ping().await {
            // Not fatal: the app serves 503 pages until Redis answers, then recovers by itself.
            tracing::warn!(error = %err, "Redis does not answer yet; pages will answer 503 until it does");
        }
        let kv = web::Data::new(kv);
        let settings = web::Data::new(settings);

        let server = HttpServer::new(move || {
            // Each worker thread gets its own HTTP client for pages' calls to Atlassian: a pooled
            // connection is driven by the runtime that opened it, so with one client for all
            // workers every other call crossed threads (a wake-up each way). The shared client
            // stays for refreshes; it is also the fallback should a second client not build.
            let worker_atlassian = match Atlassian::new(&settings, metrics.clone()) {
                Ok(client) => web::Data::new(client.sharing_gets_with(&atlassian)),
                Err(err) => {
                    tracing::warn!(error = %err, "no HTTP client of its own for a worker; sharing the first");
                    atlassian.clone()
                }
            };
            let prefix = settings.public_url.prefix().to_owned();
            // Middleware runs outside-in in the reverse order of `wrap`:
            // log_requests -> head_as_get -> security headers -> limit_requests ->
            // render_error_pages -> (pages only) session -> handler. limit_requests refuses an
            // oversized head or a stalled body before any page or Redis work. Error
            // pages sit outside the session layer so that a failing session store still gets a
            // designed 503 page; security headers wrap them so error pages carry them too; the
            // request log sits outside everything so it records the status the browser got.
            App::new()
                .app_data(settings.clone())
                .app_data(worker_atlassian)
                .app_data(sessions.clone())
                .app_data(urls.clone())
                .app_data(rate_limits.clone())
                .app_data(log_throttle.clone())
                .app_data(refresher.clone())
                .app_data(web::Data::from(metrics.clone()))
                .app_data(kv.clone())
                .app_data(access_keys.clone())
                .app_data(key_sites.clone())
                .service(
                    web::scope(&prefix)
                        // Routes that must answer without touching the session (and so Redis):
                        // health checks, metrics and the stylesheet.
                        .service(health::healthz)
                        .service(health::readyz)
                        .service(pages::stylesheet)
                        .service(pages::favicon_ico)
                        .configure(|scope| {
                            // On the public port unless it has an address of its own.
                            if !metrics_elsewhere {
                                scope.service(metrics::metrics);
                            }
                        })
                        .service(
                            web::scope("")
                                .service(pages::home::home)
                                .service(pages::sites::sites)
                                .service(pages::jira::issues)
                                .service(pages::issue::issue)
                                .service(pages::issue_actions::add_comment)
                                .service(pages::issue_actions::transition)
                                .service(pages::issue_actions::assign_to_me)
                                .service(pages::search::search)
                                .service(pages::confluence::spaces)
                                .service(pages::confluence::page)
                                .service(pages::account::account)
                                .service(pages::account::end_session)
                                .service(pages::account::end_other_sessions)
                                .service(pages::access_keys::create_key)
                                .service(pages::access_keys::revoke_key)
                                // Every method; answers its own JSON errors, never a redirect.
                                .service(web::resource("/api/{rest:.*}").to(api::proxy))
                                .service(auth::login)
                                .service(auth::callback::callback)
                                .service(auth::logout)
                                .service(auth::consent)
                                .default_service(web::to(not_found_here))
                                .wrap(session_middleware(&settings, session_store.clone(), key.clone())),
                        ),
                )
                .default_service(web::to(not_found))
                .wrap(from_fn(render_error_pages))
                .wrap(from_fn(server_limits::limit_requests))
                .wrap(from_fn(add_security_headers))
                .wrap(from_fn(head_as_get))
                .wrap(from_fn(telemetry::log_requests))
        })
        // What one client may hold of the server: see server_limits.
        // Streamed answers (the /api proxy) go out as a head and then chunks; with Nagle's
        // algorithm on, a chunk waits for the client's delayed ACK of the head (~40 ms each).
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .client_request_timeout(server_limits::HEAD_TIMEOUT)
        .client_disconnect_timeout(server_limits::DISCONNECT_TIMEOUT)
        .keep_alive(server_limits::KEEP_ALIVE)
        .max_connections(server_limits::MAX_CONNECTIONS_PER_WORKER)
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        let metrics_server = match metrics_listen {
            None => None,
            Some(address) => {
                let data = web::Data::from(metrics_for_listener);
                let server = HttpServer::new(move || App::new().app_data(data.clone()).service(metrics::metrics))
                    .workers(1)
                    .bind(address)
                    .with_context(|| format!("cannot listen on {address} for metrics (THREELO_METRICS_LISTEN)"))?
                    .run();
                Some(server)
            }
        };
        Ok(Application { port, server, metrics_server })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM finish in-flight requests first).
    pub async fn run(self) -> std::io::Result<()> {
        match self.metrics_server {
            None => self.server.await,
            Some(metrics) => futures_util::future::try_join(self.server, metrics).await.map(|_| ()),
        }
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// A 404 under the session layer: asking who is signed in lets the error page keep their header.
async fn not_found_here(_visitor: crate::session::MaybeSignedIn) -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// The session cookie (README, "Sessions"): `__Host-` and `Secure` over https at the root, the public
/// path otherwise; HttpOnly; SameSite=Lax (Strict would drop it on Atlassian's redirect back).
fn session_middleware(settings: &Settings, store: KvSessionStore, key: Key) -> SessionMiddleware<KvSessionStore> {
    let public = &settings.public_url;
    let at_root = public.prefix().is_empty();
    let name = session_cookie_name(settings);
    SessionMiddleware::builder(store, key)
        .cookie_name(name.to_owned())
        .cookie_secure(public.is_https())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path(if at_root { "/".to_owned() } else { public.prefix().to_owned() })
        .session_lifecycle(
            BrowserSession::default()
                .state_ttl(actix_web::cookie::time::Duration::seconds(settings.session.idle_timeout.as_secs() as i64))
                .state_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}
