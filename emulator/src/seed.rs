//! Deterministic seed data: users and sites. Jira issues live in `seed_jira` (their
//! descriptions in `seed_adf`), Confluence in `seed_wiki`. Identical on every run so
//! tests can name logins, cloud ids, keys and counts: those names are in [`ids`].

pub mod ids;

pub(crate) use super::seed_jira::{Issue, issue, issues_on};

/// A person who can sign in on the emulated consent screen.
#[derive(Debug)]
pub struct SeedUser {
    /// Short name used to pick the user (`alice`).
    pub login: &'static str,
    /// Atlassian account id (`712020:<uuid>`), the stable user key.
    pub account_id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Email address.
    pub email: &'static str,
    /// IANA time zone.
    pub timezone: &'static str,
    /// Profile: job title.
    pub job_title: &'static str,
    /// Profile: organization.
    pub organization: &'static str,
    /// Profile: department.
    pub department: &'static str,
    /// Profile: location.
    pub location: &'static str,
    /// Names of the sites (see [`SeedSite::name`]) this user can use.
    pub sites: &'static [&'static str],
}

/// An Atlassian Cloud site (`<name>.atlassian.net`).
#[derive(Debug)]
pub struct SeedSite {
    /// The site's cloud id, a fixed UUID.
    pub cloud_id: &'static str,
    /// Site name (`acme`).
    pub name: &'static str,
    /// Site URL (`https://acme.atlassian.net`).
    pub url: &'static str,
    /// Whether Jira runs on the site.
    pub has_jira: bool,
    /// Whether Confluence runs on the site.
    pub has_confluence: bool,
    /// The site's avatar.
    pub avatar_url: &'static str,
}

/// alice's account id; page authors and mentions in the seed content refer to it.
pub(crate) const ALICE_ID: &str = ids::ALICE_ACCOUNT_ID;
/// bob's account id.
pub(crate) const BOB_ID: &str = ids::BOB_ACCOUNT_ID;

/// The seed users.
pub static USERS: [SeedUser; 3] = [
    SeedUser {
        login: ids::ALICE,
        account_id: ALICE_ID,
        name: ids::ALICE_NAME,
        email: "alice@example.com",
        timezone: "Europe/Berlin",
        job_title: "Staff Engineer",
        organization: "Acme Corp",
        department: "Platform",
        location: "Berlin",
        sites: &[ids::ACME_SITE, ids::BETA_SITE],
    },
    SeedUser {
        login: ids::BOB,
        account_id: BOB_ID,
        name: ids::BOB_NAME,
        email: "bob@example.com",
        timezone: "America/New_York",
        job_title: "Site Reliability Engineer",
        organization: "Acme Corp",
        department: "Operations",
        location: "New York",
        sites: &[ids::ACME_SITE],
    },
    SeedUser {
        login: ids::CAROL,
        account_id: ids::CAROL_ACCOUNT_ID,
        name: ids::CAROL_NAME,
        email: "carol@example.com",
        timezone: "Australia/Sydney",
        job_title: "Product Designer",
        organization: "Freelance",
        department: "Design",
        location: "Sydney",
        sites: &[],
    },
];

/// The seed sites.
pub static SITES: [SeedSite; 2] = [
    SeedSite {
        cloud_id: ids::ACME_CLOUD_ID,
        name: ids::ACME_SITE,
        url: "https://acme.atlassian.net",
        has_jira: true,
        has_confluence: true,
        avatar_url: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
    },
    SeedSite {
        cloud_id: ids::BETA_CLOUD_ID,
        name: ids::BETA_SITE,
        url: "https://beta.atlassian.net",
        has_jira: true,
        has_confluence: false,
        avatar_url: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/koala.png",
    },
];

pub(crate) fn user(login: &str) -> Option<&'static SeedUser> {
    USERS.iter().find(|u| u.login == login)
}

pub(crate) fn site_by_cloud_id(cloud_id: &str) -> Option<&'static SeedSite> {
    SITES.iter().find(|s| s.cloud_id == cloud_id)
}

pub(crate) fn avatar_url(user: &SeedUser) -> String {
    let initials: String = user.name.split(' ').filter_map(|w| w.chars().next()).collect();
    format!("https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/{initials}-3.png")
}
