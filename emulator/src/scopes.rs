//! The scopes `/authorize` accepts, what the consent screen says about each, and which
//! product each belongs to (accessible-resources lists a site's product scopes only).

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
