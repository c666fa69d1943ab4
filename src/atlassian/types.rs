//! The shapes of Atlassian's answers that threelo reads. Unknown fields are ignored.

use serde::{Deserialize, Serialize};

/// `GET /me`.
#[derive(Clone, Debug, Deserialize)]
pub struct Me {
    /// The stable user key.
    pub account_id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
}

/// One entry of `accessible-resources`: a site (cloudId) the grant covers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Site {
    /// The cloudId.
    pub id: String,
    pub url: String,
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default, rename = "avatarUrl")]
    pub avatar_url: Option<String>,
}

impl Site {
    /// Whether the grant covers Jira on this site.
    pub fn has_jira(&self) -> bool {
        self.scopes.iter().any(|s| s.contains("jira"))
    }

    /// Whether the grant covers Confluence on this site.
    pub fn has_confluence(&self) -> bool {
        self.scopes.iter().any(|s| s.contains("confluence"))
    }
}

/// Merges the entries of `accessible-resources` that name the same site. Atlassian may list a
/// cloudId once per product, each entry with that product's scopes: taking the first entry
/// alone would hide the other product of the site. Keeps the order and details of each site's
/// first entry and joins the scopes (each once).
pub fn merge_sites(entries: Vec<Site>) -> Vec<Site> {
    let mut merged: Vec<Site> = Vec::with_capacity(entries.len());
    for entry in entries {
        match merged.iter_mut().find(|site| site.id == entry.id) {
            Some(site) => {
                for scope in entry.scopes {
                    if !site.scopes.contains(&scope) {
                        site.scopes.push(scope);
                    }
                }
                if site.avatar_url.is_none() {
                    site.avatar_url = entry.avatar_url;
                }
            }
            None => merged.push(entry),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, scopes: &[&str]) -> Site {
        Site {
            id: id.to_owned(),
            url: format!("https://{id}.atlassian.net"),
            name: id.to_owned(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
        }
    }

    #[test]
    fn one_site_listed_per_product_becomes_one_site_with_both_products() {
        let merged = merge_sites(vec![
            entry("a", &["read:jira-work", "read:me"]),
            entry("b", &["read:jira-work"]),
            entry("a", &["read:confluence-content.all", "read:me"]),
        ]);
        assert_eq!(merged.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(merged[0].scopes, ["read:jira-work", "read:me", "read:confluence-content.all"]);
        assert!(merged[0].has_jira() && merged[0].has_confluence());
        assert!(merged[1].has_jira() && !merged[1].has_confluence());
    }
}
