//! Error pages: every error (ours, actix's, a failing session store) becomes a designed page,
//! with the signed-in header when someone is signed in, and its cause is logged by severity.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use askama::Template;

use crate::cause::chain;
use crate::config::Settings;
use crate::error::AppError;
use crate::log_throttle::LogThrottle;
use crate::metrics::Metrics;
use crate::pages::Chrome;
use crate::session::SessionData;
use crate::urls::Urls;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    urls: &'a Urls,
    /// The signed-in header, when a signed-in page failed.
    chrome: Option<Chrome>,
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
        // Redis failures are logged by the store, once per interval with a count (store/circuit.rs).
        AppError::Unavailable(_) => tracing::debug!("{}", chain(err)),
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
    render_for(urls, err, None)
}

/// The error page, with the signed-in header when `signed_in` says who is signed in.
fn render_for(urls: &Urls, err: &AppError, signed_in: Option<SessionData>) -> RenderedPage {
    let page = err.page();
    let action = page.action.map(|(label, route)| (label, route.href(urls)));
    // Errors that end or question the sign-in show no header: it would name someone signed out.
    let keeps_header = !matches!(
        err,
        AppError::GrantEnded(_)
            | AppError::SignInRequired(_)
            | AppError::SignInCancelled
            | AppError::SignInExpired
            | AppError::SignInFailed(_)
            | AppError::SignInMisconfigured(_)
            | AppError::Unavailable(_)
    );
    let chrome = signed_in.filter(|_| keeps_header).map(|data| Chrome::new(data, None));
    let html = ErrorPage { urls, chrome, title: page.title, message: page.message, detail: page.detail, action }
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
            let signed_in = res.request().extensions().get::<SessionData>().cloned();
            render_for(&urls, err, signed_in).error_response()
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
