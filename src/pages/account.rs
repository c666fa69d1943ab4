//! `/account`: the profile, what Atlassian granted, and the sessions of this account, each of which
//! can be ended from here ("sign out everywhere else" ends all but this one).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use uuid::Uuid;

use crate::auth::{SignedInUser, check_origin, check_token, redirect_to};
use crate::config::Settings;
use crate::error::AppError;
use crate::pages::{Chrome, format_time, html};
use crate::session_index::SessionIndex;
use crate::tokens::TokenStore;

/// Atlassian ends a grant this long after the consent that started it, however often it is used.
const CONSENT_LIFETIME_SECS: i64 = 365 * 86_400;

/// One row of the sessions table.
struct SessionRow {
    id: String,
    browser: String,
    address: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    base: &'a str,
    chrome: Chrome,
    scopes: Vec<String>,
    access_expires: String,
    has_refresh_token: bool,
    consented: String,
    consent_ends: String,
    sessions: Vec<SessionRow>,
}

#[get("/account")]
pub async fn account(
    user: SignedInUser,
    settings: web::Data<Settings>,
    index: web::Data<SessionIndex>,
) -> Result<HttpResponse, AppError> {
    let base = settings.public_url.prefix();
    let current = user.0;
    let signed_in = current.signed_in;
    let record = current.record;
    let sessions = index
        .list(&signed_in.user.account_id)
        .await?
        .into_iter()
        .map(|(id, info)| SessionRow {
            id: id.to_string(),
            browser: info.browser,
            address: info.address,
            created: format_time(info.created_at),
            last_seen: format_time(info.last_seen),
            current: id == signed_in.token_record,
        })
        .collect();
    html(AccountPage {
        base,
        chrome: Chrome::new(base, signed_in, None),
        scopes: record.tokens.scopes,
        access_expires: format_time(record.tokens.expires_at),
        has_refresh_token: record.tokens.refresh_token.is_some(),
        consented: format_time(record.consented_at),
        consent_ends: format_time(record.consented_at + CONSENT_LIFETIME_SECS),
        sessions,
    })
}

/// Ends the sessions `which` picks among the account's others: deleting a session's token record
/// makes its cookie worthless at once.
async fn end_sessions(
    req: &HttpRequest,
    body: &[u8],
    user: SignedInUser,
    settings: &Settings,
    tokens: &TokenStore,
    index: &SessionIndex,
    which: impl Fn(Uuid) -> bool,
) -> Result<HttpResponse, AppError> {
    check_origin(req, settings)?;
    let signed_in = user.0.signed_in;
    check_token(body, &signed_in.csrf)?;
    let account_id = &signed_in.user.account_id;
    for (id, _) in index.list(account_id).await? {
        if id != signed_in.token_record && which(id) {
            crate::auth::end_session(tokens, index, account_id, id).await?;
            tracing::info!(account = %account_id, "ended another session of this account");
        }
    }
    Ok(redirect_to(settings, &settings.public_url.path("/account")))
}

/// `POST /account/sessions/end` with form field `session`: ends that one session.
#[post("/account/sessions/end")]
pub async fn end_session(
    req: HttpRequest,
    body: web::Bytes,
    user: SignedInUser,
    settings: web::Data<Settings>,
    tokens: web::Data<TokenStore>,
    index: web::Data<SessionIndex>,
) -> Result<HttpResponse, AppError> {
    let target = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "session")
        .and_then(|(_, value)| Uuid::parse_str(&value).ok())
        .ok_or(AppError::BadRequest("no session to end was named"))?;
    end_sessions(&req, &body, user, &settings, &tokens, &index, |id| id == target).await
}

/// `POST /account/sessions/end-others`: signs out everywhere but here.
#[post("/account/sessions/end-others")]
pub async fn end_other_sessions(
    req: HttpRequest,
    body: web::Bytes,
    user: SignedInUser,
    settings: web::Data<Settings>,
    tokens: web::Data<TokenStore>,
    index: web::Data<SessionIndex>,
) -> Result<HttpResponse, AppError> {
    end_sessions(&req, &body, user, &settings, &tokens, &index, |_| true).await
}
