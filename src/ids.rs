//! Identifiers taken from URLs, checked once at the boundary so no handler holds an unchecked one.

use std::fmt;

use uuid::Uuid;

/// A site's cloudId: a UUID in its canonical lowercase form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudId(String);

impl CloudId {
    pub fn parse(text: &str) -> Option<CloudId> {
        let uuid = Uuid::parse_str(text).ok()?;
        let canonical = uuid.hyphenated().to_string();
        (canonical == text).then_some(CloudId(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Jira issue key such as `ACME-42`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueKey(String);

impl IssueKey {
    pub fn parse(text: &str) -> Option<IssueKey> {
        let (project, number) = text.split_once('-')?;
        let project_ok = (1..=32).contains(&project.len())
            && project.starts_with(|c: char| c.is_ascii_uppercase())
            && project.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        let number_ok =
            (1..=12).contains(&number.len()) && !number.starts_with('0') && number.chars().all(|c| c.is_ascii_digit());
        (project_ok && number_ok).then(|| IssueKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Confluence page id: digits only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageId(String);

impl PageId {
    pub fn parse(text: &str) -> Option<PageId> {
        let ok = (1..=20).contains(&text.len()) && text.chars().all(|c| c.is_ascii_digit());
        ok.then(|| PageId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Jira's opaque `nextPageToken`, carried in `?page=`: bounded in length and to URL-safe
/// characters, so it can go back into a link and a query without surprises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken(String);

impl PageToken {
    pub fn parse(text: &str) -> Option<PageToken> {
        let ok = (1..=1024).contains(&text.len())
            && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~+/=".contains(c));
        ok.then(|| PageToken(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CloudId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_ids_are_canonical_uuids() {
        assert!(CloudId::parse("1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c").is_some());
        for bad in ["1F6E2D4C-8A3B-4F5E-9C7D-2B1A0E9F8D7C", "1f6e2d4c8a3b4f5e9c7d2b1a0e9f8d7c", "x", "", "../etc"] {
            assert!(CloudId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn issue_keys_and_page_ids_are_strict() {
        assert!(IssueKey::parse("ACME-42").is_some());
        assert!(IssueKey::parse("AB_2-1").is_some());
        for bad in ["acme-1", "ACME-0", "ACME-", "-1", "ACME-1-2", "ACME-01", "AC ME-1", "ACME-1<"] {
            assert!(IssueKey::parse(bad).is_none(), "{bad}");
        }
        assert!(PageId::parse("163845").is_some());
        assert!(PageId::parse("12a").is_none() && PageId::parse("").is_none());
    }

    #[test]
    fn page_tokens_are_bounded_and_url_safe() {
        assert!(PageToken::parse("eyJvZmZzZXQiOjUwfQ==").is_some());
        for bad in ["", "a b", "a&b=c", "<script>", &"a".repeat(2000)] {
            assert!(PageToken::parse(bad).is_none(), "{bad:.20}");
        }
    }
}
