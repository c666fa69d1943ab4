//! Query strings, read strictly: a parameter that appears twice is a bad request.

use crate::error::AppError;

/// The value of query parameter `name`, if it appears exactly once.
pub fn single_param(query: &str, name: &str) -> Result<Option<String>, AppError> {
    let mut found = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key == name {
            if found.is_some() {
                return Err(AppError::BadRequest("a parameter appears twice"));
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}
