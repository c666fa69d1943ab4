//! `GET /auth/callback`: where Atlassian sends the browser back. Every outcome gets its own page,
//! and none leaves a half-signed-in session.

use actix_session::Session;
use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::atlassian::{ApiError, Atlassian, ExchangeError, Me, Site, TokenSet};
use crate::error::AppError;
use crate::metrics::SignInOutcome;
use crate::query::single_param;
use crate::session::{MaybeSignedIn, Sessions, User};
use crate::urls::Urls;

/// Longer query strings are refused before anything is parsed.
const MAX_QUERY: usize = 8192;
/// Longer values of one parameter are refused (Atlassian's codes are far shorter).
const MAX_PARAM: usize = 4096;

/// The callback's parameters, each present at most once and of sane length.
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn parse(query: &str) -> Result<CallbackParams, AppError> {
    if query.len() > MAX_QUERY {
        return Err(AppError::BadRequest("the callback's query string is too long"));
    }
    let get = |name| -> Result<Option<String>, AppError> {
        let value = single_param(query, name)?;
        match value {
            Some(v) if v.len() > MAX_PARAM => Err(AppError::BadRequest("a callback parameter is too long")),
            Some(v) if v.is_empty() => Ok(None),
            other => Ok(other),
        }
    };
    Ok(CallbackParams { code: get("code")?, state: get("state")?, error: get("error")? })
}

/// The outcome label of a callback, for `threelo_sign_ins_total`.
fn outcome(result: &Result<HttpResponse, AppError>) -> SignInOutcome {
    match result {
        Ok(_) => SignInOutcome::Success,
        Err(AppError::SignInCancelled) => SignInOutcome::Cancelled,
        Err(AppError::SignInExpired) => SignInOutcome::ExpiredState,
        Err(AppError::SignInMisconfigured(_)) => SignInOutcome::Misconfigured,
        Err(AppError::SignInFailed(_)) => SignInOutcome::Failed,
        Err(AppError::BadRequest(_)) => SignInOutcome::BadRequest,
        Err(AppError::Unavailable(_)) => SignInOutcome::Unavailable,
        Err(_) => SignInOutcome::Error,
    }
}

#[get("/auth/callback")]
pub async fn callback(
    req: HttpRequest,
    previous: MaybeSignedIn,
    session: Session,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
    atlassian: web::Data<Atlassian>,
) -> Result<HttpResponse, AppError> {
    let mut in_progress = None;
    let result = finish_sign_in(&req, previous, &session, &sessions, &urls, &atlassian, &mut in_progress).await;
    atlassian.metrics().sign_in(outcome(&result));
    // Whatever the outcome, a sign-in whose state came back is over: the cookie forgets it (an
    // error keeps its page, which `render_error_pages` builds with this cookie).
    let mut response = result.unwrap_or_else(HttpResponse::from_error);
    if let Some(cookie) = in_progress {
        response.add_cookie(&cookie).map_err(|err| AppError::Internal(err.into()))?;
    }
    Ok(response)
}

async fn finish_sign_in(
    req: &HttpRequest,
    previous: MaybeSignedIn,
    session: &Session,
    sessions: &Sessions,
    urls: &Urls,
    atlassian: &Atlassian,
    in_progress: &mut Option<Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    let params = parse(req.query_string())?;
    if sessions.cookies_are_doubled(req) {
        // Another site under the same parent domain may have planted a cookie of our name to
        // sign this browser into someone else's account ("cookie tossing").
        return Err(AppError::BadRequest("the browser sent two threelo cookies of the same name"));
    }

    if let Some(error) = params.error {
        // Whatever happens next, this sign-in attempt is over: consume its state.
        if let Some(state) = &params.state {
            *in_progress = Some(sessions.finish_sign_in(req, state).1);
        }
        if error == "access_denied" {
            return Err(AppError::SignInCancelled);
        }
        let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        tracing::warn!(error = %code, "Atlassian returned an error to the callback");
        return Err(AppError::BadRequest("Atlassian reported an error with this sign-in"));
    }
    let (Some(code), Some(state)) = (params.code, params.state) else {
        return Err(AppError::BadRequest("the callback carries neither a code nor an error"));
    };
    let (pending, remaining) = sessions.finish_consent(req, &state);
    *in_progress = Some(remaining);
    let Some(pending) = pending else {
        return Err(AppError::SignInExpired);
    };

    let token_set = atlassian.oauth().exchange_code(atlassian.http(), &code).await.map_err(exchange_failure)?;
    if let Some(key) = pending.key {
        // A consent for an access key, not a sign-in: the session stays as it is.
        return crate::pages::access_keys::key_consented(req, previous.0, key, token_set, atlassian).await;
    }
    let return_to = pending.return_to;
    let (me, sites) = identify(atlassian, &token_set).await?;
    let user = User { account_id: me.account_id, name: me.name, email: me.email, avatar_url: me.picture };
    sessions.start(req, session, user, token_set, sites, previous.0).await?;
    Ok(urls.see_other(&return_to))
}

fn exchange_failure(err: ExchangeError) -> AppError {
    match err {
        ExchangeError::BadClientCredentials => AppError::SignInMisconfigured(err.into()),
        other => AppError::SignInFailed(other.into()),
    }
}

/// Who signed in and which sites they gave us. Both must succeed: no empty user.
async fn identify(atlassian: &Atlassian, tokens: &TokenSet) -> Result<(Me, Vec<Site>), AppError> {
    let token = &tokens.access_token;
    let (me, sites) = tokio::join!(atlassian.me(token), atlassian.accessible_resources(token));
    let describe = |what: &'static str, err: ApiError| {
        match err {
        ApiError::ScopeMismatch(_) => AppError::SignInMisconfigured(
            IdentifyError { what, hint: " (THREELO_SCOPES must include read:me, and the app must have the User Identity API in the developer console)", source: err }.into(),
        ),
        other => AppError::SignInFailed(IdentifyError { what, hint: "", source: other }.into()),
    }
    };
    let me = me.map_err(|err| describe("reading the profile (/me)", err))?;
    if me.account_id.trim().is_empty() {
        return Err(AppError::SignInFailed("/me returned no account id".into()));
    }
    let sites = sites.map_err(|err| describe("listing the sites (accessible-resources)", err))?;
    Ok((me, sites))
}

/// A step of identifying the user failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed{hint}")]
struct IdentifyError {
    what: &'static str,
    hint: &'static str,
    #[source]
    source: ApiError,
}
