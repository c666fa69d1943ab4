//! The access-key forms of `/account`: asking for a key (through Atlassian's consent), the page
//! that shows a new key once, and revoking one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use askama::Template;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use crate::access_keys::{AccessKeys, CreateError, KeyRequest, MAX_KEYS_PER_ACCOUNT};
use crate::atlassian::{Atlassian, TokenSet};
use crate::error::AppError;
use crate::metrics::{KeyEvent, Metrics};
use crate::pages::{Chrome, format_time, html};
use crate::random::random_token;
use crate::session::{CsrfForm, SignedIn};
use crate::urls::Urls;

/// The "New access key" form.
#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    access: String,
    #[serde(default)]
    days: String,
}

/// `POST /account/keys`: checks the form and sends the browser to Atlassian's consent for a
/// grant of the key's own. Nothing is stored until the consent comes back.
#[post("/account/keys")]
pub async fn create_key(
    req: HttpRequest,
    posted: CsrfForm<NewKeyForm>,
    keys: web::Data<AccessKeys>,
    sessions: web::Data<crate::session::Sessions>,
    urls: web::Data<Urls>,
    atlassian: web::Data<Atlassian>,
) -> Result<HttpResponse, AppError> {
    let form = &posted.form;
    let request = KeyRequest::parse(posted.signed_in.account_id(), &form.name, &form.access, &form.days)
        .map_err(AppError::BadRequest)?;
    if keys.count(&request.account_id).await? >= MAX_KEYS_PER_ACCOUNT {
        return Err(AppError::BadRequest("this account already holds 20 access keys; revoke one first"));
    }
    let state = random_token(32);
    let in_progress = sessions.begin_key_consent(&req, &state, &urls.account(), request);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, atlassian.oauth().authorize_url(&state)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(in_progress)
        .finish())
}

#[derive(Template)]
#[template(path = "key_created.html")]
struct KeyCreatedPage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    name: String,
    access: &'static str,
    expires: String,
    key: String,
    example_url: String,
}

/// The callback of a key's consent: the grant must be the signed-in account's own; then the key
/// is made and shown once. The browser's session is left as it is.
pub async fn key_consented(
    req: &HttpRequest,
    signed_in: Option<SignedIn>,
    request: KeyRequest,
    tokens: TokenSet,
    atlassian: &Atlassian,
) -> Result<HttpResponse, AppError> {
    let missing = |name: &str| AppError::Internal(anyhow::anyhow!("{name} is not registered"));
    let keys = req.app_data::<web::Data<AccessKeys>>().ok_or_else(|| missing("AccessKeys"))?;
    let urls = req.app_data::<web::Data<Urls>>().ok_or_else(|| missing("Urls"))?;
    let Some(signed_in) = signed_in.filter(|s| s.account_id() == request.account_id) else {
        // Signed out (or in as someone else) since the form was sent: no key for anyone.
        return Err(AppError::SignInRequired(urls.account()));
    };
    let me = atlassian.me(&tokens.access_token).await.map_err(|err| AppError::SignInFailed(err.into()))?;
    if me.account_id != request.account_id {
        tracing::info!(account = %request.account_id, "a key's consent came back for another Atlassian account");
        return Err(AppError::BadRequest(
            "Atlassian's consent was given for another Atlassian account than the one signed in here",
        ));
    }
    let (secret, entry) = match keys.create(&request, tokens).await {
        Ok(made) => made,
        Err(CreateError::TooMany) => {
            return Err(AppError::BadRequest("this account already holds 20 access keys; revoke one first"));
        }
        Err(CreateError::Unavailable(err)) => return Err(err.into()),
        Err(CreateError::Token(err)) => return Err(err.into()),
    };
    atlassian.metrics().access_key(KeyEvent::Created);
    html(KeyCreatedPage {
        urls,
        name: entry.name,
        access: entry.access.as_str(),
        expires: format_time(entry.expires_at),
        key: secret.expose_secret().to_owned(),
        example_url: urls.absolute(&urls.api("oauth/token/accessible-resources")),
        chrome: Chrome::new(signed_in.data, None),
    })
}

/// The revoke button's form.
#[derive(Deserialize)]
pub struct RevokeForm {
    id: Option<String>,
}

/// `POST /account/keys/revoke` with form field `id`: the key stops working at once.
#[post("/account/keys/revoke")]
pub async fn revoke_key(
    posted: CsrfForm<RevokeForm>,
    keys: web::Data<AccessKeys>,
    urls: web::Data<Urls>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AppError> {
    let id = posted
        .form
        .id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or(AppError::BadRequest("no access key to revoke was named"))?;
    if !keys.revoke(posted.signed_in.account_id(), id).await? {
        return Err(AppError::NotFound);
    }
    metrics.access_key(KeyEvent::Revoked);
    Ok(urls.see_other(&urls.account()))
}
