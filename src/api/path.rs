//! Which `/api/{rest}` paths may go to Atlassian, decided by one pure function on the raw
//! (still percent-encoded) path, so that what is checked is exactly what is sent.
//!
//! Rules, each against a known trick:
//! - Only four shapes: `me`, `oauth/token/accessible-resources`, `ex/jira/{cloudId}/rest/…` and
//!   `ex/confluence/{cloudId}/wiki/…`, spelt exactly (no case games: the gateway's routing is not
//!   ours to guess).
//! - Every segment is percent-decoded once and then checked: `.` and `..` (also `%2e`, `%2E%2e`)
//!   would walk out of `rest/` or `wiki/` at some hop that normalises; `/` or `\` inside a segment
//!   (`%2f`, `%5C`) would change the path's shape for a server that decodes them; a `%` left after
//!   decoding (`%252e`) would do the same for one that decodes twice; empty segments (`//`), NUL and
//!   other control characters, `?` and `#` have no business in a path.
//! - The cloudId must be a canonical UUID; whether it is the caller's is checked later, against
//!   their sites, before any call.
//! - The upstream URL is rebuilt from the decoded, checked segments (re-encoded by `url`), never
//!   pasted from the request.

use crate::ids::CloudId;

/// The longest `{rest}` accepted, in bytes (Atlassian's own URLs are far shorter).
const MAX_PATH: usize = 2048;
/// The most segments after `rest/` or `wiki/`.
const MAX_SEGMENTS: usize = 32;

/// The product an `/api` path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiProduct {
    Jira,
    Confluence,
    /// `me` and accessible-resources.
    Identity,
}

/// A checked `/api/{rest}` path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiPath {
    pub product: ApiProduct,
    /// The site, for Jira and Confluence paths.
    pub cloud_id: Option<CloudId>,
    /// Every decoded segment of the upstream path, in order (`["ex", "jira", "<id>", "rest", …]`).
    pub segments: Vec<String>,
}

impl ApiPath {
    /// Checks `raw`, the request path after `/api/`, still percent-encoded. `None`: refuse (404).
    pub fn parse(raw: &str) -> Option<ApiPath> {
        if raw.is_empty() || raw.len() > MAX_PATH {
            return None;
        }
        let segments = raw.split('/').map(decode_segment).collect::<Option<Vec<String>>>()?;
        let words: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (product, cloud_id) = match words.as_slice() {
            ["me"] | ["oauth", "token", "accessible-resources"] => (ApiProduct::Identity, None),
            ["ex", "jira", id, "rest", tail @ ..] if !tail.is_empty() && tail.len() <= MAX_SEGMENTS => {
                (ApiProduct::Jira, Some(CloudId::parse(id)?))
            }
            ["ex", "confluence", id, "wiki", tail @ ..] if !tail.is_empty() && tail.len() <= MAX_SEGMENTS => {
                (ApiProduct::Confluence, Some(CloudId::parse(id)?))
            }
            _ => return None,
        };
        Some(ApiPath { product, cloud_id, segments })
    }
}

/// One segment, percent-decoded once, or `None` if it is one of the refused forms.
fn decode_segment(raw: &str) -> Option<String> {
    // A raw backslash is a separator to some servers; refuse it before decoding too.
    if raw.is_empty() || raw.contains('\\') {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            decoded.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    let refused = text == "."
        || text == ".."
        || text.chars().any(|c| matches!(c, '/' | '\\' | '%' | '?' | '#') || c.is_control());
    (!refused).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c";

    #[test]
    fn the_four_shapes_are_accepted_and_decoded() {
        let me = ApiPath::parse("me").unwrap();
        assert_eq!((me.product, me.cloud_id), (ApiProduct::Identity, None));
        assert!(ApiPath::parse("oauth/token/accessible-resources").is_some());
        let jira = ApiPath::parse(&format!("ex/jira/{SITE}/rest/api/3/search/jql")).unwrap();
        assert_eq!(jira.product, ApiProduct::Jira);
        assert_eq!(jira.cloud_id.unwrap().as_str(), SITE);
        assert_eq!(jira.segments.last().map(String::as_str), Some("jql"));
        let wiki = ApiPath::parse(&format!("ex/confluence/{SITE}/wiki/api/v2/pages/98%2B1")).unwrap();
        assert_eq!(wiki.product, ApiProduct::Confluence);
        assert_eq!(wiki.segments.last().map(String::as_str), Some("98+1"));
        let spaced = ApiPath::parse(&format!("ex/jira/{SITE}/rest/api/3/issue/A%20B")).unwrap();
        assert_eq!(spaced.segments.last().map(String::as_str), Some("A B"));
    }

    #[test]
    fn hostile_and_unknown_paths_are_refused() {
        let jira = format!("ex/jira/{SITE}/rest");
        let wiki = format!("ex/confluence/{SITE}/wiki");
        let hostile = [
            // Not one of the shapes.
            String::new(),
            "/".to_owned(),
            "me/".to_owned(),
            "Me".to_owned(),
            "ME".to_owned(),
            "me/x".to_owned(),
            "oauth/token".to_owned(),
            "oauth/token/accessible-resources/x".to_owned(),
            "admin/users".to_owned(),
            "ex/jira".to_owned(),
            format!("ex/jira/{SITE}"),
            jira.clone(),
            format!("{jira}/"),
            wiki.clone(),
            format!("ex/jira/{SITE}/wiki/api/v2/pages"),
            format!("ex/confluence/{SITE}/rest/api/3/myself"),
            format!("EX/jira/{SITE}/rest/api/3/myself"),
            format!("ex/JIRA/{SITE}/rest/api/3/myself"),
            format!("ex/jira/{SITE}/REST/api/3/myself"),
            format!("ex/bitbucket/{SITE}/rest/api/3/myself"),
            format!("ex/jira/{SITE}/rest/{}", vec!["a"; 40].join("/")),
            // Not a canonical cloudId.
            "ex/jira/not-a-uuid/rest/api/3/myself".to_owned(),
            format!("ex/jira/{}/rest/api/3/myself", SITE.to_uppercase()),
            "ex/jira/%2e%2e/rest/api/3/myself".to_owned(),
            // Dot segments, plain and encoded, any case.
            format!("{jira}/api/3/../../../../me"),
            format!("{jira}/api/./3/myself"),
            format!("{jira}/api/%2e%2e/3/myself"),
            format!("{jira}/api/%2E%2E/3/myself"),
            format!("{jira}/api/.%2E/3/myself"),
            format!("{jira}/api/%2e/3/myself"),
            format!("{wiki}/.."),
            format!("ex/jira/{SITE}/rest/.."),
            // Encoded slashes and backslashes, any case; raw backslashes.
            format!("{jira}/api%2f3/myself"),
            format!("{jira}/api%2F3/myself"),
            format!("{jira}/api%5c3/myself"),
            format!("{jira}/api%5C3/myself"),
            format!("{jira}/api\\3/myself"),
            format!("{jira}/..%2f..%2fme"),
            format!("ex%2fjira/{SITE}/rest/api/3/myself"),
            // Double encoding, broken escapes, empty segments, control characters, non-UTF-8.
            format!("{jira}/api/%252e%252e/myself"),
            format!("{jira}/api/%252f/myself"),
            format!("{jira}/api/%2/myself"),
            format!("{jira}/api/%zz/myself"),
            format!("{jira}/api//3/myself"),
            format!("{jira}/api/3/myself%00"),
            format!("{jira}/api/3/my%0aself"),
            format!("{jira}/api/3/my%3fself"),
            format!("{jira}/api/3/my%23self"),
            format!("{jira}/api/3/%ff%fe"),
            format!("{jira}/{}", "a".repeat(MAX_PATH)),
        ];
        for raw in hostile {
            assert_eq!(ApiPath::parse(&raw), None, "{raw:.120}");
        }
    }
}
