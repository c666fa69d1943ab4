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
