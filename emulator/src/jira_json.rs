//! The JSON shapes of Jira Cloud REST v3: issues (all fields or a chosen few), users,
//! and Jira's timestamp format.

use serde_json::{Map, Value, json};
use time::macros::format_description;

use super::seed::{self, Issue, SeedSite, SeedUser};

/// Every field the emulator knows, in the order `GET issue` returns them.
pub(crate) const FIELDS: [&str; 13] = [
    "summary",
    "status",
    "priority",
    "issuetype",
    "project",
    "created",
    "updated",
    "reporter",
    "assignee",
    "labels",
    "description",
    "resolution",
    "resolutiondate",
];

/// Jira's `fields` list: comma separated, repeatable, `*all`/`*navigable` for everything,
/// `-name` to drop one, unknown names ignored. `None` when nothing was asked for.
pub(crate) fn select_fields<'a>(values: impl Iterator<Item = &'a str>) -> Option<Vec<&'static str>> {
    let names: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return None;
    }
    let mut selected: Vec<&'static str> = Vec::new();
    for name in &names {
        if *name == "*all" || *name == "*navigable" {
            selected = FIELDS.to_vec();
        } else if let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name))
            && !selected.contains(field)
        {
            selected.push(field);
        }
    }
    for name in names.iter().filter_map(|n| n.strip_prefix('-')) {
        selected.retain(|f| !f.eq_ignore_ascii_case(name));
    }
    Some(selected)
}

pub(crate) fn jira_time(t: time::OffsetDateTime) -> String {
    let format = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
    );
    t.format(&format).unwrap_or_default()
}

pub(crate) fn user_json(user: &SeedUser, base: &str, site: &SeedSite) -> Value {
    let avatar = seed::avatar_url(user);
    json!({
        "self": format!("{base}/ex/jira/{}/rest/api/3/user?accountId={}", site.cloud_id, user.account_id),
        "accountId": user.account_id,
        "accountType": "atlassian",
        "displayName": user.name,
        "active": true,
        "timeZone": user.timezone,
        "avatarUrls": {"48x48": avatar, "24x24": avatar, "16x16": avatar, "32x32": avatar},
    })
}

/// An issue as Jira returns it; `fields: None` means ids only (search's default).
pub(crate) fn issue_json(issue: &Issue, fields: Option<&[&str]>, base: &str, site: &SeedSite) -> Value {
    let api = format!("{base}/ex/jira/{}/rest/api/3", site.cloud_id);
    let mut out = json!({"id": issue.id.to_string(), "key": issue.key, "self": format!("{api}/issue/{}", issue.id)});
    let Some(fields) = fields else { return out };
    let person = |login: Option<&str>| login.and_then(seed::user).map_or(Value::Null, |u| user_json(u, base, site));
    let s = issue.status;
    let color = match s.category_key {
        "new" => "blue-gray",
        "done" => "green",
        _ => "yellow",
    };
    let mut map = Map::new();
    for field in fields {
        let value = match *field {
            "summary" => json!(issue.summary),
            "status" => json!({
                "self": format!("{api}/status/{}", s.id), "id": s.id, "name": s.name, "description": "",
                "statusCategory": {"id": s.category_id, "key": s.category_key, "colorName": color, "name": s.category_name},
            }),
            "priority" => {
                json!({"self": format!("{api}/priority/{}", issue.priority.1), "id": issue.priority.1, "name": issue.priority.0})
            }
            "issuetype" => {
                json!({"id": issue.issue_type.1, "name": issue.issue_type.0, "subtask": false})
            }
            "project" => json!({
                "self": format!("{api}/project/{}", issue.project.id), "id": issue.project.id,
                "key": issue.project.key, "name": issue.project.name, "projectTypeKey": "software",
            }),
            "created" => json!(jira_time(issue.created)),
            "updated" => json!(jira_time(issue.updated)),
            "reporter" => person(Some(issue.reporter)),
            "assignee" => person(issue.assignee),
            "labels" => json!(issue.labels),
            "description" => issue.description.clone().unwrap_or(Value::Null),
            "resolution" if issue.resolved() => json!({"id": "10000", "name": "Done"}),
            "resolutiondate" if issue.resolved() => json!(jira_time(issue.updated)),
            _ => Value::Null,
        };
        map.insert((*field).to_owned(), value);
    }
    if let Some(obj) = out.as_object_mut() {
        obj.insert("fields".to_owned(), Value::Object(map));
    }
    out
}
