//! Static assets, compiled into the binary so it runs from any directory. The stylesheet is served
//! under a name carrying a hash of its content, so browsers may keep it for a year: a new release
//! changes the name.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// The stylesheet.
pub const APP_CSS: &str = include_str!("../static/app.css");

/// The icon every page names (`<link rel=icon>`), also answered at `/favicon.ico`.
pub const FAVICON_SVG: &str = include_str!("../static/favicon.svg");

/// `app.<first 12 hex digits of the SHA-256>.css`.
static STYLESHEET_NAME: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(APP_CSS.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("app.{hex}.css")
});

/// The stylesheet's fingerprinted file name.
pub fn stylesheet_name() -> &'static str {
    &STYLESHEET_NAME
}
