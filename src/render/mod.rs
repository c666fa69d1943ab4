//! Turning untrusted Atlassian content into HTML that is safe to put on a page.
//!
//! Everything Atlassian returns may have been written by an attacker who can edit an issue or a
//! page. Jira descriptions arrive as ADF JSON and go through our own renderer, which only ever
//! emits markup it chose; Confluence bodies arrive as storage-format XHTML and go through an
//! ammonia allow-list. Templates may mark the output of these two functions `|safe`, and nothing
//! else from Atlassian.

mod adf;
mod storage;

pub use adf::{adf_json_to_html, adf_to_html};
pub use storage::sanitize_storage;
