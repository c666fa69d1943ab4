//! `GET /`: the landing page when signed out; signed in, the dashboard: the user's open issues
//! across every Jira site at once, fetched concurrently, a failing site shown as a notice.

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use futures_util::future::join_all;

use crate::atlassian::Site;
use crate::error::AppError;
use crate::on_behalf::{OnBehalf, Product, decoded};
use crate::pages::issue_row::IssueRow;
use crate::pages::{Chrome, html};
use crate::rate_limits::Target;
use crate::session::MaybeSignedIn;
use crate::urls::Urls;

/// Issues per site on the dashboard; the site's own list pages through the rest.
const PER_SITE: u32 = 10;

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    urls: &'a Urls,
}

/// One site's part of the dashboard.
struct SiteIssues<'a> {
    site: Site,
    issues: Vec<IssueRow<'a>>,
    /// Shown instead of the issues when the site failed.
    notice: Option<String>,
    more: bool,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    /// Sites the grant covers, with or without Jira.
    site_count: usize,
    jira_sites: Vec<SiteIssues<'a>>,
}

#[get("/")]
pub async fn home(req: HttpRequest, visitor: MaybeSignedIn, urls: web::Data<Urls>) -> Result<HttpResponse, AppError> {
    match visitor.0 {
        None => html(Landing { urls: &urls }),
        Some(signed_in) => dashboard(OnBehalf::new(signed_in, &req)?, &urls).await,
    }
}

async fn dashboard(user: OnBehalf, urls: &Urls) -> Result<HttpResponse, AppError> {
    let sites = user.sites().await?;
    let site_count = sites.len();
    let jira: Vec<Site> = sites.into_iter().filter(Site::has_jira).collect();
    let fetches = jira.iter().map(|site| {
        let cloud_id = site.id.as_str();
        let target = Target { product: Product::Jira, site: cloud_id };
        user.call(target, move |api, token| async move { api.my_open_issues(&token, cloud_id, None, PER_SITE).await })
    });
    // The answers stay here while the page, which borrows their text, is rendered.
    let mut answers = Vec::with_capacity(jira.len());
    for result in join_all(fetches).await {
        match result {
            // The whole session is over: no point showing the other sites.
            Err(err @ AppError::GrantEnded(_)) => return Err(err),
            other => answers.push(other),
        }
    }
    let mut jira_sites = Vec::new();
    for (site, answer) in jira.into_iter().zip(&answers) {
        let found = match answer {
            Ok(answer) => decoded(answer.page()).map_err(|err| site_notice(&err)),
            Err(err) => Err(site_notice(err)),
        };
        let section = match found {
            Ok(page) => SiteIssues {
                more: page.next_page_token.is_some(),
                issues: {
                    let base = urls.issue_base(&site.id);
                    page.issues.into_iter().map(|i| IssueRow::new(i, &base)).collect()
                },
                notice: None,
                site,
            },
            Err(notice) => SiteIssues { notice: Some(notice), issues: Vec::new(), more: false, site },
        };
        jira_sites.push(section);
    }
    html(Dashboard { urls, chrome: Chrome::for_user(&user, None), site_count, jira_sites })
}

/// A one-line explanation of why a site's issues are missing.
fn site_notice(err: &AppError) -> String {
    match err {
        AppError::RateLimited(secs) => format!("Atlassian asked us to slow down; try again in {secs} s."),
        AppError::Forbidden => "Your Atlassian account cannot see issues on this site.".to_owned(),
        AppError::ScopeMissing(scope) => format!("threelo was not granted {scope} for this site."),
        AppError::NotFound => "This site is no longer available to threelo.".to_owned(),
        _ => "Atlassian did not answer for this site just now; try again in a moment.".to_owned(),
    }
}
