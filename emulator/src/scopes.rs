//! The scopes `/authorize` accepts, what the consent screen says about each, and which
//! product each belongs to (accessible-resources lists a site's product scopes only); and what
//! each Jira endpoint accepts: its classic scope, or the whole granular set Jira documents for it.

use super::seed::ids;

/// Which product a scope grants access to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    Jira,
    Confluence,
    /// Identity and token scopes (`read:me`, `offline_access`): no site involved.
    Account,
}

/// Every known scope, in the order the consent screen lists them, with plain words.
const KNOWN: &[(&str, Product, &str)] = &[
    (ids::READ_ME, Product::Account, "View your profile: name, email address and avatar"),
    ("read:account", Product::Account, "View your account details"),
    (ids::READ_JIRA_WORK, Product::Jira, "View Jira issues, projects and their content"),
    (ids::READ_JIRA_USER, Product::Jira, "View Jira user information, such as names and email addresses"),
    ("write:jira-work", Product::Jira, "Create and edit Jira issues, post comments and log work"),
    ("manage:jira-project", Product::Jira, "Create and edit Jira projects and their settings"),
    ("manage:jira-configuration", Product::Jira, "Configure Jira settings"),
    ("manage:jira-webhook", Product::Jira, "Register and manage Jira webhooks"),
    ("read:confluence-space.summary", Product::Confluence, "View a summary of Confluence spaces"),
    ("read:confluence-content.all", Product::Confluence, "View all Confluence content, including pages and blogs"),
    ("read:confluence-content.summary", Product::Confluence, "View a summary of Confluence content"),
    ("read:confluence-content.permission", Product::Confluence, "View permissions on Confluence content"),
    ("read:confluence-props", Product::Confluence, "View Confluence content properties"),
    ("read:confluence-user", Product::Confluence, "View Confluence user information"),
    ("read:confluence-groups", Product::Confluence, "View Confluence groups"),
    ("search:confluence", Product::Confluence, "Search Confluence content and spaces"),
    ("write:confluence-content", Product::Confluence, "Create and edit Confluence pages and blogs"),
    ("write:confluence-space", Product::Confluence, "Create and edit Confluence spaces"),
    (ids::READ_SPACE_CONFLUENCE, Product::Confluence, "View Confluence spaces"),
    (ids::READ_PAGE_CONFLUENCE, Product::Confluence, "View Confluence pages"),
    ("read:content:confluence", Product::Confluence, "View Confluence content"),
    ("read:content-details:confluence", Product::Confluence, "View details of Confluence content"),
    ("read:blogpost:confluence", Product::Confluence, "View Confluence blog posts"),
    ("read:comment:confluence", Product::Confluence, "View comments on Confluence content"),
    ("read:attachment:confluence", Product::Confluence, "View Confluence attachments"),
    ("read:user:confluence", Product::Confluence, "View Confluence user information"),
    // Jira's granular scopes: the ones the endpoints below accept instead of the classic ones.
    ("read:issue:jira", Product::Jira, "View Jira issues"),
    ("read:issue-details:jira", Product::Jira, "View details of Jira issues"),
    ("read:issue-meta:jira", Product::Jira, "View the fields and metadata of Jira issues"),
    ("read:issue-security-level:jira", Product::Jira, "View issue security levels"),
    ("read:issue.vote:jira", Product::Jira, "View votes on Jira issues"),
    ("read:issue.changelog:jira", Product::Jira, "View the history of Jira issues"),
    ("read:issue.transition:jira", Product::Jira, "View the transitions of Jira issues"),
    ("read:audit-log:jira", Product::Jira, "View Jira audit logs"),
    ("read:avatar:jira", Product::Jira, "View Jira avatars"),
    ("read:field-configuration:jira", Product::Jira, "View Jira field configurations"),
    ("read:field:jira", Product::Jira, "View Jira fields"),
    ("read:field.default-value:jira", Product::Jira, "View the default values of Jira fields"),
    ("read:field.option:jira", Product::Jira, "View the options of Jira fields"),
    ("read:group:jira", Product::Jira, "View Jira groups"),
    ("read:status:jira", Product::Jira, "View Jira statuses"),
    ("read:user:jira", Product::Jira, "View Jira users"),
    ("read:application-role:jira", Product::Jira, "View Jira application roles"),
    ("read:project:jira", Product::Jira, "View Jira projects"),
    ("read:project-role:jira", Product::Jira, "View Jira project roles"),
    ("read:comment:jira", Product::Jira, "View comments on Jira issues"),
    ("read:comment.property:jira", Product::Jira, "View the properties of comments on Jira issues"),
    ("read:attachment:jira", Product::Jira, "View Jira attachments"),
    ("read:jql:jira", Product::Jira, "Use JQL"),
    ("write:comment:jira", Product::Jira, "Post comments on Jira issues"),
    ("write:issue:jira", Product::Jira, "Edit Jira issues, move them and change their assignee"),
    ("write:issue.property:jira", Product::Jira, "Edit the properties of Jira issues"),
    (ids::OFFLINE_ACCESS, Product::Account, "Keep access while you are not using the app (refresh tokens)"),
];

fn find(scope: &str) -> Option<&'static (&'static str, Product, &'static str)> {
    KNOWN.iter().find(|(name, _, _)| *name == scope)
}

/// Whether `/authorize` accepts this scope.
pub(crate) fn is_known(scope: &str) -> bool {
    find(scope).is_some()
}

/// The consent screen's words for a scope.
pub(crate) fn describe(scope: &str) -> &'static str {
    find(scope).map_or("Unknown permission", |(_, _, words)| words)
}

/// The product a scope belongs to (unknown scopes never get this far).
pub(crate) fn product(scope: &str) -> Product {
    find(scope).map_or(Product::Account, |(_, product, _)| *product)
}

/// What one endpoint accepts: its classic scope, or every scope of its granular set (as
/// Atlassian's OpenAPI spec for Jira lists them per operation). An empty set: classic only.
pub(crate) struct Need {
    pub(crate) classic: &'static str,
    pub(crate) granular: &'static [&'static str],
}

impl Need {
    /// Whether a grant holding `scopes` may call the endpoint.
    pub(crate) fn met_by(&self, scopes: &[String]) -> bool {
        let has = |wanted: &str| scopes.iter().any(|s| s == wanted);
        has(self.classic) || (!self.granular.is_empty() && self.granular.iter().all(|s| has(s)))
    }
}

/// Jira's endpoints, each with what it accepts.
pub(crate) mod jira {
    use super::Need;

    const fn read(granular: &'static [&'static str]) -> Need {
        Need { classic: "read:jira-work", granular }
    }

    const fn write(granular: &'static [&'static str]) -> Need {
        Need { classic: "write:jira-work", granular }
    }

    /// `GET myself`.
    pub(crate) const MYSELF: Need = Need {
        classic: "read:jira-user",
        granular: &["read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"],
    };
    /// `GET search/jql` (and the removed `GET search`).
    pub(crate) const SEARCH_GET: Need = read(&[
        "read:issue-details:jira",
        "read:audit-log:jira",
        "read:avatar:jira",
        "read:field-configuration:jira",
        "read:issue-meta:jira",
    ]);
    /// `POST search/jql` and `POST search/approximate-count`.
    pub(crate) const SEARCH_POST: Need = read(&[
        "read:issue-details:jira",
        "read:field.default-value:jira",
        "read:field.option:jira",
        "read:field:jira",
        "read:group:jira",
    ]);
    /// `GET issue/{key}`.
    pub(crate) const ISSUE: Need = read(&[
        "read:issue-meta:jira",
        "read:issue-security-level:jira",
        "read:issue.vote:jira",
        "read:issue.changelog:jira",
        "read:avatar:jira",
        "read:issue:jira",
        "read:status:jira",
        "read:user:jira",
        "read:field-configuration:jira",
    ]);
    /// `GET issue/{key}/comment`.
    pub(crate) const COMMENTS: Need = read(&[
        "read:comment:jira",
        "read:comment.property:jira",
        "read:group:jira",
        "read:project:jira",
        "read:project-role:jira",
        "read:user:jira",
        "read:avatar:jira",
    ]);
    /// `POST issue/{key}/comment`.
    pub(crate) const ADD_COMMENT: Need = write(&[
        "read:comment:jira",
        "read:comment.property:jira",
        "read:group:jira",
        "read:project:jira",
        "read:project-role:jira",
        "read:user:jira",
        "write:comment:jira",
        "read:avatar:jira",
    ]);
    /// `GET issue/{key}/transitions`.
    pub(crate) const TRANSITIONS: Need =
        read(&["read:issue.transition:jira", "read:status:jira", "read:field-configuration:jira"]);
    /// `POST issue/{key}/transitions`.
    pub(crate) const TRANSITION: Need = write(&["write:issue:jira", "write:issue.property:jira"]);
    /// `PUT issue/{key}/assignee`.
    pub(crate) const ASSIGN: Need = write(&["write:issue:jira"]);
    /// `GET attachment/content/{id}`.
    pub(crate) const ATTACHMENT: Need = read(&["read:attachment:jira"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn an_endpoint_takes_its_classic_scope_or_its_whole_granular_set() {
        assert!(jira::ASSIGN.met_by(&list("read:me write:jira-work")));
        assert!(jira::ASSIGN.met_by(&list("read:me write:issue:jira")));
        assert!(!jira::TRANSITION.met_by(&list("write:issue:jira")), "a part of the set is not enough");
        assert!(!jira::ASSIGN.met_by(&list("read:jira-work")));
        let classic_only = Need { classic: "read:page:confluence", granular: &[] };
        assert!(!classic_only.met_by(&[]));
    }

    #[test]
    fn every_granular_scope_an_endpoint_accepts_is_known_and_belongs_to_jira() {
        let all = [
            &jira::MYSELF,
            &jira::SEARCH_GET,
            &jira::SEARCH_POST,
            &jira::ISSUE,
            &jira::COMMENTS,
            &jira::ADD_COMMENT,
            &jira::TRANSITIONS,
            &jira::TRANSITION,
            &jira::ASSIGN,
            &jira::ATTACHMENT,
        ];
        for need in all {
            for scope in std::iter::once(&need.classic).chain(need.granular) {
                assert!(is_known(scope) && product(scope) == Product::Jira, "{scope}");
            }
        }
    }
}
