//! `GET /search?q=<text>`: the user's Jira issues (JQL `text ~ "…"`) and Confluence pages (CQL,
//! v1 search, scope `search:confluence`) on every site, each site and product fetched
//! concurrently; a failing site is a notice, the others still show. The text reaches JQL and CQL
//! only through `SearchText` (one quoted, escaped string); an empty or over-long text gets a clear
//! message and no call at all.
//!
//! Paging is per site and product: a section with more results links to
//! `/search?q=…&site=<cloudId>&issues=<Jira's nextPageToken>` (or `&pages=<Confluence's cursor>`),
//! which shows that one list's next page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;
use futures_util::future::join_all;

use crate::atlassian::{PageHit, Site};
use crate::config::Settings;
use crate::error::AppError;
use crate::ids::{CloudId, PageId, PageToken};
use crate::on_behalf::{OnBehalf, Product, decoded};
use crate::pages::grant::{Access, Offer, access};
use crate::pages::issue_row::IssueRow;
use crate::pages::{Chrome, html_status};
use crate::query::single_param;
use crate::rate_limits::Target;
use crate::scopes::Feature;
use crate::search_text::{MAX_CHARS, SearchText, SearchTextError};
use crate::urls::Urls;

/// Issues and pages per site and page of results.
const PER_SITE: u32 = 10;
/// The longest paging token or cursor accepted back from a link.
const MAX_CURSOR: usize = 2048;

/// One Confluence hit as the page shows it.
struct PageRow {
    title: String,
    href: String,
    /// Plain text, highlight markers removed; escaped by the template.
    excerpt: String,
}

/// One site's results.
struct SiteResults<'a> {
    site: Site,
    issues: Vec<IssueRow<'a>>,
    issues_notice: Option<String>,
    more_issues: Option<String>,
    /// `None`: Confluence is not searched on this site.
    pages: Option<Vec<PageRow>>,
    pages_notice: Option<String>,
    more_pages: Option<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    /// Shown instead of results (nothing typed, too long).
    message: Option<String>,
    results: Vec<SiteResults<'a>>,
    /// Set when this is a later page of one site's list: back to the whole first page.
    first_href: Option<String>,
    /// One button to allow `search:confluence`, when the operator configured it after sign-in.
    offer: Option<Offer>,
}

/// Which part of the results this request asks for.
enum Part {
    /// Every site, both products, first page.
    All,
    /// One site's issues after `token`.
    Issues(CloudId, PageToken),
    /// One site's pages after `cursor`.
    Pages(CloudId, String),
}

fn part(query: &str) -> Result<Part, AppError> {
    let malformed = AppError::BadRequest("the search's paging parameters are malformed");
    let Some(site) = single_param(query, "site")? else { return Ok(Part::All) };
    let cloud_id = CloudId::parse(&site).ok_or(AppError::NotFound)?;
    match (single_param(query, "issues")?, single_param(query, "pages")?) {
        (Some(token), None) => Ok(Part::Issues(cloud_id, PageToken::parse(&token).ok_or(malformed)?)),
        (None, Some(cursor)) if !cursor.is_empty() && cursor.len() <= MAX_CURSOR => Ok(Part::Pages(cloud_id, cursor)),
        _ => Err(malformed),
    }
}

/// Confluence's excerpt without its `@@@hl@@@` highlight markers.
fn clean_excerpt(excerpt: &str) -> String {
    let text = excerpt.replace("@@@hl@@@", "").replace("@@@endhl@@@", "");
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 240 { format!("{}…", text.chars().take(240).collect::<String>()) } else { text }
}

fn page_rows(hits: &[PageHit], urls: &Urls, cloud_id: &str) -> Vec<PageRow> {
    hits.iter()
        .filter_map(|hit| {
            let content = hit.content.as_ref().filter(|c| c.kind == "page")?;
            let id = PageId::parse(&content.id)?;
            let title = if hit.title.is_empty() { "(untitled)".to_owned() } else { hit.title.clone() };
            Some(PageRow { title, href: urls.page(cloud_id, id.as_str()), excerpt: clean_excerpt(&hit.excerpt) })
        })
        .collect()
}

/// A one-line explanation of why a site's results are missing.
fn notice(err: &AppError, what: &str) -> String {
    match err {
        AppError::RateLimited(secs) => format!("Atlassian asked us to slow down; try again in {secs} s."),
        AppError::Forbidden => format!("Your Atlassian account cannot search {what} on this site."),
        AppError::ScopeMissing(scope) => format!("threelo was not granted {scope} for this site."),
        AppError::NotFound => "This site is no longer available to threelo.".to_owned(),
        _ => format!("Atlassian did not answer the search of {what} on this site just now; try again in a moment."),
    }
}

#[get("/search")]
pub async fn search(
    req: HttpRequest,
    user: OnBehalf,
    urls: web::Data<Urls>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let raw = single_param(req.query_string(), "q")?.unwrap_or_default();
    let mut chrome = Chrome::for_user(&user, None);
    chrome.query = raw.chars().take(MAX_CHARS * 2).collect();
    let confluence = access(&settings.scopes, &user.granted_scopes(), Feature::PageSearch);
    let offer = (confluence == Access::Offer).then(|| Offer {
        action: urls.consent(),
        return_to: urls.search_for(raw.trim()),
        csrf: chrome.csrf.clone(),
    });
    let page = |message: Option<String>, results, first_href, chrome| SearchPage {
        urls: &urls,
        chrome,
        message,
        results,
        first_href,
        offer: None,
    };
    let text = match SearchText::parse(&raw) {
        Ok(text) => text,
        Err(SearchTextError::Empty) => {
            let message = "Type a word or two to search your Jira issues and Confluence pages.".to_owned();
            return html_status(StatusCode::OK, page(Some(message), Vec::new(), None, chrome));
        }
        Err(SearchTextError::TooLong) => {
            let message = format!("That search is too long: use at most {MAX_CHARS} characters.");
            return html_status(StatusCode::BAD_REQUEST, page(Some(message), Vec::new(), None, chrome));
        }
    };
    chrome.query = text.as_str().to_owned();
    let part = part(req.query_string())?;
    let sites = user.sites().await?;
    let sites: Vec<Site> = match &part {
        Part::All => sites,
        Part::Issues(id, _) => sites.into_iter().filter(|s| s.id == id.as_str() && s.has_jira()).collect(),
        Part::Pages(id, _) => sites.into_iter().filter(|s| s.id == id.as_str() && s.has_confluence()).collect(),
    };
    if sites.is_empty() && !matches!(part, Part::All) {
        return Err(AppError::NotFound);
    }
    let (jql, cql) = (text.jql(), text.cql());
    let (jql, cql) = (jql.as_str(), cql.as_str());
    let wants_issues = !matches!(part, Part::Pages(..));
    let wants_pages = !matches!(part, Part::Issues(..)) && confluence == Access::Granted;
    let issue_token = match &part {
        Part::Issues(_, token) => Some(token.as_str()),
        _ => None,
    };
    let page_cursor = match &part {
        Part::Pages(_, cursor) => Some(cursor.as_str()),
        _ => None,
    };
    let fetches = sites.iter().map(|site| {
        let id = site.id.as_str();
        let user = &user;
        async move {
            let issues = async {
                if wants_issues && site.has_jira() {
                    Some(
                        user.call(Target { product: Product::Jira, site: id }, |api, token| async move {
                            api.search_issues(&token, id, jql, issue_token, PER_SITE).await
                        })
                        .await,
                    )
                } else {
                    None
                }
            };
            let pages = async {
                if wants_pages && site.has_confluence() {
                    Some(
                        user.call(Target { product: Product::Confluence, site: id }, |api, token| async move {
                            api.search_pages(&token, id, cql, page_cursor, PER_SITE).await
                        })
                        .await,
                    )
                } else {
                    None
                }
            };
            futures_util::future::join(issues, pages).await
        }
    });
    // Jira's answers stay here while the page, which borrows their text, is rendered.
    let mut issue_answers = Vec::with_capacity(sites.len());
    let mut page_answers = Vec::with_capacity(sites.len());
    for (issues, pages) in join_all(fetches).await {
        // The whole session is over: no point showing the other sites.
        let issues = match issues {
            Some(Err(err @ AppError::GrantEnded(_))) => return Err(err),
            other => other,
        };
        let pages = match pages {
            Some(Err(err @ AppError::GrantEnded(_))) => return Err(err),
            other => other,
        };
        issue_answers.push(issues);
        page_answers.push(pages);
    }
    chrome.note_quota(&user);
    let mut results = Vec::new();
    for ((site, issues), pages) in sites.into_iter().zip(&issue_answers).zip(page_answers) {
        let mut section = SiteResults {
            issues: Vec::new(),
            issues_notice: None,
            more_issues: None,
            pages: None,
            pages_notice: None,
            more_pages: None,
            site,
        };
        let id = section.site.id.clone();
        let found = issues.as_ref().map(|answer| match answer {
            Ok(answer) => decoded(answer.page()).map_err(|err| notice(&err, "issues")),
            Err(err) => Err(notice(err, "issues")),
        });
        match found {
            None => {}
            Some(Ok(found)) => {
                section.more_issues = found
                    .next_page_token
                    .as_deref()
                    .and_then(PageToken::parse)
                    .map(|next| urls.search_more(text.as_str(), &id, Some(next.as_str()), None));
                let base = urls.issue_base(&id);
                section.issues = found.issues.into_iter().map(|i| IssueRow::new(i, &base)).collect();
            }
            Some(Err(message)) => section.issues_notice = Some(message),
        }
        match pages {
            None => {}
            Some(Ok(found)) => {
                section.pages = Some(page_rows(&found.results, &urls, &id));
                section.more_pages = found
                    .next_cursor
                    .filter(|c| c.len() <= MAX_CURSOR)
                    .map(|next: String| urls.search_more(text.as_str(), &id, None, Some(next.as_str())));
            }
            Some(Err(err)) => {
                section.pages = Some(Vec::new());
                section.pages_notice = Some(notice(&err, "pages"));
            }
        }
        results.push(section);
    }
    let first_href = (!matches!(part, Part::All)).then(|| urls.search_for(text.as_str()));
    let mut found = page(None, results, first_href, chrome);
    found.offer = offer;
    html_status(StatusCode::OK, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_markers_are_dropped_and_long_excerpts_cut() {
        assert_eq!(clean_excerpt("a @@@hl@@@word@@@endhl@@@\n b"), "a word b");
        assert_eq!(clean_excerpt(&"x".repeat(300)).chars().count(), 241);
    }
}
