//! Confluence pages: a site's spaces, each with its first pages, and one page with its body
//! sanitised (storage format is XHTML from Atlassian: untrusted).

use actix_web::{HttpResponse, get, web};
use askama::Template;
use futures_util::future::join_all;

use crate::atlassian::{Site, Space, SpacePage};
use crate::error::AppError;
use crate::ids::PageId;
use crate::on_behalf::{OnBehalf, Product};
use crate::pages::{Chrome, html};
use crate::rate_limits::Target;
use crate::render::sanitize_storage;
use crate::urls::Urls;

/// Spaces listed, and pages listed per space.
const SPACES: u32 = 50;
const PAGES_PER_SPACE: u32 = 25;

/// One space with its pages (or why they are missing).
struct SpaceSection {
    space: Space,
    pages: Vec<SpacePage>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "spaces.html")]
struct SpacesPage<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    spaces: Vec<SpaceSection>,
}

#[get("/sites/{cloud_id}/confluence/spaces")]
pub async fn spaces(path: web::Path<String>, user: OnBehalf, urls: web::Data<Urls>) -> Result<HttpResponse, AppError> {
    let (cloud_id, site) = user.site(&path, Product::Confluence).await?;
    let id = cloud_id.as_str();
    let target = Target { product: Product::Confluence, site: id };
    let spaces = user.call(target, |api, token| async move { api.spaces(&token, id, SPACES).await }).await?;
    // Each space's pages, fetched concurrently; a space that fails shows a notice.
    let fetches = spaces.iter().map(|space| {
        let space_id = space.id.as_str();
        user.call(
            target,
            move |api, token| async move { api.pages_in_space(&token, id, space_id, PAGES_PER_SPACE).await },
        )
    });
    let results = join_all(fetches).await;
    let mut sections = Vec::new();
    for (space, result) in spaces.into_iter().zip(results) {
        sections.push(match result {
            Ok(pages) => SpaceSection { space, pages, notice: None },
            Err(err @ (AppError::GrantEnded(_) | AppError::ScopeMissing(_))) => return Err(err),
            Err(_) => SpaceSection {
                space,
                pages: Vec::new(),
                notice: Some("The pages of this space could not be loaded just now."),
            },
        });
    }
    html(SpacesPage { urls: &urls, chrome: Chrome::for_user(&user, Some(cloud_id.as_str())), site, spaces: sections })
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageView<'a> {
    urls: &'a Urls,
    chrome: Chrome,
    site: Site,
    title: String,
    version: Option<u64>,
    /// Sanitised by ammonia's allow-list: safe to insert as HTML.
    body_html: String,
}

#[get("/sites/{cloud_id}/confluence/pages/{id}")]
pub async fn page(
    path: web::Path<(String, String)>,
    user: OnBehalf,
    urls: web::Data<Urls>,
) -> Result<HttpResponse, AppError> {
    let (raw_cloud_id, raw_id) = path.into_inner();
    let (cloud_id, site) = user.site(&raw_cloud_id, Product::Confluence).await?;
    let page_id = PageId::parse(&raw_id).ok_or(AppError::NotFound)?;
    let (id, page_text) = (cloud_id.as_str(), page_id.as_str());
    let target = Target { product: Product::Confluence, site: id };
    let found = user.call(target, |api, token| async move { api.page(&token, id, page_text).await }).await?;
    html(PageView {
        urls: &urls,
        chrome: Chrome::for_user(&user, Some(cloud_id.as_str())),
        site,
        body_html: sanitize_storage(found.storage()),
        version: found.version.as_ref().map(|v| v.number),
        title: found.title,
    })
}
