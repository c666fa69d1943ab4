//! `POST /auth/consent` (form: `return_to`, `csrf`): a signed-in user consents again, for scopes
//! the operator added to `THREELO_SCOPES` after they signed in. Atlassian's consent screen is
//! asked for the full configured scope list (as at sign-in), and the callback replaces this
//! session with the new grant and lands on `return_to`: the page the button was on. A POST with
//! the CSRF token, so no other site can start a consent in the user's name.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;

use super::ReturnTo;
use crate::atlassian::Atlassian;
use crate::error::AppError;
use crate::random::random_token;
use crate::session::{CsrfForm, Sessions};
use crate::urls::Urls;

/// The consent button's form.
#[derive(Deserialize)]
pub struct ConsentForm {
    return_to: Option<String>,
}

#[post("/auth/consent")]
pub async fn consent(
    req: HttpRequest,
    posted: CsrfForm<ConsentForm>,
    sessions: web::Data<Sessions>,
    urls: web::Data<Urls>,
    atlassian: web::Data<Atlassian>,
) -> Result<HttpResponse, AppError> {
    let prefix = urls.prefix();
    let return_to = posted
        .form
        .return_to
        .as_deref()
        .and_then(|raw| ReturnTo::parse(raw, prefix))
        .unwrap_or_else(|| ReturnTo::home(prefix));
    let state = random_token(32);
    let in_progress = sessions.begin_sign_in(&req, &state, return_to.as_str());
    tracing::info!(account = %posted.signed_in.account_id(), "consenting again for new scopes");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, atlassian.oauth().authorize_url(&state)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(in_progress)
        .finish())
}
