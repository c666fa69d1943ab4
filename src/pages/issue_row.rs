//! One issue as the lists show it.

use std::borrow::Cow;

use crate::atlassian::IssueSummary;

/// A row of an issue table, its text taken from Jira's answer (borrowed where the answer needed
/// no unescaping); every field is plain text, escaped by the template.
pub struct IssueRow<'a> {
    pub key: Cow<'a, str>,
    pub href: String,
    pub kind: Cow<'a, str>,
    pub summary: Cow<'a, str>,
    pub status: Cow<'a, str>,
    /// `new`, `indeterminate`, `done` or `unknown`: picks the status badge's colour.
    pub status_class: &'static str,
    pub priority: Cow<'a, str>,
    /// When it was last updated: the date, and the time of day (empty when Jira's text is not
    /// the usual timestamp).
    pub updated: (Cow<'a, str>, Cow<'a, str>),
}

impl<'a> IssueRow<'a> {
    /// A row for `issue`; `issue_base` is its site's [`crate::urls::Urls::issue_base`].
    pub fn new(issue: IssueSummary<'a>, issue_base: &str) -> IssueRow<'a> {
        let fields = issue.fields.unwrap_or_default();
        let (status, category) = match fields.status {
            Some(status) => (status.name, status.category.map(|c| c.key)),
            None => (Cow::Borrowed(""), None),
        };
        let status_class = match category.as_deref() {
            Some("new") => "new",
            Some("indeterminate") => "indeterminate",
            Some("done") => "done",
            _ => "unknown",
        };
        IssueRow {
            href: [issue_base, &issue.key].concat(),
            key: issue.key,
            kind: fields.issuetype.map(|t| t.name).unwrap_or_default(),
            summary: fields.summary.map_or(Cow::Borrowed("(no summary)"), |t| t.0),
            status,
            status_class,
            priority: fields.priority.map(|p| p.name).unwrap_or_default(),
            updated: date_and_time(fields.updated.map(|t| t.0).unwrap_or_default()),
        }
    }
}

/// `("2026-11-20", "10:15")` from Jira's `2026-11-20T10:15:30.000+0000` (shown in the site's
/// zone); any other text whole, with no time.
fn date_and_time(jira: Cow<'_, str>) -> (Cow<'_, str>, Cow<'_, str>) {
    let split = |text: &str| match (text.get(..10), text.get(10..11), text.get(11..16)) {
        (Some(_), Some("T"), Some(_)) => Some((10, 11, 16)),
        _ => None,
    };
    match (split(&jira), jira) {
        (Some((date, start, end)), Cow::Borrowed(text)) => {
            (Cow::Borrowed(&text[..date]), Cow::Borrowed(&text[start..end]))
        }
        (Some((date, start, end)), Cow::Owned(text)) => {
            (Cow::Owned(text[..date].to_owned()), Cow::Owned(text[start..end].to_owned()))
        }
        (None, text) => (text, Cow::Borrowed("")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_timestamps_become_a_date_and_a_time_and_anything_else_stays_whole() {
        let split = |text: &str| {
            let (date, time) = date_and_time(Cow::Borrowed(text));
            (date.into_owned(), time.into_owned())
        };
        let pair = |date: &str, time: &str| (date.to_owned(), time.to_owned());
        assert_eq!(split("2026-11-20T10:15:30.000+0000"), pair("2026-11-20", "10:15"));
        assert_eq!(split("2026-11-20"), pair("2026-11-20", ""));
        assert_eq!(split("yesterday at noon, roughly"), pair("yesterday at noon, roughly", ""));
        assert_eq!(split("2026-11-2éT10:15"), pair("2026-11-2éT10:15", ""), "not cut inside a character");
        assert_eq!(split(""), pair("", ""));
        let owned = date_and_time(Cow::Owned("2026-11-20T10:15:30.000+0000".to_owned()));
        assert_eq!((owned.0.as_ref(), owned.1.as_ref()), ("2026-11-20", "10:15"), "an unescaped text too");
    }
}
