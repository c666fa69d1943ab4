//! `/account`: the profile, what Atlassian granted, and the sessions of this account, each of which
//! can be ended from here ("sign out everywhere else" ends all but this one).

use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;
use uuid::Uuid;

use crate::access_keys::{AccessKeys, MAX_KEYS_PER_ACCOUNT};
use crate::error::AppError;
use crate::pages::{Chrome, format_time, html};
use crate::session::{CsrfForm, Sessions, SignedIn};
use crate::urls::Urls;

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
    urls: &'a Urls,
    chrome: Chrome,
    scopes: Vec<String>,
    access_expires: String,
    has_refresh_token: bool,
    consented: String,
    consent_ends: String,
    sessions: Vec<SessionRow>,
    /// Configured scopes (THREELO_SCOPES) that the grant lacks: consenting again adds them.
    lacking: Vec<String>,
    keys: Vec<KeyRow>,
    max_keys: usize,
}

/// One row of the access keys table.
struct KeyRow {
    id: String,
    name: String,
    access: &'static str,
    created: String,
    last_used: String,
    expires: String,
}

#[get("/account")]
pub async fn account(
    signed_in: SignedIn,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
    settings: web::Data<crate::config::Settings>,
    access_keys: web::Data<AccessKeys>,
) -> Result<HttpResponse, AppError> {
    let current = signed_in.data.token_record;
    let keys = access_keys
        .list(signed_in.account_id())
        .await?
        .into_iter()
        .map(|key| KeyRow {
            id: key.entry.id.to_string(),
            name: key.entry.name,
            access: key.entry.access.as_str(),
            created: format_time(key.entry.created_at),
            last_used: key.last_used.map_or_else(|| "never".to_owned(), format_time),
            expires: format_time(key.entry.expires_at),
        })
        .collect();
    let rows = sessions
        .list(&signed_in)
        .await?
        .into_iter()
        .map(|(id, info)| SessionRow {
            id: id.to_string(),
            browser: info.browser,
            address: info.address,
            created: format_time(info.created_at),
            last_seen: format_time(info.last_seen),
            current: id == current,
        })
        .collect();
    let tokens = &signed_in.record.tokens;
    html(AccountPage {
        urls: &urls,
        scopes: tokens.scopes.clone(),
        access_expires: format_time(tokens.expires_at),
        has_refresh_token: tokens.refresh_token.is_some(),
        consented: format_time(signed_in.record.consented_at),
        consent_ends: format_time(signed_in.record.consented_at + CONSENT_LIFETIME_SECS),
        sessions: rows,
        lacking: crate::pages::grant::lacking(&settings.scopes, &tokens.scopes),
        keys,
        max_keys: MAX_KEYS_PER_ACCOUNT,
        chrome: Chrome::new(signed_in.data, None),
    })
}

/// The form of "Sign out" on one session's row.
#[derive(Deserialize)]
pub struct EndOne {
    session: Option<String>,
}

/// `POST /account/sessions/end` with form field `session`: ends that one session.
#[post("/account/sessions/end")]
pub async fn end_session(
    posted: CsrfForm<EndOne>,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let target = posted
        .form
        .session
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(AppError::BadRequest("no session to end was named"))?;
    sessions.end_others(&posted.signed_in, |id| id == target).await?;
    Ok(urls.see_other(&urls.account()))
}

/// A form with no fields of its own (only the CSRF token).
#[derive(Deserialize)]
pub struct NoFields {}

/// `POST /account/sessions/end-others`: signs out everywhere but here.
#[post("/account/sessions/end-others")]
pub async fn end_other_sessions(
    posted: CsrfForm<NoFields>,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    sessions.end_others(&posted.signed_in, |_| true).await?;
    Ok(urls.see_other(&urls.account()))
}
