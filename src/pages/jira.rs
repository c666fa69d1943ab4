//! Jira pages: the user's open issues on one site (paged with Jira's `nextPageToken`) and one issue
//! with its description rendered from ADF by our own renderer.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::atlassian::{SearchPage, Site};
use crate::auth::single_param;
use crate::error::AppError;
use crate::ids::{IssueKey, PageToken};
use crate::on_behalf::{OnBehalf, Product};
use crate::pages::issue_row::{IssueRow, short_time};
use crate::pages::{Chrome, html};
use crate::rate_limits::Target;
use crate::render::adf_json_to_html;
use crate::urls::Urls;

/// Issues per page of the list.
const PAGE_SIZE: u32 = 50;

/// The issue list page: one page of Jira's search for "my open issues" on one site.
#[derive(Template)]
#[template(path = "issues.html")]
pub struct IssuesPage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    issues: Vec<IssueRow>,
    /// Set when this is not the first page.
    first_href: Option<String>,
    next_href: Option<String>,
}

impl<'a> IssuesPage<'a> {
    /// The page for `found`, the search answer for `site`; `page` is the token it was asked with
    /// (none on the first page).
    pub fn new(urls: &'a Urls, chrome: Chrome, site: Site, found: &SearchPage, page: Option<&PageToken>) -> Self {
        let next_href = found
            .next_page_token
            .as_deref()
            .and_then(PageToken::parse)
            .map(|next| urls.issues_page(&site.id, next.as_str()));
        IssuesPage {
            urls,
            chrome,
            issues: found.issues.iter().map(|i| IssueRow::new(i, urls, &site.id)).collect(),
            first_href: page.is_some().then(|| urls.issues(&site.id)),
            site,
            next_href,
        }
    }
}

#[get("/sites/{cloud_id}/jira/issues")]
pub async fn issues(
    req: HttpRequest,
    path: web::Path<String>,
    user: OnBehalf,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let (cloud_id, site) = user.site(&path, Product::Jira).await?;
    let page = match single_param(req.query_string(), "page")? {
        None => None,
        Some(raw) => Some(PageToken::parse(&raw).ok_or(AppError::BadRequest("the page token is malformed"))?),
    };
    let (id, page_token) = (cloud_id.as_str(), page.as_ref().map(PageToken::as_str));
    let result = user
        .call(Target { product: Product::Jira, site: id }, |api, token| async move {
            api.my_open_issues(&token, id, page_token, PAGE_SIZE).await
        })
        .await;
    let found = match result {
        Err(AppError::NotFound) => {
            user.recheck_sites()?;
            return Err(AppError::NotFound);
        }
        other => other?,
    };
    let chrome = Chrome::new(user.session_data(), Some(cloud_id.as_str()));
    html(IssuesPage::new(&urls, chrome, site, &found, page.as_ref()))
}

#[derive(Template)]
#[template(path = "issue.html")]
struct IssuePage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    key: String,
    summary: String,
    facts: Vec<(&'static str, String)>,
    labels: Vec<String>,
    /// Produced by our ADF renderer, which escapes everything: safe to insert as HTML.
    description_html: String,
}

#[get("/sites/{cloud_id}/jira/issues/{key}")]
pub async fn issue(
    path: web::Path<(String, String)>,
    user: OnBehalf,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let (raw_cloud_id, raw_key) = path.into_inner();
    let (cloud_id, site) = user.site(&raw_cloud_id, Product::Jira).await?;
    let key = IssueKey::parse(&raw_key).ok_or(AppError::NotFound)?;
    let (id, key_text) = (cloud_id.as_str(), key.as_str());
    let target = Target { product: Product::Jira, site: id };
    let detail = user.call(target, |api, token| async move { api.issue(&token, id, key_text).await }).await?;
    let fields = detail.fields;
    let name = |n: Option<String>| n.filter(|s| !s.is_empty()).unwrap_or_else(|| "—".to_owned());
    let facts = vec![
        ("Status", name(fields.status.as_ref().map(|s| s.name.clone()))),
        ("Type", name(fields.issuetype.as_ref().map(|t| t.name.clone()))),
        ("Priority", name(fields.priority.as_ref().map(|p| p.name.clone()))),
        ("Project", name(fields.project.as_ref().map(|p| format!("{} ({})", p.name, p.key)))),
        ("Assignee", name(fields.assignee.as_ref().map(|p| p.display_name.clone()))),
        ("Reporter", name(fields.reporter.as_ref().map(|p| p.display_name.clone()))),
        ("Created", name(Some(short_time(fields.created.as_deref())))),
        ("Updated", name(Some(short_time(fields.updated.as_deref())))),
    ];
    let description_html = fields.description.as_deref().map(|raw| adf_json_to_html(raw.get())).unwrap_or_default();
    html(IssuePage {
        urls: &urls,
        chrome: Chrome::new(user.session_data(), Some(cloud_id.as_str())),
        site,
        key: detail.key,
        summary: fields.summary.unwrap_or_else(|| "(no summary)".to_owned()),
        facts,
        labels: fields.labels,
        description_html,
    })
}
