//! Extractors: who is signed in on this request, and forms that passed the CSRF checks.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use super::Sessions;
use super::csrf::{check_origin, check_token};
use super::state::SessionData;
use crate::config::Settings;
use crate::error::AppError;
use crate::telemetry::AccountId;
use crate::tokens::TokenRecord;

/// Extractor: the signed-in person, with their opened token record. Anyone else is sent to sign
/// in and brought back to this page.
pub struct SignedIn {
    pub(crate) data: SessionData,
    pub(crate) record: TokenRecord,
    pub(crate) session: Session,
}

/// Extractor: the signed-in person, if any.
pub struct MaybeSignedIn(pub Option<SignedIn>);

/// Extractor for every POST form of a signed-in page: the request came from our own origin, the
/// form's `csrf` field matches the session's token, and the fields parse as `T`.
pub struct CsrfForm<T> {
    pub signed_in: SignedIn,
    pub form: T,
}

/// The largest form a page posts (a session id and a token; comments will be longer).
const MAX_FORM: usize = 64 * 1024;

fn data<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{} is not registered", std::any::type_name::<T>())))
}

async fn current(req: &HttpRequest) -> Result<Option<SignedIn>, AppError> {
    let sessions = data::<Sessions>(req)?;
    let signed_in = sessions.current(req, req.get_session()).await?;
    if let Some(signed_in) = &signed_in {
        req.extensions_mut().insert(AccountId(signed_in.account_id().to_owned()));
        // For an error page, which keeps the signed-in header (see `pages::error_page`).
        req.extensions_mut().insert(signed_in.data.clone());
    }
    Ok(signed_in)
}

/// This request's path and query, to come back to after signing in.
fn here(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) => pq.as_str().to_owned(),
        None => req.path().to_owned(),
    }
}

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(&req).await.map(MaybeSignedIn) })
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(&req).await?.ok_or_else(|| AppError::SignInRequired(here(&req))) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            // The origin first: a cross-site post is refused before anything is read or loaded.
            check_origin(&req, &*data::<Settings>(&req)?)?;
            let body = body.await.map_err(|_| AppError::BadRequest("the form could not be read"))?;
            if body.len() > MAX_FORM {
                return Err(AppError::BadRequest("the form is too large"));
            }
            let signed_in = current(&req).await?.ok_or_else(|| AppError::SignInRequired(here(&req)))?;
            check_token(&body, &signed_in.data.csrf)?;
            let form =
                serde_urlencoded::from_bytes(&body).map_err(|_| AppError::BadRequest("the form is malformed"))?;
            Ok(CsrfForm { signed_in, form })
        })
    }
}
