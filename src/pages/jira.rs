//! The user's open issues on one site, paged with Jira's `nextPageToken` (one issue: `issue.rs`).

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::atlassian::{SearchPage, Site};
use crate::error::AppError;
use crate::ids::PageToken;
use crate::on_behalf::{OnBehalf, Product, decoded};
use crate::pages::issue_row::IssueRow;
use crate::pages::{Chrome, html};
use crate::query::single_param;
use crate::rate_limits::Target;
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
    issues: Vec<IssueRow<'a>>,
    /// Set when this is not the first page.
    first_href: Option<String>,
    next_href: Option<String>,
}

impl<'a> IssuesPage<'a> {
    /// The page for `found`, the search answer for `site`; `page` is the token it was asked with
    /// (none on the first page).
    pub fn new(urls: &'a Urls, chrome: Chrome, site: Site, found: SearchPage<'a>, page: Option<&PageToken>) -> Self {
        let next_href = found
            .next_page_token
            .as_deref()
            .and_then(PageToken::parse)
            .map(|next| urls.issues_page(&site.id, next.as_str()));
        IssuesPage {
            urls,
            chrome,
            issues: {
                let base = urls.issue_base(&site.id);
                found.issues.into_iter().map(|i| IssueRow::new(i, &base)).collect()
            },
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
    let answer = match result {
        Err(AppError::NotFound) => {
            user.recheck_sites()?;
            return Err(AppError::NotFound);
        }
        other => other?,
    };
    let found = decoded(answer.page())?;
    let chrome = Chrome::for_user(&user, Some(cloud_id.as_str()));
    html(IssuesPage::new(&urls, chrome, site, found, page.as_ref()))
}
