//! `ANY /api/{rest}`: Atlassian's API for front-ends and scripts, with the caller's token attached
//! on the server (a backend-for-frontend proxy). The rules, in the order they are applied:
//!
//! 1. The path is one of four shapes, checked after decoding (`path.rs`); else 404.
//! 2. The caller is a key (`Authorization: Bearer thr_…`) or the browser's session. No or bad
//!    credentials: 401 with `WWW-Authenticate: Bearer`, never a redirect to sign in. A session's
//!    writes need `X-CSRF: 1` and must not be cross-site; a `read` key may only GET/HEAD (403);
//!    a key over its budget gets 429.
//! 3. A cloudId must be one of the caller's sites, for that product; else 404.
//! 4. A body over `THREELO_API_MAX_BODY`: 413. Only then does anything reach Atlassian.
//!
//! Every answer the proxy makes itself is JSON `{"error","message"}`, made here (the app's
//! error pages are HTML, and its sign-in errors redirect), so this handler never returns `Err`.

mod forward;
pub mod path;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_session::SessionExt;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;
use uuid::Uuid;

use crate::access_keys::{Access, AccessKeys, KeyError, OpenedKey};
use crate::atlassian::{ApiError, Atlassian, Site};
use crate::cause::chain;
use crate::config::Settings;
use crate::error::AppError;
use crate::log_throttle::LogThrottle;
use crate::metrics::{ApiCaller, KeyEvent, MethodClass, Metrics, Product};
use crate::on_behalf::OnBehalf;
use crate::rate_limits::{MAX_WAIT_SECS, RateLimits, Target};
use crate::session::{Sessions, check_origin};
use crate::telemetry::AccountId;
use crate::tokens::RefreshError;
use crate::urls::Urls;
use forward::{Answer, Outgoing};
use path::{ApiPath, ApiProduct};

/// A key's sites are read again from accessible-resources when older than this (as a session's).
const KEY_SITES_TTL: Duration = Duration::from_secs(300);
/// The most keys whose sites one instance remembers.
const KEY_SITES_CACHE: usize = 10_000;

/// An answer the proxy makes itself.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
    /// The cause's chain, for the log (never shown).
    cause: Option<String>,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { status, code, message: message.into(), retry_after: None, cause: None }
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder.insert_header(("cache-control", "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            builder.insert_header(("www-authenticate", "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            builder.insert_header(("retry-after", secs.to_string()));
        }
        builder.json(json!({"error": self.code, "message": self.message}))
    }
}

/// What a page-side error means for an API caller.
fn from_app_error(err: AppError) -> Refusal {
    use StatusCode as S;
    let refusal = match &err {
        AppError::NotFound => refuse(S::NOT_FOUND, "not_found", "no such site, or not one of yours"),
        AppError::NotVisible => refuse(S::NOT_FOUND, "not_found", "it does not exist, or this account may not see it"),
        AppError::GrantEnded(_) | AppError::SignInRequired(_) => refuse(
            S::UNAUTHORIZED,
            "grant_ended",
            "Atlassian no longer accepts this grant; sign in (or make a key) again",
        ),
        AppError::RateLimited(secs) => Refusal {
            retry_after: Some(*secs),
            ..refuse(
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("Atlassian asked us to slow down; retry in {secs} s"),
            )
        },
        AppError::ScopeMissing(scope) => {
            refuse(S::FORBIDDEN, "scope_missing", format!("the grant lacks the scope {scope}"))
        }
        AppError::Forbidden => refuse(S::FORBIDDEN, "forbidden", "Atlassian says this account may not do that"),
        AppError::Unavailable(_) => Refusal {
            retry_after: Some(30),
            ..refuse(S::SERVICE_UNAVAILABLE, "unavailable", "threelo cannot reach its storage; retry in a minute")
        },
        AppError::UpstreamFailed(cause) if is_timeout(cause.as_ref()) => {
            refuse(S::GATEWAY_TIMEOUT, "upstream_timeout", "Atlassian did not answer in time")
        }
        AppError::UpstreamFailed(_) => refuse(S::BAD_GATEWAY, "upstream_failed", "Atlassian did not answer properly"),
        AppError::CsrfRejected(why) => refuse(S::FORBIDDEN, "cross_site", format!("refused: {why}")),
        AppError::SignInMisconfigured(_) => {
            refuse(S::INTERNAL_SERVER_ERROR, "misconfigured", "threelo's Atlassian credentials were refused")
        }
        _ => refuse(S::INTERNAL_SERVER_ERROR, "internal", "an unexpected error occurred; it has been logged"),
    };
    Refusal { cause: Some(chain(&err)), ..refusal }
}

fn is_timeout(cause: &(dyn std::error::Error + 'static)) -> bool {
    matches!(cause.downcast_ref::<ApiError>(), Some(ApiError::Timeout))
        || matches!(cause.downcast_ref::<RefreshError>(), Some(RefreshError::Timeout(_)))
}

fn from_api_error(err: ApiError) -> Refusal {
    match err {
        ApiError::Timeout => {
            refuse(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "Atlassian did not answer in time")
        }
        ApiError::Unauthorized => {
            refuse(StatusCode::UNAUTHORIZED, "grant_ended", "Atlassian refused the grant even after a refresh")
        }
        other => from_app_error(AppError::UpstreamFailed(other.into())),
    }
}

fn from_refresh_error(err: RefreshError) -> Refusal {
    match err {
        RefreshError::GrantEnded(_) => refuse(
            StatusCode::UNAUTHORIZED,
            "grant_ended",
            "Atlassian no longer accepts this key's grant; make a new key",
        ),
        RefreshError::Misconfigured => from_app_error(AppError::SignInMisconfigured(err.into())),
        RefreshError::Unavailable(_) => from_app_error(AppError::Unavailable(err.into())),
        RefreshError::Timeout(_) => from_app_error(AppError::UpstreamFailed(err.into())),
        RefreshError::Failed(_) => from_app_error(AppError::UpstreamFailed(err.into())),
    }
}

/// The sites of each key's grant, per instance, for a few minutes.
#[derive(Default)]
pub struct KeySites(Mutex<HashMap<Uuid, (Instant, Vec<Site>)>>);

impl KeySites {
    fn get(&self, id: Uuid) -> Option<Vec<Site>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&id).filter(|(at, _)| at.elapsed() < KEY_SITES_TTL).map(|(_, sites)| sites.clone())
    }

    fn put(&self, id: Uuid, sites: Vec<Site>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= KEY_SITES_CACHE {
            map.retain(|_, (at, _)| at.elapsed() < KEY_SITES_TTL);
            if map.len() >= KEY_SITES_CACHE {
                map.clear();
            }
        }
        map.insert(id, (Instant::now(), sites));
    }

    fn forget(&self, id: Uuid) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

/// Who is calling.
// One per request, built once and moved once: the size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
enum Caller {
    Session(OnBehalf),
    Key(OpenedKey),
}

/// What the handler needs from the app.
struct Deps {
    settings: web::Data<Settings>,
    atlassian: web::Data<Atlassian>,
    sessions: web::Data<Sessions>,
    keys: web::Data<AccessKeys>,
    key_sites: web::Data<KeySites>,
    urls: web::Data<Urls>,
    metrics: web::Data<Metrics>,
    rate_limits: web::Data<RateLimits>,
    log_throttle: Option<web::Data<LogThrottle>>,
}

impl Deps {
    fn of(req: &HttpRequest) -> Option<Deps> {
        Some(Deps {
            settings: req.app_data::<web::Data<Settings>>()?.clone(),
            atlassian: req.app_data::<web::Data<Atlassian>>()?.clone(),
            sessions: req.app_data::<web::Data<Sessions>>()?.clone(),
            keys: req.app_data::<web::Data<AccessKeys>>()?.clone(),
            key_sites: req.app_data::<web::Data<KeySites>>()?.clone(),
            urls: req.app_data::<web::Data<Urls>>()?.clone(),
            metrics: req.app_data::<web::Data<Metrics>>()?.clone(),
            rate_limits: req.app_data::<web::Data<RateLimits>>()?.clone(),
            log_throttle: req.app_data::<web::Data<LogThrottle>>().cloned(),
        })
    }
}

/// `ANY /api/{rest}`.
pub async fn proxy(req: HttpRequest, body: web::Payload) -> HttpResponse {
    let Some(deps) = Deps::of(&req) else {
        return from_app_error(AppError::Internal(anyhow::anyhow!("the API proxy's dependencies are not registered")))
            .response();
    };
    let class =
        if matches!(*req.method(), Method::GET | Method::HEAD) { MethodClass::Read } else { MethodClass::Write };
    let mut caller_label = ApiCaller::Unknown;
    let mut product = Product::Identity;
    let response = match handle(&req, body, &deps, class, &mut caller_label, &mut product).await {
        Ok(response) => response,
        Err(refusal) => {
            if caller_label == ApiCaller::Key || req.headers().contains_key("authorization") {
                deps.metrics.access_key(KeyEvent::Refused);
            }
            if let Some(cause) = &refusal.cause {
                log_cause(&deps, refusal.status, cause);
            }
            refusal.response()
        }
    };
    deps.metrics.api_request(product, class, caller_label, response.status().as_u16());
    response
}

/// Logs why the proxy refused; failures an outage repeats on every call once per interval.
fn log_cause(deps: &Deps, status: StatusCode, cause: &str) {
    if !status.is_server_error() {
        tracing::info!("api: {cause}");
        return;
    }
    match deps.log_throttle.as_ref().map(|throttle| throttle.admit("api")) {
        Some(None) => {}
        Some(Some(held)) if held > 0 => tracing::warn!(held_back = held, "api: {cause}"),
        _ => tracing::warn!("api: {cause}"),
    }
}

async fn handle(
    req: &HttpRequest,
    body: web::Payload,
    deps: &Deps,
    class: MethodClass,
    caller_label: &mut ApiCaller,
    product: &mut Product,
) -> Result<HttpResponse, Refusal> {
    // 1. The path, before anything is looked up.
    let api_prefix = format!("{}/api/", deps.urls.prefix());
    let path = req
        .uri()
        .path()
        .strip_prefix(&api_prefix)
        .and_then(ApiPath::parse)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "not_found", "not an Atlassian API path threelo passes on"))?;
    *product = match path.product {
        ApiProduct::Jira => Product::Jira,
        ApiProduct::Confluence => Product::Confluence,
        ApiProduct::Identity => Product::Identity,
    };
    // A declared body too large is refused before any lookup.
    let max = deps.settings.api_max_body;
    if declared_length(req).is_some_and(|length| length > max) {
        return Err(too_large(max));
    }

    // 2. The caller.
    let caller = identify(req, deps, class).await?;
    *caller_label = match caller {
        Caller::Session(_) => ApiCaller::Session,
        Caller::Key(_) => ApiCaller::Key,
    };

    // 3. The site.
    if let Some(cloud_id) = &path.cloud_id {
        let sites = match &caller {
            Caller::Session(on_behalf) => on_behalf.sites().await.map_err(from_app_error)?,
            Caller::Key(key) => key_sites(deps, key).await?,
        };
        let site = sites.iter().find(|s| s.id == cloud_id.as_str());
        let covered = site.is_some_and(|site| match path.product {
            ApiProduct::Jira => site.has_jira(),
            ApiProduct::Confluence => site.has_confluence(),
            ApiProduct::Identity => true,
        });
        if !covered {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such site, or not one of yours for that product",
            ));
        }
    }

    // 4. The body, bounded.
    let body = read_body(body, max).await?;
    let outgoing = Outgoing::new(req, &deps.settings.api_url, &path, body)
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "not_found", "that request cannot be passed on"))?;

    // Atlassian's "slow down" is shared with pages (`rate_limits`): while a wait is remembered for
    // this account, site and product, nothing is sent; a 429 passed back is remembered.
    let target = Target { product: *product, site: path.cloud_id.as_ref().map_or("", |id| id.as_str()) };
    let (answer, account_id) = match caller {
        Caller::Session(on_behalf) => {
            // `OnBehalf::call` answers a remembered wait itself (RateLimited, below a 429).
            let sent = on_behalf.call(target, |atlassian, token| {
                let outgoing = &outgoing;
                async move { outgoing.send(&atlassian, &token).await }
            });
            let answer = sent.await.map_err(from_app_error)?;
            if answer.status() == 404 && path.cloud_id.is_some() {
                // As pages do: the site may be gone; look again on the next call.
                let _ = on_behalf.recheck_sites();
            }
            (answer, on_behalf.session_data().user.account_id)
        }
        Caller::Key(key) => {
            let account_id = key.entry.account_id.clone();
            if let Some(secs) = remembered_wait(deps, &account_id, target).await {
                return Err(from_app_error(AppError::RateLimited(secs)));
            }
            (call_with_key(deps, key, &outgoing).await?, account_id)
        }
    };
    if let Some(secs) = answer.asks_to_wait() {
        let waits = Mutex::new(deps.rate_limits.read(&account_id).await.unwrap_or_default());
        deps.rate_limits.note(&account_id, target, secs, &waits).await;
    }
    tracing::info!(product = product.as_str(), method = class.as_str(), status = answer.status(), "api call passed on");
    Ok(answer.into_response())
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers().get("content-length")?.to_str().ok()?.trim().parse().ok()
}

fn too_large(max: usize) -> Refusal {
    refuse(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request bodies may be at most {max} bytes"))
}

async fn read_body(mut payload: web::Payload, max: usize) -> Result<web::Bytes, Refusal> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| refuse(StatusCode::BAD_REQUEST, "bad_body", "the request body could not be read"))?;
        if body.len() + chunk.len() > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The caller, by key or session, allowed to make a call of `class`.
async fn identify(req: &HttpRequest, deps: &Deps, class: MethodClass) -> Result<Caller, Refusal> {
    let unauthorized = |message: &str| refuse(StatusCode::UNAUTHORIZED, "unauthorized", message);
    if let Some(header) = req.headers().get("authorization") {
        let bearer = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .ok_or_else(|| unauthorized("send an access key as Authorization: Bearer thr_…"))?;
        let key = match deps.keys.open(bearer).await {
            Ok(key) => key,
            Err(KeyError::Malformed) => return Err(unauthorized("that is not a threelo access key")),
            Err(KeyError::Unknown) => return Err(unauthorized("unknown, revoked or expired access key")),
            Err(KeyError::GrantEnded) => {
                return Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "grant_ended",
                    "Atlassian no longer accepts this key's grant; make a new key",
                ));
            }
            Err(KeyError::Unavailable(err)) => return Err(from_app_error(err.into())),
            Err(KeyError::Token(err)) => return Err(from_app_error(err.into())),
        };
        req.extensions_mut().insert(AccountId(key.entry.account_id.clone()));
        if class == MethodClass::Write && key.entry.access == Access::Read {
            return Err(refuse(StatusCode::FORBIDDEN, "read_only_key", "this key may only GET and HEAD"));
        }
        if let Some(wait) = deps.keys.spend(key.entry.id).await.map_err(|err| from_app_error(err.into()))? {
            return Err(Refusal {
                retry_after: Some(wait),
                ..refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    "key_rate_limited",
                    format!("this key's budget is spent; retry in {wait} s"),
                )
            });
        }
        return Ok(Caller::Key(key));
    }
    let signed_in = deps.sessions.current(req, req.get_session()).await.map_err(from_app_error)?;
    let Some(signed_in) = signed_in else {
        return Err(unauthorized("sign in, or send an access key as Authorization: Bearer thr_…"));
    };
    req.extensions_mut().insert(AccountId(signed_in.account_id().to_owned()));
    if class == MethodClass::Write {
        // A page on another site can make the browser send the cookie; it cannot set X-CSRF
        // without a CORS preflight, which we never grant.
        if req.headers().get("x-csrf").is_none_or(|v| v.as_bytes() != b"1") {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "csrf",
                "writes with the session cookie need the header X-CSRF: 1",
            ));
        }
        check_origin(req, &deps.settings).map_err(from_app_error)?;
    }
    OnBehalf::new(signed_in, req).map(Caller::Session).map_err(from_app_error)
}

/// Seconds left of a wait Atlassian asked for, for `account_id` and `target`, on any instance.
async fn remembered_wait(deps: &Deps, account_id: &str, target: Target<'_>) -> Option<u64> {
    if let Some(secs) = deps.rate_limits.known_wait(account_id, target) {
        return Some(secs);
    }
    match deps.rate_limits.read(account_id).await {
        Ok(waits) => waits.wait(target),
        Err(err) => {
            tracing::warn!(error = %chain(&err), "cannot read Atlassian's rate limits");
            None
        }
    }
}

/// The sites of a key's grant (cached for a few minutes per instance).
async fn key_sites(deps: &Deps, key: &OpenedKey) -> Result<Vec<Site>, Refusal> {
    if let Some(sites) = deps.key_sites.get(key.entry.id) {
        return Ok(sites);
    }
    let refresher = deps.keys.refresher();
    let record = refresher.fresh(key.record.clone()).await.map_err(from_refresh_error)?;
    let sites = match deps.atlassian.accessible_resources(&record.tokens.access_token).await {
        Err(ApiError::Unauthorized) => {
            let record = refresher.refresh(record).await.map_err(from_refresh_error)?;
            deps.atlassian.accessible_resources(&record.tokens.access_token).await
        }
        other => other,
    };
    let sites = sites.map_err(from_api_error)?;
    deps.key_sites.put(key.entry.id, sites.clone());
    Ok(sites)
}

/// One call with a key's grant: refreshed first if about to expire, and once more after a plain
/// 401 when the call had no body.
async fn call_with_key(deps: &Deps, key: OpenedKey, outgoing: &Outgoing) -> Result<Answer, Refusal> {
    let refresher = deps.keys.refresher();
    let opened_version = key.record.version;
    let record = refresher.fresh(key.record).await.map_err(from_refresh_error)?;
    let mut refreshed = record.version != opened_version;
    let answer = match outgoing.send(&deps.atlassian, &record.tokens.access_token).await {
        Err(ApiError::Unauthorized) => {
            refreshed = true;
            let record = refresher.refresh(record).await.map_err(from_refresh_error)?;
            outgoing.send(&deps.atlassian, &record.tokens.access_token).await
        }
        other => other,
    };
    if let Err(err) = deps.keys.used(&key.entry, refreshed).await {
        tracing::warn!(error = %err, "could not note an access key's use");
    }
    match answer {
        Ok(answer) => {
            if answer.status() == 404 {
                deps.key_sites.forget(key.entry.id);
            }
            Ok(answer)
        }
        Err(err) => Err(from_api_error(err)),
    }
}
