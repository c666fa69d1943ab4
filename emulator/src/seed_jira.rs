//! Jira seed: ACME-1…ACME-210 on acme, BETA-1…BETA-12 on beta. Mostly routine work
//! assigned to alice; ACME-2/3 have hostile summaries, ACME-13/88 are restricted.

use std::sync::LazyLock;

use serde_json::Value;
use time::{Duration, OffsetDateTime, macros::datetime};

use super::seed_adf;

/// A Jira workflow status and its category (`new`, `indeterminate`, `done`).
pub(crate) struct Status {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) category_id: u32,
    pub(crate) category_key: &'static str,
    pub(crate) category_name: &'static str,
}

const fn status(id: &'static str, name: &'static str, cat: u32, key: &'static str, cat_name: &'static str) -> Status {
    Status { id, name, category_id: cat, category_key: key, category_name: cat_name }
}

const TODO: Status = status("10000", "To Do", 2, "new", "To Do");
const IN_PROGRESS: Status = status("3", "In Progress", 4, "indeterminate", "In Progress");
const IN_REVIEW: Status = status("10001", "In Review", 4, "indeterminate", "In Progress");
const BLOCKED: Status = status("10003", "Blocked", 4, "indeterminate", "In Progress");
const DONE: Status = status("10002", "Done", 3, "done", "Done");
const OPEN_STATUSES: [&Status; 6] = [&TODO, &IN_PROGRESS, &TODO, &IN_REVIEW, &IN_PROGRESS, &BLOCKED];

/// A Jira project.
pub(crate) struct Project {
    pub(crate) id: &'static str,
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
}

const ACME_PROJECT: Project = Project { id: "10000", key: "ACME", name: "Acme Platform" };
const BETA_PROJECT: Project = Project { id: "10100", key: "BETA", name: "Beta Launch" };

/// The workflow every seed project uses: each status can be reached from any other, through
/// the transition of this id and name (Jira names transitions after the action).
pub(crate) static WORKFLOW: [(&str, &str, &Status); 5] = [
    ("11", "To Do", &TODO),
    ("21", "Start progress", &IN_PROGRESS),
    ("31", "Send to review", &IN_REVIEW),
    ("41", "Done", &DONE),
    ("51", "Block", &BLOCKED),
];

/// One Jira issue on one site.
#[derive(Clone)]
pub(crate) struct Issue {
    pub(crate) id: u64,
    pub(crate) key: String,
    pub(crate) site: &'static str,
    pub(crate) project: &'static Project,
    pub(crate) summary: String,
    pub(crate) issue_type: (&'static str, &'static str),
    pub(crate) status: &'static Status,
    pub(crate) priority: (&'static str, &'static str),
    pub(crate) assignee: Option<&'static str>,
    pub(crate) reporter: &'static str,
    pub(crate) created: OffsetDateTime,
    pub(crate) updated: OffsetDateTime,
    pub(crate) labels: Vec<&'static str>,
    /// Behind an issue security level no seed user belongs to: 403, omitted from search.
    pub(crate) restricted: bool,
    pub(crate) description: Option<Value>,
}

impl Issue {
    pub(crate) fn resolved(&self) -> bool {
        self.status.category_key == "done"
    }
}

/// Number of issues on acme (ACME-1 … ACME-210).
pub(crate) const ACME_ISSUES: u64 = 210;
/// Issues behind a security level (403 on GET, never in search results).
pub(crate) const RESTRICTED: [&str; 2] = super::seed::ids::RESTRICTED_ISSUES;
/// The newest `updated` time; every other issue is older, all distinct.
const NEWEST: OffsetDateTime = datetime!(2026-11-20 10:15:30 UTC);

const TYPES: [(&str, &str); 4] = [("Bug", "10004"), ("Task", "10002"), ("Story", "10001"), ("Task", "10002")];
const PRIORITIES: [(&str, &str); 6] =
    [("Medium", "3"), ("High", "2"), ("Medium", "3"), ("Low", "4"), ("Highest", "1"), ("Lowest", "5")];
const LABELS: [&str; 6] = ["backend", "frontend", "security", "tech-debt", "customer", "performance"];
const VERBS: [&str; 8] = ["Fix", "Investigate", "Add", "Refactor", "Document", "Speed up", "Review", "Test"];
const OBJECTS: [&str; 21] = [
    "login redirect loop on Safari",
    "CSV export in the billing report",
    "flaky checkout integration test",
    "dark mode contrast on the dashboard",
    "webhook retries for failed deliveries",
    "search results pagination",
    "onboarding email copy",
    "rate limiting on the public API",
    "memory use of the image resizer",
    "audit log retention job",
    "time zone handling in reminders",
    "mobile layout of the settings page",
    "SSO group sync with Okta",
    "invoice PDF rendering",
    "stale feature flags",
    "Postgres connection pool sizing",
    "accessibility labels on forms",
    "error page for expired sessions",
    "backup restore runbook",
    "GraphQL schema deprecations",
    "notification preferences API",
];

/// Every issue on every site, ordered by site then number.
pub(crate) static ISSUES: LazyLock<Vec<Issue>> = LazyLock::new(|| {
    let acme = (1..=ACME_ISSUES).map(acme_issue);
    let beta = (1..=12).map(beta_issue);
    acme.chain(beta).collect()
});

/// Distinct, deterministic update times in an order unrelated to key order, so
/// `ORDER BY updated` is stable and not just the key order reversed.
fn updated_at(n: u64, site_shift: i64) -> OffsetDateTime {
    let minutes = if n <= 3 { n as i64 } else { 60 + ((n * 7919) % 10007) as i64 };
    NEWEST - Duration::minutes(minutes * 2 + site_shift)
}

fn acme_issue(n: u64) -> Issue {
    let i = n as usize;
    let summary = match n {
        1 => "Release checklist for 4.2 (rich description showcase)".to_owned(),
        2 => "<script>alert(1)</script>".to_owned(),
        3 => "\"><img src=x onerror=alert(1)>".to_owned(),
        4 => "Support emoji 🎉 and accents (café, naïve, Zürich) in project names".to_owned(),
        5 => format!("Very long summary: {}", "the dashboard truncates this title gracefully ".repeat(5)),
        _ => format!("{} {}", VERBS[i % VERBS.len()], OBJECTS[(i * 5) % OBJECTS.len()]),
    };
    let restricted = RESTRICTED.contains(&format!("ACME-{n}").as_str());
    let assignee = match n {
        _ if n <= 5 || restricted => Some("alice"),
        _ if n % 10 == 7 => Some("bob"),
        _ if n.is_multiple_of(25) => None,
        _ => Some("alice"),
    };
    let resolved = n > 5 && !restricted && n % 11 == 5;
    let status = if resolved { &DONE } else { OPEN_STATUSES[(i * 5) % OPEN_STATUSES.len()] };
    let updated = updated_at(n, 0);
    let description = match n {
        1 => Some(seed_adf::showcase()),
        2 | 3 => Some(seed_adf::hostile()),
        _ if n.is_multiple_of(3) => None,
        _ => Some(seed_adf::routine(i)),
    };
    Issue {
        id: 10000 + n,
        key: format!("ACME-{n}"),
        site: super::seed::ids::ACME_SITE,
        project: &ACME_PROJECT,
        summary,
        issue_type: TYPES[(i * 7) % TYPES.len()],
        status,
        priority: PRIORITIES[(i * 3) % PRIORITIES.len()],
        assignee,
        reporter: if n.is_multiple_of(4) { "bob" } else { "alice" },
        created: updated - Duration::days(((n * 13) % 90 + 1) as i64),
        updated,
        labels: vec![LABELS[i % LABELS.len()], LABELS[(i * 7 + 3) % LABELS.len()]],
        restricted,
        description,
    }
}

fn beta_issue(n: u64) -> Issue {
    let i = n as usize;
    let updated = updated_at(n, 7);
    Issue {
        id: 20000 + n,
        key: format!("BETA-{n}"),
        site: super::seed::ids::BETA_SITE,
        project: &BETA_PROJECT,
        summary: format!("Beta: {} {}", VERBS[(i + 3) % VERBS.len()], OBJECTS[(i * 2) % OBJECTS.len()]),
        issue_type: TYPES[i % TYPES.len()],
        status: if n.is_multiple_of(4) { &DONE } else { OPEN_STATUSES[i % OPEN_STATUSES.len()] },
        priority: PRIORITIES[i % PRIORITIES.len()],
        assignee: if n.is_multiple_of(6) { None } else { Some("alice") },
        reporter: "alice",
        created: updated - Duration::days(((n * 5) % 30 + 1) as i64),
        updated,
        labels: vec!["launch"],
        restricted: false,
        description: Some(seed_adf::routine(i)),
    }
}

/// The issues of one site.
pub(crate) fn issues_on(site: &str) -> impl Iterator<Item = &'static Issue> + '_ {
    ISSUES.iter().filter(move |issue| issue.site == site)
}

/// An issue on `site` by key (case-insensitive, like Jira) or by numeric id.
pub(crate) fn issue(site: &str, key_or_id: &str) -> Option<&'static Issue> {
    issues_on(site).find(|i| i.key.eq_ignore_ascii_case(key_or_id) || i.id.to_string() == key_or_id)
}
