//! Confluence Cloud REST v2 behind the gateway: `/ex/confluence/{cloudId}/wiki/api/v2/…`.
//! Spaces and pages with cursor paging (`_links.next` relative to the site, plus a `Link`
//! header) and page bodies in storage format.

use std::sync::Mutex;

use actix_web::http::header::LINK;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::api::{Caller, authenticate};
use super::http::{ApiError, Params, decode_cursor, encode_cursor};
use super::scopes::Product;
use super::seed::{ALICE_ID, SeedSite};
use super::seed_wiki::{PAGES, Page, SPACES, Space};
use super::state::State;

/// Token, then scope, then site (a site without Confluence looks like no site).
fn enter(req: &HttpRequest, state: &Mutex<State>, scope: &str) -> Result<(Caller, &'static SeedSite), ApiError> {
    let caller = authenticate(req, state)?;
    caller.require(scope)?;
    let cloud_id = req.match_info().get("cloud_id").unwrap_or_default();
    let site = caller.site(cloud_id, Product::Confluence).ok_or_else(ApiError::wiki_not_found)?;
    Ok((caller, site))
}

/// One page of a listing, ready to answer.
struct Listing {
    results: Vec<Value>,
    next: Option<String>,
}

impl Listing {
    /// `items[cursor..cursor+limit]`; `path` is the site-relative URL the next link repeats.
    fn build<T>(
        params: &Params,
        items: &[T],
        path: &str,
        bind: &str,
        show: impl Fn(&T) -> Value,
    ) -> Result<Self, ApiError> {
        let limit = match params.get("limit") {
            None => 25,
            Some(raw) => match raw.trim().parse::<i64>() {
                // Confluence caps large limits silently.
                Ok(n) if n >= 1 => usize::try_from(n.min(250)).unwrap_or(250),
                _ => {
                    return Err(ApiError::wiki_bad_request(format!("Invalid value for limit: {raw}")));
                }
            },
        };
        let offset = match params.get("cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(cursor) => decode_cursor(cursor, bind).ok_or_else(|| ApiError::wiki_bad_request("Invalid cursor"))?,
        };
        let results = items.iter().skip(offset).take(limit).map(show).collect();
        let end = offset.saturating_add(limit);
        let next = (end < items.len()).then(|| {
            let separator = if path.contains('?') { '&' } else { '?' };
            format!("{path}{separator}limit={limit}&cursor={}", encode_cursor(end, bind))
        });
        Ok(Self { results, next })
    }

    fn respond(self, site: &SeedSite) -> HttpResponse {
        let base = format!("{}/wiki", site.url);
        let mut links = json!({"base": base});
        let mut res = HttpResponse::Ok();
        if let (Some(next), Some(map)) = (&self.next, links.as_object_mut()) {
            map.insert("next".to_owned(), json!(next));
            res.insert_header((LINK, format!("<{next}>; rel=\"next\", <{base}>; rel=\"base\"")));
        }
        res.json(json!({"results": self.results, "_links": links}))
    }
}

fn space_json(space: &Space) -> Value {
    json!({
        "id": space.id, "key": space.key, "name": space.name, "type": "global", "status": "current",
        "homepageId": space.homepage_id, "authorId": ALICE_ID,
        "createdAt": "2026-09-01T08:00:00.000Z", "description": null, "icon": null,
        "_links": {"webui": format!("/spaces/{}", space.key)},
    })
}

fn spaces_on(site: &SeedSite) -> Vec<&'static Space> {
    SPACES.iter().filter(|s| s.site == site.name).collect()
}

/// `GET spaces?limit=&cursor=` (scope `read:space:confluence`).
pub(crate) async fn spaces(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, "read:space:confluence")?;
    let bind = format!("spaces|{}|{}", site.cloud_id, caller.user.login);
    let listing =
        Listing::build(&Params::query(&req), &spaces_on(site), "/wiki/api/v2/spaces", &bind, |s| space_json(s))?;
    Ok(listing.respond(site))
}

/// `GET spaces/{id}` (scope `read:space:confluence`).
pub(crate) async fn space(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (_, site) = enter(&req, &state, "read:space:confluence")?;
    let id = req.match_info().get("id").unwrap_or_default();
    let space = spaces_on(site).into_iter().find(|s| s.id == id).ok_or_else(ApiError::wiki_not_found)?;
    Ok(HttpResponse::Ok().json(space_json(space)))
}

fn webui(page: &Page) -> String {
    let key = SPACES.iter().find(|s| s.id == page.space_id).map_or("", |s| s.key);
    let slug: String = url::form_urlencoded::byte_serialize(page.title.as_bytes()).collect();
    format!("/spaces/{key}/pages/{}/{slug}", page.id)
}

/// A page as v2 lists it, with its body when `body-format=storage` was asked for.
fn page_json(page: &Page, with_body: bool) -> Value {
    let body =
        if with_body { json!({"storage": {"value": page.body, "representation": "storage"}}) } else { json!({}) };
    json!({
        "id": page.id, "status": "current", "title": page.title, "spaceId": page.space_id,
        "parentId": page.parent_id, "parentType": page.parent_id.map(|_| "page"),
        "authorId": page.author, "ownerId": page.author, "createdAt": page.created_at,
        "version": {"number": page.version, "createdAt": page.created_at, "message": "", "minorEdit": false, "authorId": page.author},
        "body": body,
        "_links": {"webui": webui(page), "editui": format!("/pages/resumedraft.action?draftId={}", page.id), "tinyui": format!("/x/{}", page.id)},
    })
}

/// Whether to include bodies: only storage is emulated; other real formats are refused
/// loudly rather than answered with an empty body the app might mistake for content.
fn wants_body(params: &Params) -> Result<bool, ApiError> {
    match params.get("body-format") {
        None => Ok(false),
        Some("storage") => Ok(true),
        Some(other) => Err(ApiError::wiki_bad_request(format!(
            "body-format '{other}' is not supported by the emulator; use storage"
        ))),
    }
}

fn list_pages(
    req: &HttpRequest,
    site: &SeedSite,
    space_ids: &[String],
    path: &str,
    login: &str,
) -> Result<HttpResponse, ApiError> {
    let params = Params::query(req);
    let with_body = wants_body(&params)?;
    let spaces = spaces_on(site);
    let pages: Vec<&Page> = PAGES
        .iter()
        .filter(|p| spaces.iter().any(|s| s.id == p.space_id))
        .filter(|p| space_ids.is_empty() || space_ids.iter().any(|id| *id == p.space_id))
        .collect();
    let bind = format!("pages|{}|{login}|{}", site.cloud_id, space_ids.join(","));
    let listing = Listing::build(&params, &pages, path, &bind, |p| page_json(p, with_body))?;
    Ok(listing.respond(site))
}

/// `GET pages?space-id=…&limit=&cursor=` (scope `read:page:confluence`).
pub(crate) async fn pages(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, "read:page:confluence")?;
    let params = Params::query(&req);
    let mut space_ids: Vec<String> = Vec::new();
    for id in params.all("space-id").flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()) {
        if id.parse::<u64>().is_err() {
            return Err(ApiError::wiki_bad_request(format!("Invalid value for space-id: {id}")));
        }
        space_ids.push(id.to_owned());
    }
    let path = if space_ids.is_empty() {
        "/wiki/api/v2/pages".to_owned()
    } else {
        format!("/wiki/api/v2/pages?space-id={}", space_ids.join(","))
    };
    list_pages(&req, site, &space_ids, &path, caller.user.login)
}

/// `GET spaces/{id}/pages` (scope `read:page:confluence`).
pub(crate) async fn space_pages(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (caller, site) = enter(&req, &state, "read:page:confluence")?;
    let id = req.match_info().get("id").unwrap_or_default();
    let space = spaces_on(site).into_iter().find(|s| s.id == id).ok_or_else(ApiError::wiki_not_found)?;
    let path = format!("/wiki/api/v2/spaces/{}/pages", space.id);
    list_pages(&req, site, &[space.id.to_owned()], &path, caller.user.login)
}

/// `GET pages/{id}?body-format=storage` (scope `read:page:confluence`).
pub(crate) async fn page(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let (_, site) = enter(&req, &state, "read:page:confluence")?;
    let id = req.match_info().get("id").unwrap_or_default();
    if id.parse::<u64>().is_err() {
        return Err(ApiError::wiki_bad_request(format!("Invalid value for id: {id}")));
    }
    let with_body = wants_body(&Params::query(&req))?;
    let spaces = spaces_on(site);
    let page = PAGES
        .iter()
        .find(|p| p.id == id && spaces.iter().any(|s| s.id == p.space_id))
        .ok_or_else(ApiError::wiki_not_found)?;
    Ok(HttpResponse::Ok().json(page_json(page, with_body)))
}
