//! `GET /auth/callback`: where Atlassian sends the browser back. Every outcome gets its own page,
//! and none leaves a half-signed-in session.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, get, web};

use super::{MaybeSignedIn, end_session, redirect_to, session_info, single_param, token_error};
use crate::atlassian::{ApiError, Atlassian, ExchangeError, Me, Site};
use crate::clock::unix_now;
use crate::config::Settings;
use crate::error::AppError;
use crate::metrics::SignInOutcome;
use crate::session::{AppSession, User};
use crate::session_index::SessionIndex;
use crate::tokens::{TokenError, TokenSet, TokenStore};

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
    settings: web::Data<Settings>,
    atlassian: web::Data<Atlassian>,
    tokens: web::Data<TokenStore>,
    index: web::Data<SessionIndex>,
) -> Result<HttpResponse, AppError> {
    let result = finish_sign_in(&req, previous, &session, &settings, &atlassian, &tokens, &index).await;
    atlassian.metrics().sign_in(outcome(&result));
    result
}

async fn finish_sign_in(
    req: &HttpRequest,
    previous: MaybeSignedIn,
    session: &Session,
    settings: &Settings,
    atlassian: &Atlassian,
    tokens: &TokenStore,
    index: &SessionIndex,
) -> Result<HttpResponse, AppError> {
    let params = parse(req.query_string())?;
    let session = AppSession(session);

    if let Some(error) = params.error {
        // Whatever happens next, this sign-in attempt is over: consume its state.
        if let Some(state) = &params.state {
            session.finish_sign_in(state)?;
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
    let Some(return_to) = session.finish_sign_in(&state)? else {
        return Err(AppError::SignInExpired);
    };

    let token_set = atlassian.oauth().exchange_code(atlassian.http(), &code).await.map_err(exchange_failure)?;
    let (me, sites) = identify(atlassian, &token_set).await?;
    let now = unix_now();
    let record = tokens.create(&me.account_id, token_set, now).await.map_err(|err| match err {
        TokenError::Unavailable(err) => AppError::Unavailable(err.to_string()),
        other => AppError::Internal(other.into()),
    })?;
    // Everything that can fail happens before the session changes, so a failure leaves no
    // half-signed-in session; the new record is then deleted again.
    let prepared = async {
        let pushed_out = index.add(&me.account_id, record, &session_info(req, settings, now, now)).await?;
        for old in pushed_out {
            // Beyond the sessions an account may keep: the least recently used one ends.
            tokens.delete(old).await.map_err(token_error)?;
        }
        if let Some(previous) = previous.0 {
            // Signing in again in the same browser replaces the old session: its tokens go.
            let old = previous.signed_in;
            end_session(tokens, index, &old.user.account_id, old.token_record).await?;
        }
        Ok::<(), AppError>(())
    };
    if let Err(err) = prepared.await {
        let _ = tokens.delete(record).await;
        return Err(err);
    }
    let user = User { account_id: me.account_id, name: me.name, email: me.email, avatar_url: me.picture };
    tracing::info!(account = %user.account_id, sites = sites.len(), "signed in");
    session.sign_in(user, record, sites)?;
    Ok(redirect_to(settings, &return_to))
}

fn exchange_failure(err: ExchangeError) -> AppError {
    match err {
        ExchangeError::BadClientCredentials => AppError::SignInMisconfigured(err.to_string()),
        other => AppError::SignInFailed(other.to_string()),
    }
}

/// Who signed in and which sites they gave us. Both must succeed: no empty user.
async fn identify(atlassian: &Atlassian, tokens: &TokenSet) -> Result<(Me, Vec<Site>), AppError> {
    let token = &tokens.access_token;
    let (me, sites) = tokio::join!(atlassian.me(token), atlassian.accessible_resources(token));
    let describe = |what: &str, err: ApiError| match err {
        ApiError::ScopeMismatch(_) => AppError::SignInMisconfigured(format!(
            "{what}: the granted scopes do not allow it (THREELO_SCOPES must include read:me, and the app must have the User Identity API in the developer console)"
        )),
        other => AppError::SignInFailed(format!("{what}: {other}")),
    };
    let me = me.map_err(|err| describe("reading the profile (/me)", err))?;
    if me.account_id.trim().is_empty() {
        return Err(AppError::SignInFailed("/me returned no account id".to_owned()));
    }
    let sites = sites.map_err(|err| describe("listing the sites (accessible-resources)", err))?;
    Ok((me, sites))
}
