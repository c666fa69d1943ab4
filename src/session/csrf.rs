//! Cross-site request forgery checks for every POST: the browser's own word on where the request
//! came from (Origin, Sec-Fetch-Site), and the per-session token from the page's form.

use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::error::AppError;

/// Refuses a request whose Origin is not ours or that the browser says came from another site.
///
/// Our pages send `Referrer-Policy: no-referrer` (the callback URL carries a code), and with that
/// policy browsers send `Origin: null` even on same-origin form posts. `null` is therefore accepted
/// only when the browser also says `Sec-Fetch-Site: same-origin`, which a page cannot forge.
pub fn check_origin(req: &HttpRequest, settings: &Settings) -> Result<(), AppError> {
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if let Some(site) = site
        && !matches!(site, b"same-origin" | b"none")
    {
        return Err(AppError::CsrfRejected("Sec-Fetch-Site is not same-origin"));
    }
    match headers.get("origin").map(|v| v.as_bytes()) {
        None => Ok(()),
        Some(origin) if origin == settings.public_url.origin().as_bytes() => Ok(()),
        Some(b"null") if site == Some(b"same-origin") => Ok(()),
        Some(_) => Err(AppError::CsrfRejected("Origin is not our public URL")),
    }
}

/// Refuses a form whose `csrf` field is missing or differs from the session's token.
pub fn check_token(form_body: &[u8], expected: &str) -> Result<(), AppError> {
    let sent = url::form_urlencoded::parse(form_body)
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.into_owned())
        .ok_or(AppError::CsrfRejected("no CSRF token in the form"))?;
    if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected("CSRF token does not match the session"))
    }
}
