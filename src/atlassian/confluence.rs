//! Confluence Cloud REST v2 through the gateway: `/ex/confluence/{cloudId}/wiki/api/v2/...`.

use secrecy::SecretString;
use serde::Deserialize;

use super::{ApiError, Atlassian};
use crate::scopes;

/// One space.
#[derive(Clone, Debug, Deserialize)]
pub struct Space {
    pub id: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
}

/// One page in a listing.
#[derive(Clone, Debug, Deserialize)]
pub struct SpacePage {
    pub id: String,
    #[serde(default)]
    pub title: String,
}

#[derive(Deserialize)]
struct Results<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
}

/// A page with its body in storage format (XHTML, untrusted: sanitise before display).
#[derive(Clone, Debug, Deserialize)]
pub struct PageBody {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, rename = "spaceId")]
    pub space_id: String,
    #[serde(default)]
    pub version: Option<Version>,
    #[serde(default)]
    pub body: Option<Body>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Version {
    #[serde(default)]
    pub number: u64,
    #[serde(default, rename = "createdAt")]
    pub created_at: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub storage: Option<Storage>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Storage {
    #[serde(default)]
    pub value: String,
}

impl PageBody {
    /// The storage-format body, empty when absent.
    pub fn storage(&self) -> &str {
        self.body.as_ref().and_then(|b| b.storage.as_ref()).map_or("", |s| s.value.as_str())
    }
}

impl Atlassian {
    /// The first `limit` spaces of a site (at most 250).
    pub async fn spaces(&self, token: &SecretString, cloud_id: &str, limit: u32) -> Result<Vec<Space>, ApiError> {
        let limit = limit.min(250).to_string();
        let url = self.api(&["ex", "confluence", cloud_id, "wiki", "api", "v2", "spaces"], &[("limit", &limit)]);
        Ok(self.get_json::<Results<Space>>(url, token, &scopes::CONFLUENCE_SPACES).await?.results)
    }

    /// The first `limit` pages of a space.
    pub async fn pages_in_space(
        &self,
        token: &SecretString,
        cloud_id: &str,
        space_id: &str,
        limit: u32,
    ) -> Result<Vec<SpacePage>, ApiError> {
        let limit = limit.min(250).to_string();
        let segments = ["ex", "confluence", cloud_id, "wiki", "api", "v2", "spaces", space_id, "pages"];
        let url = self.api(&segments, &[("limit", &limit)]);
        Ok(self.get_json::<Results<SpacePage>>(url, token, &scopes::CONFLUENCE_PAGES).await?.results)
    }

    /// One page with its storage-format body.
    pub async fn page(&self, token: &SecretString, cloud_id: &str, page_id: &str) -> Result<PageBody, ApiError> {
        let segments = ["ex", "confluence", cloud_id, "wiki", "api", "v2", "pages", page_id];
        let url = self.api(&segments, &[("body-format", "storage")]);
        self.get_json(url, token, &scopes::CONFLUENCE_PAGES).await
    }
}
