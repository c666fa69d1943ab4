//! Cross-site request forgery checks for every POST: the browser's own word on where the request
//! came from (Origin, Sec-Fetch-Site), and the per-session token from the page's form.

use actix_web::HttpRequest;
use subtle::ConstantTimeEq;

use crate::config::Settings;
use crate::error::AppError;

/// Refuses a request whose Origin is not ours or that the browser says came from another site.
pub fn check_origin(req: &HttpRequest, settings: &Settings) -> Result<(), AppError> {
    let headers = req.headers();
    if let Some(origin) = headers.get("origin")
        && origin.as_bytes() != settings.public_url.origin().as_bytes()
    {
        return Err(AppError::CsrfRejected("Origin is not our public URL"));
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Err(AppError::CsrfRejected("Sec-Fetch-Site is not same-origin"));
    }
    Ok(())
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
