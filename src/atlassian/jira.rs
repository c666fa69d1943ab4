//! Jira Cloud REST v3 through the gateway: `/ex/jira/{cloudId}/rest/api/3/...`.

use std::borrow::Cow;

use bytes::Bytes;
use secrecy::SecretString;
use serde::Deserialize;

use super::{ApiError, Atlassian};
use crate::scopes;

/// The JQL of "my open issues", newest first. Bounded, as `/search/jql` requires.
pub const MY_OPEN_ISSUES: &str = "assignee = currentUser() AND resolution = Unresolved ORDER BY updated DESC";
/// The fields the issue lists show (the default would be ids only). Only what a row shows: each
/// field asked for is more JSON to send and to parse, on every list page.
pub(super) const LIST_FIELDS: &str = "summary,status,priority,issuetype,updated";
/// The fields the issue page shows.
const ISSUE_FIELDS: &str =
    "summary,status,priority,issuetype,project,created,updated,reporter,assignee,labels,description";

/// A name-only object, such as a priority or an issue type.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub name: String,
}

/// An issue's status with the category that says whether it is done.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "statusCategory")]
    pub category: Option<StatusCategory>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatusCategory {
    /// `new`, `indeterminate` or `done`.
    #[serde(default)]
    pub key: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Project {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Person {
    #[serde(default, rename = "displayName")]
    pub display_name: String,
    #[serde(default, rename = "accountId")]
    pub account_id: String,
}

/// The fields threelo reads. Every one may be missing or null.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IssueFields {
    pub summary: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Named>,
    pub issuetype: Option<Named>,
    pub project: Option<Project>,
    pub created: Option<String>,
    pub updated: Option<String>,
    pub reporter: Option<Person>,
    pub assignee: Option<Person>,
    pub labels: Vec<String>,
    /// ADF, as the JSON text Jira sent: decoded and rendered by our own renderer, never trusted.
    /// Not decoded here: a deeply nested description must not fail the whole issue (serde_json's
    /// recursion limit), and keeping it raw costs nothing (an unchecked skip of valid JSON).
    pub description: Option<Box<serde_json::value::RawValue>>,
}

/// Jira's answer to a search (`/search/jql`) as it came. [`SearchAnswer::page`] reads it where
/// it is shown, borrowing its text rather than copying each string: on an issue list, decoding
/// into owned strings was the largest share of the page's CPU.
#[derive(Clone, Debug)]
pub struct SearchAnswer(Bytes);

impl SearchAnswer {
    /// An answer from its bytes, e.g. a stored one.
    pub fn new(body: Bytes) -> Self {
        SearchAnswer(body)
    }

    /// The page of issues in the answer.
    pub fn page(&self) -> Result<SearchPage<'_>, ApiError> {
        // One UTF-8 check of the whole body; the parse then need not check each string again.
        let text = std::str::from_utf8(&self.0).map_err(|err| ApiError::Decode(err.to_string()))?;
        serde_json::from_str(text).map_err(|err| ApiError::Decode(err.to_string()))
    }
}

/// A string of the answer, borrowed unless JSON escapes had to be undone. (serde borrows a
/// `Cow<str>` field only when it is the field's whole type: inside an `Option` it would always
/// copy, hence this wrapper.)
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// A name-only object (a priority, an issue type), borrowed from the answer.
#[derive(Debug, Default, Deserialize)]
pub struct NameRef<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
}

/// A status in a list: its name and the key of its category.
#[derive(Debug, Default, Deserialize)]
pub struct ListStatus<'a> {
    #[serde(default, borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, rename = "statusCategory", borrow)]
    pub category: Option<ListCategory<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListCategory<'a> {
    /// `new`, `indeterminate` or `done`.
    #[serde(default, borrow)]
    pub key: Cow<'a, str>,
}

/// The fields of [`LIST_FIELDS`], as a list row shows them. Every one may be missing or null.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListFields<'a> {
    #[serde(borrow)]
    pub summary: Option<Text<'a>>,
    #[serde(borrow)]
    pub status: Option<ListStatus<'a>>,
    #[serde(borrow)]
    pub priority: Option<NameRef<'a>>,
    #[serde(borrow)]
    pub issuetype: Option<NameRef<'a>>,
    #[serde(borrow)]
    pub updated: Option<Text<'a>>,
}

/// One issue of a search result.
#[derive(Debug, Deserialize)]
pub struct IssueSummary<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    /// `None` when missing or null.
    #[serde(default, borrow)]
    pub fields: Option<ListFields<'a>>,
}

/// One page of `/search/jql`.
#[derive(Debug, Deserialize)]
pub struct SearchPage<'a> {
    #[serde(default, borrow)]
    pub issues: Vec<IssueSummary<'a>>,
    #[serde(default, rename = "nextPageToken", borrow)]
    pub next_page_token: Option<Text<'a>>,
}

/// `GET /issue/{key}`.
#[derive(Clone, Debug, Deserialize)]
pub struct IssueDetail {
    pub key: String,
    #[serde(default)]
    pub fields: IssueFields,
}

impl Atlassian {
    /// One page of the user's open issues on a site, newest first.
    pub async fn my_open_issues(
        &self,
        token: &SecretString,
        cloud_id: &str,
        page_token: Option<&str>,
        max_results: u32,
    ) -> Result<SearchAnswer, ApiError> {
        self.search_issues(token, cloud_id, MY_OPEN_ISSUES, page_token, max_results).await
    }

    /// One issue with the fields the issue page shows.
    pub async fn issue(&self, token: &SecretString, cloud_id: &str, key: &str) -> Result<IssueDetail, ApiError> {
        let url = self.api(&["ex", "jira", cloud_id, "rest", "api", "3", "issue", key], &[("fields", ISSUE_FIELDS)]);
        self.get_json(url, token, &scopes::JIRA_ISSUE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_answer_borrows_plain_text_and_unescapes_the_rest() {
        let body = r#"{"issues":[{"key":"ACME-1","fields":{"summary":"Say \"hi\"","status":{"name":"To Do",
            "statusCategory":{"key":"new"}},"updated":"2026-11-20T10:15:30.000+0000"}},{"key":"ACME-2","fields":null},
            {"key":"ACME-3","fields":{"summary":"Plain"}}],"nextPageToken":"abc"}"#;
        let answer = SearchAnswer::new(Bytes::from(body));
        let page = answer.page().expect("parses");
        assert_eq!(page.issues.len(), 3);
        let first = &page.issues[0];
        assert!(matches!(first.key, Cow::Borrowed("ACME-1")));
        let fields = first.fields.as_ref().expect("fields");
        assert!(matches!(&fields.summary, Some(Text(Cow::Owned(text))) if text == "Say \"hi\""), "unescaped: owned");
        assert!(matches!(&fields.updated, Some(Text(Cow::Borrowed(_)))), "plain text is borrowed");
        let third = page.issues[2].fields.as_ref().and_then(|f| f.summary.as_ref());
        assert!(matches!(third, Some(Text(Cow::Borrowed("Plain")))), "an optional field borrows too: {third:?}");
        assert_eq!(fields.status.as_ref().and_then(|s| s.category.as_ref()).map(|c| c.key.as_ref()), Some("new"));
        assert!(page.issues[1].fields.is_none(), "null fields are no fields");
        assert!(matches!(page.next_page_token, Some(Text(Cow::Borrowed("abc")))));
    }

    #[test]
    fn an_answer_that_is_not_json_or_not_utf8_is_a_decode_error() {
        for body in [&b"<html>gateway error</html>"[..], b"{\"issues\": [", b"\xff\xfe{}"] {
            let answer = SearchAnswer::new(Bytes::copy_from_slice(body));
            assert!(matches!(answer.page(), Err(ApiError::Decode(_))), "{body:?}");
        }
    }
}
