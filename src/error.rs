//! The one error type of the web layer. Each variant is what the person should be told; the words
//! and status for every variant are chosen in one `match` (`AppError::page`), and the cause is
//! logged, never shown. `pages::error_page` renders them and logs the cause.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

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
    /// Atlassian answered 404 for something it keeps from people who may not see it (a Jira issue
    /// behind a security level is a 404, like one that does not exist): either is possible.
    #[error("not found, or not visible to this account")]
    NotVisible,
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
    /// The grant lacks the scope an endpoint needs; carries what the endpoint needs.
    #[error("the grant lacks scope {0}")]
    ScopeMissing(&'static crate::scopes::Need),
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

/// Where an error page's button goes.
#[derive(Clone, Copy)]
pub(crate) enum Go {
    Home,
    SignIn,
}

impl Go {
    pub(crate) fn href(self, urls: &Urls) -> String {
        match self {
            Go::Home => urls.home(),
            Go::SignIn => urls.login(None),
        }
    }
}

/// The words and action of an error page.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) title: &'static str,
    pub(crate) message: &'static str,
    pub(crate) action: Option<(&'static str, Go)>,
    /// A sentence that depends on the case (never internals).
    pub(crate) detail: Option<String>,
    /// Seconds for a `Retry-After` header.
    pub(crate) retry_after: Option<u64>,
}

impl AppError {
    pub(crate) fn page(&self) -> Page {
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
            AppError::NotVisible => (
                S::NOT_FOUND,
                "Not found, or not yours to see",
                "Atlassian says this does not exist or your account has no permission to see it. It answers both the same way, so threelo cannot tell which: check the address, or ask the project's administrators for access.",
                home,
            ),
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
            AppError::ScopeMissing(need) => (
                Some(format!(
                    "The missing scope is {need}. The people who run threelo must add it to the app in Atlassian's developer console (Permissions) and to THREELO_SCOPES; after that, sign in again and accept the new permission."
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
