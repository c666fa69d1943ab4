//! What threelo's features ask of a grant, in one table. Jira accepts, per endpoint, either its
//! classic scope (`read:jira-work`, `write:jira-work`) or the whole granular set it documents for
//! that endpoint (Atlassian's OpenAPI spec for Jira, `x-atlassian-oauth2-scopes`), so an operator
//! may configure either kind, or a mix. [`Need`] is one endpoint's requirement; [`Feature`] lists
//! the endpoints a feature calls; the client names a [`Need`] when Atlassian answers "scope does
//! not match", and pages, `check-config` and the demo ask a [`Feature`] whether it is on.

/// What one endpoint accepts: `classic`, or every scope of `granular` (empty: `classic` only).
#[derive(Debug, PartialEq, Eq)]
pub struct Need {
    pub classic: &'static str,
    pub granular: &'static [&'static str],
}

impl Need {
    const fn only(scope: &'static str) -> Need {
        Need { classic: scope, granular: &[] }
    }

    /// Whether a grant holding `scopes` may call the endpoint.
    pub fn met_by(&self, scopes: &[String]) -> bool {
        has(scopes, self.classic) || (!self.granular.is_empty() && self.granular.iter().all(|s| has(scopes, s)))
    }

    /// What `scopes` still lacks for this: the missing part of the granular set when `granular`
    /// (the operator chose granular scopes) and there is one, else the classic scope.
    fn lacking(&self, scopes: &[String], granular: bool) -> Vec<&'static str> {
        if self.met_by(scopes) {
            Vec::new()
        } else if granular && !self.granular.is_empty() {
            self.granular.iter().copied().filter(|s| !has(scopes, s)).collect()
        } else {
            vec![self.classic]
        }
    }
}

impl std::fmt::Display for Need {
    /// `write:jira-work (or all of the granular write:comment:jira read:comment:jira …)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.classic)?;
        if !self.granular.is_empty() {
            write!(f, " (or all of the granular {})", self.granular.join(" "))?;
        }
        Ok(())
    }
}

fn has(scopes: &[String], wanted: &str) -> bool {
    scopes.iter().any(|s| s == wanted)
}

const fn jira_read(granular: &'static [&'static str]) -> Need {
    Need { classic: "read:jira-work", granular }
}

const fn jira_write(granular: &'static [&'static str]) -> Need {
    Need { classic: "write:jira-work", granular }
}

/// `GET /me`.
pub const ME: Need = Need::only("read:me");
/// `GET accessible-resources`: any valid token will do.
pub const SITES: Need = Need::only("(any scope)");
/// Jira `GET search/jql`.
pub const JIRA_SEARCH: Need = jira_read(&[
    "read:issue-details:jira",
    "read:audit-log:jira",
    "read:avatar:jira",
    "read:field-configuration:jira",
    "read:issue-meta:jira",
]);
/// Jira `GET issue/{key}`.
pub const JIRA_ISSUE: Need = jira_read(&[
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
/// Jira `GET issue/{key}/comment`.
pub const JIRA_COMMENTS: Need = jira_read(&[
    "read:comment:jira",
    "read:comment.property:jira",
    "read:group:jira",
    "read:project:jira",
    "read:project-role:jira",
    "read:user:jira",
    "read:avatar:jira",
]);
/// Jira `POST issue/{key}/comment`.
pub const JIRA_ADD_COMMENT: Need = jira_write(&[
    "write:comment:jira",
    "read:comment:jira",
    "read:comment.property:jira",
    "read:group:jira",
    "read:project:jira",
    "read:project-role:jira",
    "read:user:jira",
    "read:avatar:jira",
]);
/// Jira `GET issue/{key}/transitions`.
pub const JIRA_TRANSITIONS: Need =
    jira_read(&["read:issue.transition:jira", "read:status:jira", "read:field-configuration:jira"]);
/// Jira `POST issue/{key}/transitions`.
pub const JIRA_TRANSITION: Need = jira_write(&["write:issue:jira", "write:issue.property:jira"]);
/// Jira `PUT issue/{key}/assignee`.
pub const JIRA_ASSIGN: Need = jira_write(&["write:issue:jira"]);
/// Confluence v1 CQL search.
pub const CONFLUENCE_SEARCH: Need = Need::only("search:confluence");
/// Confluence v2 spaces.
pub const CONFLUENCE_SPACES: Need = Need::only("read:space:confluence");
/// Confluence v2 pages.
pub const CONFLUENCE_PAGES: Need = Need::only("read:page:confluence");

/// Something threelo does that a grant may or may not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// The issue lists, an issue and its comments.
    JiraRead,
    /// The comment form on the issue page.
    Comment,
    /// The transition buttons on the issue page.
    Transition,
    /// "Assign to me" on the issue page.
    Assign,
    /// Confluence pages in search results.
    PageSearch,
}

impl Feature {
    /// Every feature, in the order `check-config` lists them.
    pub const ALL: [Feature; 5] =
        [Feature::JiraRead, Feature::Comment, Feature::Transition, Feature::Assign, Feature::PageSearch];
    /// The features the default `THREELO_SCOPES` leaves off.
    pub const OPTIONAL: [Feature; 4] = [Feature::Comment, Feature::Transition, Feature::Assign, Feature::PageSearch];

    /// The endpoints the feature calls: it is on when the grant may call every one of them.
    pub fn needs(self) -> &'static [&'static Need] {
        match self {
            Feature::JiraRead => &[&JIRA_SEARCH, &JIRA_ISSUE, &JIRA_COMMENTS],
            Feature::Comment => &[&JIRA_ADD_COMMENT],
            Feature::Transition => &[&JIRA_TRANSITIONS, &JIRA_TRANSITION],
            Feature::Assign => &[&JIRA_ASSIGN],
            Feature::PageSearch => &[&CONFLUENCE_SEARCH],
        }
    }

    /// What the feature is, in plain words.
    pub fn words(self) -> &'static str {
        match self {
            Feature::JiraRead => "Jira issue lists, issues and their comments",
            Feature::Comment => "comments on the issue page",
            Feature::Transition => "moving an issue to another status on the issue page",
            Feature::Assign => "\"Assign to me\" on the issue page",
            Feature::PageSearch => "Confluence pages in search results (Jira issues need only the Jira read scopes)",
        }
    }

    /// Whether a grant holding `scopes` allows the feature.
    pub fn met_by(self, scopes: &[String]) -> bool {
        self.needs().iter().all(|need| need.met_by(scopes))
    }

    /// What `scopes` lack for the feature, each scope once: in granular terms when `scopes` hold
    /// some of the feature's granular scopes, else the classic scopes.
    pub fn lacking(self, scopes: &[String]) -> Vec<&'static str> {
        let granular = self.granular_in_use(scopes);
        let mut lacking: Vec<&'static str> = Vec::new();
        for scope in self.needs().iter().flat_map(|need| need.lacking(scopes, granular)) {
            if !lacking.contains(&scope) {
                lacking.push(scope);
            }
        }
        lacking
    }

    /// Whether `scopes` hold some of the granular scopes the feature could use (so what is
    /// lacking is named in granular terms).
    pub fn granular_in_use(self, scopes: &[String]) -> bool {
        self.needs().iter().any(|need| need.granular.iter().any(|s| has(scopes, s)))
    }

    /// The classic scopes that turn the feature on (what the demo adds).
    pub fn classic(self) -> impl Iterator<Item = &'static str> {
        self.needs().iter().map(|need| need.classic)
    }

    /// How `scopes` meet the feature (`write:jira-work`, or the granular scopes in use), or what
    /// they lack, for `check-config`.
    pub fn explain(self, scopes: &[String]) -> String {
        if self.met_by(scopes) {
            let mut used: Vec<&str> = Vec::new();
            for need in self.needs() {
                let by: Vec<&str> = if has(scopes, need.classic) { vec![need.classic] } else { need.granular.to_vec() };
                used.extend(by.into_iter().filter(|s| !used.contains(s)).collect::<Vec<_>>());
            }
            return used.join(" ");
        }
        let mut out = self.needs().iter().map(ToString::to_string).collect::<Vec<_>>().join(", and ");
        if self.granular_in_use(scopes) {
            out.push_str(&format!("; missing {}", self.lacking(scopes).join(" ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    const GRANULAR_READ: &str = "read:issue-details:jira read:audit-log:jira read:avatar:jira \
        read:field-configuration:jira read:issue-meta:jira read:issue-security-level:jira read:issue.vote:jira \
        read:issue.changelog:jira read:issue:jira read:status:jira read:user:jira read:comment:jira \
        read:comment.property:jira read:group:jira read:project:jira read:project-role:jira read:issue.transition:jira";

    #[test]
    fn the_classic_scope_or_the_whole_granular_set_turns_a_feature_on() {
        let classic = list("read:me read:jira-work write:jira-work");
        assert!(Feature::ALL[..4].iter().all(|f| f.met_by(&classic)));
        let granular = list(&format!("read:me {GRANULAR_READ} write:comment:jira write:issue:jira"));
        assert!(Feature::JiraRead.met_by(&granular) && Feature::Comment.met_by(&granular));
        assert!(Feature::Assign.met_by(&granular));
        assert!(!Feature::Transition.met_by(&granular), "write:issue.property:jira is missing");
        assert_eq!(Feature::Transition.lacking(&granular), ["write:issue.property:jira"]);
        let mixed = list("read:jira-work write:issue:jira write:issue.property:jira");
        assert!(Feature::Transition.met_by(&mixed), "each endpoint may be met either way");
        assert!(!Feature::PageSearch.met_by(&granular));
    }

    #[test]
    fn what_is_lacking_follows_the_kind_the_operator_chose() {
        let granular = list(&format!("read:me {GRANULAR_READ}"));
        assert_eq!(Feature::Comment.lacking(&granular), ["write:comment:jira"]);
        assert_eq!(Feature::Comment.lacking(&list("read:me read:jira-work")), ["write:jira-work"]);
        assert!(Feature::JiraRead.lacking(&granular).is_empty());
        let half = list("read:me read:issue:jira");
        assert!(Feature::JiraRead.lacking(&half).contains(&"read:status:jira"));
        assert!(!Feature::JiraRead.lacking(&half).contains(&"read:jira-work"));
    }

    #[test]
    fn check_config_explains_how_a_feature_is_met_or_what_it_lacks() {
        assert_eq!(Feature::Comment.explain(&list("write:jira-work")), "write:jira-work");
        let off = Feature::Assign.explain(&list("read:jira-work"));
        assert_eq!(off, "write:jira-work (or all of the granular write:issue:jira)");
        let partial = Feature::Comment.explain(&list(&format!("{GRANULAR_READ} write:issue:jira")));
        assert!(partial.ends_with("; missing write:comment:jira"), "{partial}");
        assert_eq!(Feature::Assign.explain(&list("write:issue:jira")), "write:issue:jira");
    }
}
