//! One issue as the lists show it.

use crate::atlassian::IssueSummary;
use crate::urls::Urls;

/// A row of an issue table; every field is plain text, escaped by the template.
pub struct IssueRow {
    pub key: String,
    pub href: String,
    pub kind: String,
    pub summary: String,
    pub status: String,
    /// `new`, `indeterminate`, `done` or `unknown`: picks the status badge's colour.
    pub status_class: &'static str,
    pub priority: String,
    pub updated: String,
}

impl IssueRow {
    /// A row for `issue` on site `cloud_id`.
    pub fn new(issue: &IssueSummary, urls: &Urls, cloud_id: &str) -> IssueRow {
        let fields = &issue.fields;
        let status_class = match fields.status.as_ref().and_then(|s| s.category.as_ref()).map(|c| c.key.as_str()) {
            Some("new") => "new",
            Some("indeterminate") => "indeterminate",
            Some("done") => "done",
            _ => "unknown",
        };
        IssueRow {
            key: issue.key.clone(),
            href: urls.issue(cloud_id, &issue.key),
            kind: fields.issuetype.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
            summary: fields.summary.clone().unwrap_or_else(|| "(no summary)".to_owned()),
            status: fields.status.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            status_class,
            priority: fields.priority.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
            updated: short_time(fields.updated.as_deref()),
        }
    }
}

/// `2026-11-20 10:15` from Jira's `2026-11-20T10:15:30.000+0000` (shown in the site's zone).
pub fn short_time(jira: Option<&str>) -> String {
    match jira {
        Some(text) if text.len() >= 16 && text.is_char_boundary(16) => text[..16].replace('T', " "),
        Some(text) => text.to_owned(),
        None => String::new(),
    }
}
