//! Jira Cloud REST v3 through the gateway: `/ex/jira/{cloudId}/rest/api/3/...`.

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

/// One issue of a search result.
#[derive(Clone, Debug, Deserialize)]
pub struct IssueSummary {
    pub key: String,
    #[serde(default)]
    pub fields: IssueFields,
}

/// One page of `/search/jql`.
#[derive(Clone, Debug, Deserialize)]
pub struct SearchPage {
    #[serde(default)]
    pub issues: Vec<IssueSummary>,
    #[serde(default, rename = "nextPageToken")]
    pub next_page_token: Option<String>,
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
    ) -> Result<SearchPage, ApiError> {
        let max = max_results.to_string();
        let mut query = vec![("jql", MY_OPEN_ISSUES), ("fields", LIST_FIELDS), ("maxResults", max.as_str())];
        if let Some(page) = page_token {
            query.push(("nextPageToken", page));
        }
        let url = self.api(&["ex", "jira", cloud_id, "rest", "api", "3", "search", "jql"], &query);
        self.get_json(url, token, &scopes::JIRA_SEARCH).await
    }

    /// One issue with the fields the issue page shows.
    pub async fn issue(&self, token: &SecretString, cloud_id: &str, key: &str) -> Result<IssueDetail, ApiError> {
        let url = self.api(&["ex", "jira", cloud_id, "rest", "api", "3", "issue", key], &[("fields", ISSUE_FIELDS)]);
        self.get_json(url, token, &scopes::JIRA_ISSUE).await
    }
}
