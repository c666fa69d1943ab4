//! The names and numbers of the seed that others refer to: cloud ids, logins, issue keys, page
//! ids, scopes. The seed itself is built from these, and the tests, benches and `bench/run` name
//! them from here instead of repeating the literals, so changing the seed is one edit.

// ---- sites -----------------------------------------------------------------------------------

/// The cloud id of `acme`: Jira (210 issues) and Confluence (3 spaces); alice and bob use it.
pub const ACME_CLOUD_ID: &str = "1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c";
/// The cloud id of `beta`: Jira only (12 issues); only alice uses it.
pub const BETA_CLOUD_ID: &str = "7a9b3c5d-1e2f-4a6b-8c0d-9e8f7a6b5c4d";
/// The name of the `acme` site (`https://acme.atlassian.net`).
pub const ACME_SITE: &str = "acme";
/// The name of the `beta` site (`https://beta.atlassian.net`).
pub const BETA_SITE: &str = "beta";

// ---- users -----------------------------------------------------------------------------------

/// alice: both sites; most issues are assigned to her.
pub const ALICE: &str = "alice";
/// bob: `acme` only.
pub const BOB: &str = "bob";
/// carol: no site at all.
pub const CAROL: &str = "carol";
/// alice's Atlassian account id.
pub const ALICE_ACCOUNT_ID: &str = "712020:6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f";
/// bob's Atlassian account id.
pub const BOB_ACCOUNT_ID: &str = "712020:0b0b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
/// carol's Atlassian account id.
pub const CAROL_ACCOUNT_ID: &str = "712020:ca201234-5678-4abc-8def-0123456789ab";
/// alice's display name.
pub const ALICE_NAME: &str = "Alice Example";
/// bob's display name.
pub const BOB_NAME: &str = "Bob Builder";
/// carol's display name.
pub const CAROL_NAME: &str = "Carol Nosites";

// ---- Jira ------------------------------------------------------------------------------------

/// The Jira project on `acme` (issues `ACME-1` … `ACME-210`).
pub const ACME_PROJECT: &str = "ACME";
/// The Jira project on `beta` (issues `BETA-1` … `BETA-12`).
pub const BETA_PROJECT: &str = "BETA";
/// The release checklist: a description with every ADF node the renderer knows, and a
/// `javascript:` link.
pub const SHOWCASE_ISSUE: &str = "ACME-1";
/// Summary `<script>alert(1)</script>`, hostile description; updated most recently but one.
pub const SCRIPT_ISSUE: &str = "ACME-2";
/// Summary `"><img src=x onerror=alert(1)>`, hostile description.
pub const IMG_ISSUE: &str = "ACME-3";
/// Emoji and accents in the summary.
pub const UNICODE_ISSUE: &str = "ACME-4";
/// Behind an issue security level no seed user belongs to: 404 on GET (as an issue that does
/// not exist), never in a search.
pub const RESTRICTED_ISSUES: [&str; 2] = ["ACME-13", "ACME-88"];
/// The first issue on `beta`.
pub const BETA_ISSUE: &str = "BETA-1";
/// How many `acme` issues are assigned to alice, unresolved and not restricted: what
/// `assignee = currentUser() AND resolution = Unresolved` finds for her there.
pub const ALICE_OPEN_ON_ACME: usize = 163;

// ---- Confluence ------------------------------------------------------------------------------

/// The keys of the three spaces on `acme`, in the order the API lists them.
pub const SPACE_KEYS: [&str; 3] = ["ENG", "OPS", "HR"];
/// The `ENG` space, which holds the hostile page.
pub const ENG_SPACE: &str = SPACE_KEYS[0];
/// The page (in `ENG`, title starting "Security test") whose body tries every trick a sanitizer
/// must undo.
pub const HOSTILE_PAGE: &str = "163845";

// ---- scopes ----------------------------------------------------------------------------------

/// Names the user (`/me`).
pub const READ_ME: &str = "read:me";
/// Jira issues, projects and their content.
pub const READ_JIRA_WORK: &str = "read:jira-work";
/// Jira user information.
pub const READ_JIRA_USER: &str = "read:jira-user";
/// Confluence v2: spaces.
pub const READ_SPACE_CONFLUENCE: &str = "read:space:confluence";
/// Confluence v2: pages.
pub const READ_PAGE_CONFLUENCE: &str = "read:page:confluence";
/// A refresh token with the access token.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Every scope above, space-separated: what it takes to see all of the seed and stay signed in.
pub const SCOPES: &str =
    "read:me read:jira-work read:jira-user read:space:confluence read:page:confluence offline_access";

/// Jira's granular scopes that stand in for `read:jira-work` on what threelo reads: the issue
/// search (`GET search/jql`), an issue, its comments and its transitions (as Atlassian's
/// OpenAPI spec lists them per endpoint), space-separated.
pub const JIRA_GRANULAR_READ: &str = "read:issue-details:jira read:audit-log:jira read:avatar:jira \
read:field-configuration:jira read:issue-meta:jira read:issue-security-level:jira read:issue.vote:jira \
read:issue.changelog:jira read:issue:jira read:status:jira read:user:jira read:comment:jira \
read:comment.property:jira read:group:jira read:project:jira read:project-role:jira read:issue.transition:jira";
/// Jira's granular scopes that stand in for `write:jira-work` on threelo's writes: a comment
/// (`write:comment:jira`), a transition and the assignee (`write:issue:jira`,
/// `write:issue.property:jira`), space-separated.
pub const JIRA_GRANULAR_WRITE: &str = "write:comment:jira write:issue:jira write:issue.property:jira";

/// The id of an attachment on every Jira site whose content is large (for streaming tests):
/// [`LARGE_ATTACHMENT_BYTES`] bytes, the last chunk held back for [`LARGE_ATTACHMENT_STALL_MS`].
pub const LARGE_ATTACHMENT: &str = "10001";
/// The size of [`LARGE_ATTACHMENT`]'s content: 8 MiB.
pub const LARGE_ATTACHMENT_BYTES: usize = 8 * 1024 * 1024;
/// How long the emulator waits before sending the last chunk of [`LARGE_ATTACHMENT`].
pub const LARGE_ATTACHMENT_STALL_MS: u64 = 1500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_is_every_scope_constant_and_each_is_known() {
        let each =
            [READ_ME, READ_JIRA_WORK, READ_JIRA_USER, READ_SPACE_CONFLUENCE, READ_PAGE_CONFLUENCE, OFFLINE_ACCESS];
        assert_eq!(SCOPES, each.join(" "));
        assert!(each.iter().all(|s| crate::scopes::is_known(s)));
        let granular = format!("{JIRA_GRANULAR_READ} {JIRA_GRANULAR_WRITE}");
        assert!(granular.split(' ').all(|s| crate::scopes::is_known(s) && s.ends_with(":jira")), "{granular}");
    }

    #[test]
    fn alice_open_on_acme_counts_the_seed() {
        let open = crate::seed::issues_on(ACME_SITE)
            .filter(|i| i.assignee == Some(ALICE) && !i.resolved() && !i.restricted)
            .count();
        assert_eq!(open, ALICE_OPEN_ON_ACME);
    }

    #[test]
    fn the_named_issues_and_page_are_what_their_docs_say() {
        let issue = |key| crate::seed::issue(ACME_SITE, key).map(|i| (i.summary.clone(), i.restricted));
        assert!(issue(SCRIPT_ISSUE).is_some_and(|(s, _)| s == "<script>alert(1)</script>"));
        assert!(issue(IMG_ISSUE).is_some_and(|(s, _)| s.contains("onerror")));
        assert!(RESTRICTED_ISSUES.iter().all(|key| issue(key).is_some_and(|(_, restricted)| restricted)));
        assert!(crate::seed::issue(BETA_SITE, BETA_ISSUE).is_some());
        let page = crate::seed_wiki::PAGES.iter().find(|p| p.id == HOSTILE_PAGE);
        assert!(page.is_some_and(|p| p.title.starts_with("Security test")));
    }
}
