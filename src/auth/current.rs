//! Who is signed in on this request. A session is live only while its token record opens: ending a
//! session elsewhere deletes the record, and a record under a removed key means "sign in again".

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::AppError;
use crate::proxy::client_ip;
use crate::session::{AppSession, Liveness, SignedIn};
use crate::session_index::{SessionIndex, SessionInfo, describe_browser};
use crate::telemetry::AccountId;
use crate::tokens::{TokenError, TokenRecord, TokenStore};

/// The signed-in person and their opened token record.
pub struct Current {
    pub signed_in: SignedIn,
    pub record: TokenRecord,
    pub session: Session,
}

/// Extractor: the signed-in person, if any.
pub struct MaybeSignedIn(pub Option<Current>);

/// Extractor: the signed-in person; anyone else is sent to sign in and brought back here.
pub struct SignedInUser(pub Current);

/// The index entry describing this request's browser.
pub fn session_info(req: &HttpRequest, settings: &Settings, created_at: i64, last_seen: i64) -> SessionInfo {
    let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    SessionInfo {
        created_at,
        last_seen,
        browser: describe_browser(user_agent),
        address: client_ip(req, &settings.trusted_proxies).map(|ip| ip.to_string()).unwrap_or_default(),
    }
}

fn data<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{} is not registered", std::any::type_name::<T>())))
}

async fn current(req: HttpRequest) -> Result<Option<Current>, AppError> {
    let (settings, tokens, index) = (data::<Settings>(&req)?, data::<TokenStore>(&req)?, data::<SessionIndex>(&req)?);
    let session = req.get_session();
    let app_session = AppSession(&session);
    let (signed_in, touched) = match app_session.signed_in(&settings.session)? {
        Liveness::Anonymous => return Ok(None),
        Liveness::Ended(ended) => {
            // The session timed out: its tokens go with it.
            end_session(&tokens, &index, &ended.user.account_id, ended.token_record).await?;
            return Ok(None);
        }
        Liveness::Live { signed_in, touched } => (signed_in, touched),
    };
    match tokens.load(signed_in.token_record, &signed_in.user.account_id).await {
        Ok(record) => {
            req.extensions_mut().insert(AccountId(signed_in.user.account_id.clone()));
            if touched {
                // The session's TTL moves with this write; its tokens and index entry follow.
                tokens.touch(signed_in.token_record, settings.session.idle_timeout).await.map_err(token_error)?;
                let info = session_info(&req, &settings, signed_in.created_at, signed_in.last_seen);
                index.touch(&signed_in.user.account_id, signed_in.token_record, &info).await?;
            }
            Ok(Some(Current { signed_in, record, session }))
        }
        Err(TokenError::Unusable(why)) => {
            tracing::info!(account = %signed_in.user.account_id, %why, "session ended: its token record is unusable");
            end_session(&tokens, &index, &signed_in.user.account_id, signed_in.token_record).await?;
            app_session.forget_user();
            Ok(None)
        }
        Err(other) => Err(token_error(other)),
    }
}

/// Ends session `record` of `account_id`: its token record goes first (so its cookie is worthless at
/// once), then its entry in the account's index.
pub async fn end_session(
    tokens: &TokenStore,
    index: &SessionIndex,
    account_id: &str,
    record: Uuid,
) -> Result<(), AppError> {
    tokens.delete(record).await.map_err(token_error)?;
    Ok(index.remove(account_id, record).await?)
}

/// Storage trouble is a 503; anything else about a token record is unexpected.
pub fn token_error(err: TokenError) -> AppError {
    match err {
        TokenError::Unavailable(err) => err.into(),
        other => AppError::Internal(other.into()),
    }
}

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { current(req).await.map(MaybeSignedIn) })
    }
}

impl FromRequest for SignedInUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let here = match req.uri().path_and_query() {
                Some(pq) => pq.as_str().to_owned(),
                None => req.path().to_owned(),
            };
            current(req).await?.map(SignedInUser).ok_or(AppError::SignInRequired(here))
        })
    }
}
