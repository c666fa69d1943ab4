//! The one error type of the web layer. Each variant is what the person should be told; the page
//! for every variant is chosen in one `match`, and the cause is logged, never shown.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use crate::config::Settings;
use crate::log_throttle::LogThrottle;
use crate::metrics::Metrics;
use crate::urls::Urls;

/// The cause of an error, kept for the log (with its own sources), never shown.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong, as the user should see it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The page needs a signed-in user; carries the path to come back to.
    #[error("sign-in required")]
    SignInRequired(String),
    /// The user pressed Cancel on Atlassian's consent screen.
    #[error("the user cancelled the sign-in")]
    SignInCancelled,
    /// Unknown, expired or already-used `state`.
    #[error("unknown, expired or already used sign-in state")]
    SignInExpired,
    /// The operator's configuration is wrong (logged with the setting to check).
    #[error("sign-in is misconfigured")]
    SignInMisconfigured(#[source] Cause),
    /// Atlassian refused or failed the sign-in; trying again may work.
    #[error("sign-in failed")]
    SignInFailed(#[source] Cause),
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A form was posted without a valid CSRF token or from another origin.
    #[error("cross-site request refused: {0}")]
    CsrfRejected(&'static str),
    #[error("not found")]
    NotFound,
    /// Atlassian no longer accepts the grant (revoked, expired, rotated out): sign in again.
    #[error("the Atlassian grant has ended")]
    GrantEnded(#[source] Cause),
    /// Atlassian asked us to slow down; carries the seconds to wait.
    #[error("rate limited by Atlassian for {0} s")]
    RateLimited(u64),
    /// Atlassian failed, timed out or answered nonsense.
    #[error("Atlassian failed")]
    UpstreamFailed(#[source] Cause),
    /// The product says this account may not see the thing.
    #[error("forbidden by Atlassian")]
    Forbidden,
    /// The grant lacks the scope an endpoint needs; carries the scope.
    #[error("the grant lacks scope {0}")]
    ScopeMissing(&'static str),
    /// Storage (Redis) is down.
    #[error("storage unavailable")]
    Unavailable(#[source] Cause),
    /// Anything unexpected. The cause is logged only.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for AppError {
    fn from(err: crate::store::StoreError) -> Self {
        AppError::Unavailable(err.into())
    }
}

impl From<crate::tokens::TokenError> for AppError {
    /// Storage trouble is a 503; anything else about a token record is unexpected.
    fn from(err: crate::tokens::TokenError) -> Self {
        match err {
            crate::tokens::TokenError::Unavailable(err) => err.into(),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<actix_session::SessionInsertError> for AppError {
    fn from(err: actix_session::SessionInsertError) -> Self {
        AppError::Internal(anyhow::Error::new(err).context("session insert failed"))
    }
}

/// `error: cause: cause's cause…`, for the log line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// Where an error page's button goes.
#[derive(Clone, Copy)]
enum Go {
    Home,
    SignIn,
}

impl Go {
    fn href(self, urls: &Urls) -> String {
        match self {
            Go::Home => urls.home(),
            Go::SignIn => urls.login(None),
        }
    }
}

/// The words and action of an error page.
struct Page {
    status: StatusCode,
    title: &'static str,
    message: &'static str,
    action: Option<(&'static str, Go)>,
    /// A sentence that depends on the case (never internals).
    detail: Option<String>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl AppError {
    fn page(&self) -> Page {
        use StatusCode as S;
        let retry = Some(("Sign in again", Go::SignIn));
        let home = Some(("Go to the start page", Go::Home));
        let (status, title, message, action) = match self {
            // Normally answered with a redirect by `render_error_pages`; this page is the fallback.
            AppError::SignInRequired(_) => (
                S::UNAUTHORIZED,
                "Please sign in",
                "This page shows your Atlassian work, so you need to sign in first.",
                Some(("Sign in with Atlassian", Go::SignIn)),
            ),
            AppError::SignInCancelled => (
                S::OK,
                "You cancelled the sign-in",
                "Nothing was shared with threelo. You can sign in whenever you like.",
                Some(("Try again", Go::SignIn)),
            ),
            AppError::SignInExpired => (
                S::BAD_REQUEST,
                "This sign-in link has expired",
                "Sign-in links work once and only for a few minutes. Start again and it will work.",
                Some(("Start again", Go::SignIn)),
            ),
            AppError::SignInMisconfigured(_) => (
                S::INTERNAL_SERVER_ERROR,
                "Sign-in is misconfigured",
                "Atlassian did not accept this threelo installation's credentials. The people who run threelo have been told; please try again later.",
                home,
            ),
            AppError::SignInFailed(_) => (
                S::BAD_GATEWAY,
                "Sign-in failed, try again",
                "Atlassian could not complete the sign-in just now. Please try again.",
                retry,
            ),
            AppError::BadRequest(_) => (
                S::BAD_REQUEST,
                "That request was not understood",
                "The address you followed is incomplete or malformed.",
                home,
            ),
            AppError::CsrfRejected(_) => (
                S::FORBIDDEN,
                "That form has expired",
                "For your safety we only accept forms sent from this site's own, current pages. Reload the page and try again.",
                home,
            ),
            AppError::NotFound => (S::NOT_FOUND, "Page not found", "There is nothing at this address.", home),
            AppError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "threelo cannot reach its storage right now. Please try again in a minute.",
                home,
            ),
            AppError::GrantEnded(_) => (
                S::UNAUTHORIZED,
                "Your Atlassian sign-in has ended",
                "Atlassian no longer accepts threelo's access for your account. This happens when the app was removed from your Atlassian account, your password changed, or it was not used for a long time. Sign in again to continue.",
                Some(("Sign in again", Go::SignIn)),
            ),
            AppError::RateLimited(_) => (
                S::SERVICE_UNAVAILABLE,
                "Atlassian asked us to slow down",
                "Atlassian limits how often apps may call it, and threelo has reached that limit for now.",
                None,
            ),
            AppError::UpstreamFailed(_) => (
                S::BAD_GATEWAY,
                "Atlassian is not answering properly",
                "Atlassian did not answer as expected just now. Please try again in a moment.",
                home,
            ),
            AppError::Forbidden => (
                S::FORBIDDEN,
                "Your Atlassian account cannot see this",
                "Atlassian says your account has no permission to see this. Ask the project's or space's administrators for access.",
                home,
            ),
            AppError::ScopeMissing(_) => (
                S::FORBIDDEN,
                "threelo was not granted access to this",
                "Atlassian did not give threelo the permission (scope) this page needs, so signing in again as things are will not help.",
                Some(("Sign in again", Go::SignIn)),
            ),
            AppError::Internal(_) => (
                S::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "An unexpected error occurred. It has been logged; please try again.",
                home,
            ),
        };
        let (detail, retry_after) = match self {
            AppError::RateLimited(secs) => (Some(format!("Please try again in {secs} s.")), Some(*secs)),
            AppError::Unavailable(_) => (None, Some(30)),
            AppError::ScopeMissing(scope) => (
                Some(format!(
                    "The missing scope is {scope}. The people who run threelo must add it to the app in Atlassian's developer console (Permissions) and to THREELO_SCOPES; after that, sign in again and accept the new permission."
                )),
                None,
            ),
            _ => (None, None),
        };
        Page { status, title, message, action, detail, retry_after }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.page().status
    }

    /// A bare response: `render_error_pages` fills in the page, which needs the public URL.
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).finish()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    urls: &'a Urls,
    title: &'a str,
    message: &'a str,
    detail: Option<String>,
    action: Option<(&'a str, String)>,
}

/// Logs the cause of an error by its severity. Never includes a request's query or body.
/// Failures that an outage repeats on every request are logged once per interval, with a count.
fn log_error(err: &AppError, metrics: Option<&Metrics>, throttle: Option<&LogThrottle>) {
    if let (AppError::Unavailable(_), Some(metrics)) = (err, metrics) {
        metrics.redis_error();
    }
    let repeated = match err {
        AppError::Unavailable(_) => Some("storage unavailable"),
        AppError::UpstreamFailed(_) => Some("Atlassian failing"),
        AppError::SignInFailed(_) => Some("sign-in failing"),
        _ => None,
    };
    if let Some(kind) = repeated {
        let Some(held_back) = throttle.map_or(Some(0), |t| t.admit(kind)) else { return };
        tracing::warn!(kind, held_back, "{}", chain(err));
        return;
    }
    match err {
        AppError::Internal(cause) => tracing::error!("{cause:#}"),
        AppError::SignInMisconfigured(_) => tracing::error!("{}", chain(err)),
        _ => tracing::info!("{}", chain(err)),
    }
}

/// A designed error page, ready to send. It is itself an error so that it can also replace an
/// `Err` coming up from the session layer, where no request is left to build a response for.
#[derive(Debug, thiserror::Error)]
#[error("{status}")]
struct RenderedPage {
    status: StatusCode,
    retry_after: Option<u64>,
    html: String,
}

impl ResponseError for RenderedPage {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(self.html.clone());
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn render(urls: &Urls, err: &AppError) -> RenderedPage {
    let page = err.page();
    let action = page.action.map(|(label, route)| (label, route.href(urls)));
    let html = ErrorPage { urls, title: page.title, message: page.message, detail: page.detail, action }
        .render()
        .unwrap_or_else(|_| page.title.to_owned());
    RenderedPage { status: page.status, retry_after: page.retry_after, html }
}

/// Sends a signed-out visitor to sign in, and back to `here` afterwards.
fn sign_in_redirect(urls: &Urls, here: &str) -> HttpResponse {
    let location = urls.absolute(&urls.login(Some(here)));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Middleware: turns every error (ours, actix's, a failing session store) into a designed page.
pub async fn render_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Not `req.request().clone()`: routing needs the request unshared.
    let settings = req.app_data::<web::Data<Settings>>().cloned();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let throttle = req.app_data::<web::Data<LogThrottle>>().cloned();
    let log =
        |err: &AppError| log_error(err, metrics.as_ref().map(|m| m.get_ref()), throttle.as_ref().map(|t| t.get_ref()));
    let urls = settings.as_ref().map(|s| Urls::new(&s.public_url)).unwrap_or_default();
    let res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        // Only the session middleware fails this way: its store (Redis) is unreachable.
        Err(err) => {
            let err = AppError::Unavailable(err.to_string().into());
            log(&err);
            return Err(render(&urls, &err).into());
        }
    };
    let Some(error) = res.response().error() else {
        return Ok(res);
    };
    let mut page = match (error.as_error::<AppError>(), settings.as_deref()) {
        (Some(AppError::SignInRequired(here)), Some(_)) => sign_in_redirect(&urls, here),
        (Some(err), _) => {
            log(err);
            render(&urls, err).error_response()
        }
        // actix's own errors, e.g. a query string or form that does not parse.
        // actix's own client errors (a body too large, a wrong content type...) keep their status.
        (None, _) if res.status().is_client_error() => {
            let mut page = render(&urls, &AppError::BadRequest("rejected by the framework"));
            page.status = res.status();
            page.error_response()
        }
        (None, _) => {
            let err = AppError::Internal(anyhow::anyhow!("{error}"));
            log(&err);
            render(&urls, &err).error_response()
        }
    };
    let (req, res) = res.into_parts();
    // Keep cookies the handler set or cleared (an ended session must still clear its cookie).
    for value in res.headers().get_all(header::SET_COOKIE) {
        page.headers_mut().append(header::SET_COOKIE, value.clone());
    }
    Ok(ServiceResponse::new(req, page))
}
