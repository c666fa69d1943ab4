//! Every URL of the app, built in one place. Handlers, templates and redirects ask here, so a
//! route is spelled once (and a path prefix is never forgotten).
//!
//! Paths carry the public URL's prefix (`/atl/sites`); [`Urls::absolute`] adds the origin for
//! redirects. Ids are the checked newtypes' text or a `Site`'s cloudId, which are URL-safe;
//! anything else (a page token) is percent-encoded.

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::atlassian::Site;
use crate::config::PublicUrl;

/// Builds the app's URLs under the public URL (`Default`: at the root of an unknown origin).
#[derive(Clone, Debug, Default)]
pub struct Urls {
    origin: String,
    prefix: String,
}

impl Urls {
    pub fn new(public_url: &PublicUrl) -> Urls {
        Urls { origin: public_url.origin().to_owned(), prefix: public_url.prefix().to_owned() }
    }

    fn path(&self, route: &str) -> String {
        format!("{}{route}", self.prefix)
    }

    /// The absolute form of a path this type built (for `Location` headers).
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A 303 to `path` (built here), on the public URL: never a host taken from the request.
    pub fn see_other(&self, path: &str) -> HttpResponse {
        HttpResponse::SeeOther().insert_header((header::LOCATION, self.absolute(path))).finish()
    }

    /// The path prefix itself: `""` or like `/atl` (for the cookie path).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn home(&self) -> String {
        self.path("/")
    }

    /// `/auth/login`, optionally coming back to `return_to` (a path this type built).
    pub fn login(&self, return_to: Option<&str>) -> String {
        match return_to {
            None => self.path("/auth/login"),
            Some(here) => format!("{}?return_to={}", self.path("/auth/login"), encode(here)),
        }
    }

    pub fn logout(&self) -> String {
        self.path("/auth/logout")
    }

    pub fn sites(&self) -> String {
        self.path("/sites")
    }

    pub fn issues(&self, cloud_id: &str) -> String {
        self.path(&format!("/sites/{cloud_id}/jira/issues"))
    }

    /// The issue list from Jira's page token (percent-encoded here).
    pub fn issues_page(&self, cloud_id: &str, page_token: &str) -> String {
        format!("{}?page={}", self.issues(cloud_id), encode(page_token))
    }

    pub fn issue(&self, cloud_id: &str, key: &str) -> String {
        let mut url = self.issue_base(cloud_id);
        url.push_str(key);
        url
    }

    /// An issue's URL without its key (ends in `/`), for a list that links fifty of them.
    pub fn issue_base(&self, cloud_id: &str) -> String {
        self.path(&format!("/sites/{cloud_id}/jira/issues/"))
    }

    pub fn spaces(&self, cloud_id: &str) -> String {
        self.path(&format!("/sites/{cloud_id}/confluence/spaces"))
    }

    pub fn page(&self, cloud_id: &str, page_id: &str) -> String {
        self.path(&format!("/sites/{cloud_id}/confluence/pages/{page_id}"))
    }

    /// Where the site switcher takes you: the site's Jira issues, else its Confluence spaces,
    /// else the list of sites (a site the grant covers for neither product).
    pub fn site_home(&self, site: &Site) -> String {
        if site.has_jira() {
            self.issues(&site.id)
        } else if site.has_confluence() {
            self.spaces(&site.id)
        } else {
            self.sites()
        }
    }

    pub fn account(&self) -> String {
        self.path("/account")
    }

    pub fn end_session(&self) -> String {
        self.path("/account/sessions/end")
    }

    pub fn end_other_sessions(&self) -> String {
        self.path("/account/sessions/end-others")
    }

    /// The fingerprinted stylesheet.
    pub fn stylesheet(&self) -> String {
        self.path(&format!("/static/{}", crate::assets::stylesheet_name()))
    }

    /// `/search`, the search box's target.
    pub fn search(&self) -> String {
        self.path("/search")
    }

    /// A search for `text` (percent-encoded here).
    pub fn search_for(&self, text: &str) -> String {
        format!("{}?q={}", self.search(), encode(text))
    }

    /// More of one site's results of a search: its issues after Jira's page token `issues`, or
    /// its pages after Confluence's cursor `pages` (both percent-encoded here).
    pub fn search_more(&self, text: &str, cloud_id: &str, issues: Option<&str>, pages: Option<&str>) -> String {
        let mut url = format!("{}&site={}", self.search_for(text), encode(cloud_id));
        if let Some(token) = issues {
            url.push_str(&format!("&issues={}", encode(token)));
        }
        if let Some(cursor) = pages {
            url.push_str(&format!("&pages={}", encode(cursor)));
        }
        url
    }

    /// Where the issue page's comment form posts.
    pub fn issue_comments(&self, cloud_id: &str, key: &str) -> String {
        format!("{}/comments", self.issue(cloud_id, key))
    }

    /// Where the issue page's transition buttons post.
    pub fn issue_transitions(&self, cloud_id: &str, key: &str) -> String {
        format!("{}/transitions", self.issue(cloud_id, key))
    }

    /// Where "Assign to me" posts.
    pub fn issue_assignee(&self, cloud_id: &str, key: &str) -> String {
        format!("{}/assignee", self.issue(cloud_id, key))
    }

    /// The button that consents again for scopes added since sign-in.
    pub fn consent(&self) -> String {
        self.path("/auth/consent")
    }

    /// The icon every page names (also answered at `/favicon.ico`).
    pub fn favicon(&self) -> String {
        self.path("/static/favicon.svg")
    }

    /// `POST` here to ask for a new access key.
    pub fn account_keys(&self) -> String {
        self.path("/account/keys")
    }

    pub fn revoke_key(&self) -> String {
        self.path("/account/keys/revoke")
    }

    /// The proxy's URL for `rest` (already a valid `/api` path such as `me`).
    pub fn api(&self, rest: &str) -> String {
        self.path(&format!("/api/{rest}"))
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(scopes: &[&str]) -> Site {
        Site {
            id: "c1".to_owned(),
            url: "https://a.example".to_owned(),
            name: "a".to_owned(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            avatar_url: None,
        }
    }

    #[test]
    fn urls_carry_the_prefix_and_encode_what_they_take() {
        let urls = Urls::new(&PublicUrl::parse("https://t.example/atl/").unwrap());
        assert_eq!(urls.home(), "/atl/");
        assert_eq!(urls.issue("c1", "AB-1"), "/atl/sites/c1/jira/issues/AB-1");
        assert_eq!(urls.issues_page("c1", "a b&c"), "/atl/sites/c1/jira/issues?page=a+b%26c");
        assert_eq!(urls.login(Some("/atl/sites?x=1")), "/atl/auth/login?return_to=%2Fatl%2Fsites%3Fx%3D1");
        assert_eq!(urls.absolute(&urls.account()), "https://t.example/atl/account");
        assert_eq!(urls.search_for("a \"b\" & c"), "/atl/search?q=a+%22b%22+%26+c");
        assert_eq!(urls.search_more("x", "c1", Some("t=1"), None), "/atl/search?q=x&site=c1&issues=t%3D1");
        assert_eq!(urls.issue_comments("c1", "AB-1"), "/atl/sites/c1/jira/issues/AB-1/comments");
    }

    #[test]
    fn the_site_switcher_goes_where_the_grant_covers_the_site() {
        let urls = Urls::new(&PublicUrl::parse("http://localhost:8080").unwrap());
        assert_eq!(urls.site_home(&site(&["read:jira-work"])), "/sites/c1/jira/issues");
        assert_eq!(urls.site_home(&site(&["read:page:confluence"])), "/sites/c1/confluence/spaces");
        assert_eq!(urls.site_home(&site(&["read:me"])), "/sites");
    }
}
