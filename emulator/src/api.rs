//! The API gateway's own endpoints (`/me`, accessible-resources) and the bearer-token
//! check every API call goes through.

use std::sync::Mutex;

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::http::ApiError;
use super::scopes::{self, Need, Product};
use super::seed::{self, SeedSite, SeedUser};
use super::state::{State, lock};

/// The user an API request acts for, with the scopes their grant holds.
pub(crate) struct Caller {
    pub(crate) user: &'static SeedUser,
    pub(crate) scopes: Vec<String>,
    /// The emulator's base URL, for `self` links.
    pub(crate) base_url: String,
}

impl Caller {
    /// 401 "scope does not match" unless the grant holds `scope`.
    pub(crate) fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) { Ok(()) } else { Err(ApiError::ScopeMismatch) }
    }

    /// 401 "scope does not match" unless the grant holds the endpoint's classic scope or its
    /// whole granular set.
    pub(crate) fn require_either(&self, need: &Need) -> Result<(), ApiError> {
        if need.met_by(&self.scopes) { Ok(()) } else { Err(ApiError::ScopeMismatch) }
    }

    /// The site behind `cloud_id` if this user has it and it runs `product`.
    /// Anything else is indistinguishable from a site that does not exist.
    pub(crate) fn site(&self, cloud_id: &str, product: Product) -> Option<&'static SeedSite> {
        let site = seed::site_by_cloud_id(cloud_id)?;
        let runs = match product {
            Product::Jira => site.has_jira,
            Product::Confluence => site.has_confluence,
            Product::Account => true,
        };
        (runs && self.user.sites.contains(&site.name)).then_some(site)
    }
}

/// Checks `Authorization: Bearer …`; anything wrong with it is a bare 401.
pub(crate) fn authenticate(req: &HttpRequest, state: &Mutex<State>) -> Result<Caller, ApiError> {
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = header
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    let state = lock(state);
    let bearer = state.bearer(token).ok_or(ApiError::Unauthorized)?;
    let user = seed::user(&bearer.login).ok_or(ApiError::Unauthorized)?;
    Ok(Caller { user, scopes: bearer.scopes, base_url: state.base_url.clone() })
}

/// `GET /me`: the user's Atlassian account profile (scope `read:me`).
pub(crate) async fn me(req: HttpRequest, state: web::Data<Mutex<State>>) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state)?;
    caller.require("read:me")?;
    let u = caller.user;
    Ok(HttpResponse::Ok().json(json!({
        "account_id": u.account_id,
        "account_type": "atlassian",
        "email": u.email,
        "email_verified": true,
        "name": u.name,
        "picture": seed::avatar_url(u),
        "account_status": "active",
        "nickname": u.login,
        "zoneinfo": u.timezone,
        "locale": "en-US",
        "extended_profile": {
            "job_title": u.job_title,
            "organization": u.organization,
            "department": u.department,
            "location": u.location,
        },
    })))
}

/// `GET /oauth/token/accessible-resources`: the sites this grant reaches, each with the
/// granted scopes of the products it runs. Sites with no such scope are left out, as a
/// grant is given per product.
pub(crate) async fn accessible_resources(
    req: HttpRequest,
    state: web::Data<Mutex<State>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state)?;
    let per_product = lock(&state).config.resources_per_product;
    // One entry per site, or (per_product) one per product the site runs.
    let products: &[&[Product]] = if per_product {
        &[&[Product::Jira], &[Product::Confluence]]
    } else {
        &[&[Product::Jira, Product::Confluence]]
    };
    let resources: Vec<_> = seed::SITES
        .iter()
        .filter(|site| caller.user.sites.contains(&site.name))
        .flat_map(|site| products.iter().map(move |wanted| (site, *wanted)))
        .filter_map(|(site, wanted)| {
            let applies = |scope: &&String| match scopes::product(scope) {
                Product::Jira => site.has_jira && wanted.contains(&Product::Jira),
                Product::Confluence => site.has_confluence && wanted.contains(&Product::Confluence),
                Product::Account => false,
            };
            let granted: Vec<&String> = caller.scopes.iter().filter(applies).collect();
            (!granted.is_empty()).then(|| {
                json!({
                    "id": site.cloud_id,
                    "url": site.url,
                    "name": site.name,
                    "scopes": granted,
                    "avatarUrl": site.avatar_url,
                })
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(resources))
}

/// Anything the gateway has no route for.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute)
}
