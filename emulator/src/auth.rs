//! `GET /authorize` (validation and the consent screen) and `POST /authorize/decision`
//! (the screen's Accept / Cancel buttons).

use std::sync::Mutex;

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use url::Url;

use super::ConsentMode;
use super::http::Params;
use super::scopes;
use super::seed::{self, SeedUser};
use super::state::{State, lock};

/// The parameters of a valid authorization request.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: String,
    scopes: Vec<String>,
    /// Echoed into the consent form so the decision can be re-validated.
    scope_param: String,
    prompt: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    state: &'a str,
    scope: &'a str,
    prompt: &'a str,
    permissions: Vec<(&'a str, &'static str)>,
    users: Vec<UserChoice>,
}

struct UserChoice {
    login: &'static str,
    name: &'static str,
    email: &'static str,
    sites: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// A 400 error page. Like Atlassian, a bad client or callback never redirects.
fn error_page(title: &str, message: &str) -> HttpResponse {
    let html = ErrorPage { title, message }.render().unwrap_or_else(|_| "<h1>Something went wrong</h1>".to_owned());
    HttpResponse::BadRequest()
        .insert_header((CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// Why a request was refused: the title and message of the error page.
struct Rejection(&'static str, String);

fn reject(title: &'static str, message: &str) -> Rejection {
    Rejection(title, message.to_owned())
}

impl Rejection {
    fn page(&self) -> HttpResponse {
        error_page(self.0, &self.1)
    }
}

/// Every check `/authorize` makes, in Atlassian's order: the client and the callback
/// first, because until both are trusted there is nowhere safe to send an error.
fn validate(params: &Params, st: &State) -> Result<AuthRequest, Rejection> {
    // One value per parameter: a second `redirect_uri` would make matching ambiguous.
    let single = |name: &str| match params.all(name).count() {
        0 | 1 => Ok(params.get(name).unwrap_or_default().to_owned()),
        _ => Err(reject("Invalid request", &format!("The parameter {name} appears more than once."))),
    };
    let client_id = single("client_id")?;
    if client_id.is_empty() || client_id != st.config.client_id {
        return Err(reject(
            "We couldn't identify the app",
            "Invalid client_id: no app is registered with this client id.",
        ));
    }
    let redirect_uri = single("redirect_uri")?;
    if !st.config.redirect_uris.iter().any(|r| r.as_bytes() == redirect_uri.as_bytes()) {
        return Err(reject(
            "Invalid redirect_uri",
            "The redirect_uri does not match any callback URL registered for this app (matched exactly, including scheme, port, path and trailing slash).",
        ));
    }
    if Url::parse(&redirect_uri).is_err() {
        return Err(reject("Invalid redirect_uri", "The registered callback URL is not an absolute URL."));
    }
    if single("audience")? != "api.atlassian.com" {
        return Err(reject("Invalid audience", "The audience parameter must be api.atlassian.com."));
    }
    let response_type = single("response_type")?;
    if response_type != "code" {
        return Err(reject("Unsupported response_type", "Only response_type=code is supported."));
    }
    let state = single("state")?;
    if state.is_empty() {
        return Err(reject("Missing state", "The state parameter is required."));
    }
    let scope_param = single("scope")?;
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope_param.split_whitespace() {
        if !scopes::is_known(scope) {
            return Err(reject("Invalid scope", &format!("The scope {scope} is not a valid scope.")));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(reject("Invalid scope", "At least one scope must be requested."));
    }
    let prompt = params.get("prompt").map(str::to_owned);
    Ok(AuthRequest { client_id, redirect_uri, state, scopes, scope_param, prompt })
}

/// `redirect_uri` plus `pairs`, encoding spaces as `%20` like Atlassian (the form
/// serializer writes `+`; a literal plus is already `%2B`, so every `+` left is a space).
fn redirect(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page("Invalid redirect_uri", "The registered callback URL is not an absolute URL.");
    };
    let extra = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().replace('+', "%20");
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{extra}"),
        _ => extra,
    };
    url.set_query(Some(&query));
    HttpResponse::Found().insert_header((LOCATION, url.as_str())).insert_header((CACHE_CONTROL, "no-store")).finish()
}

fn accept(st: &mut State, request: &AuthRequest, user: &SeedUser) -> HttpResponse {
    let code = st.issue_code(user.login, &request.redirect_uri, &request.scopes);
    redirect(&request.redirect_uri, &[("code", &code), ("state", &request.state)])
}

fn cancel(request: &AuthRequest) -> HttpResponse {
    let pairs = [
        ("error", "access_denied"),
        ("error_description", "User did not authorize the request"),
        ("state", request.state.as_str()),
    ];
    redirect(&request.redirect_uri, &pairs)
}

/// `GET /authorize`.
pub(crate) async fn authorize(req: HttpRequest, state: web::Data<Mutex<State>>) -> HttpResponse {
    let params = Params::query(&req);
    let mut st = lock(&state);
    let request = match validate(&params, &st) {
        Ok(request) => request,
        Err(rejection) => return rejection.page(),
    };
    match st.config.consent.clone() {
        ConsentMode::Accept { login } => match seed::user(&login) {
            Some(user) => accept(&mut st, &request, user),
            None => error_page("Unknown user", "The emulator's consent mode names a user that does not exist."),
        },
        ConsentMode::Cancel => cancel(&request),
        ConsentMode::Manual => consent_page(&request),
    }
}

fn consent_page(request: &AuthRequest) -> HttpResponse {
    let users = seed::USERS
        .iter()
        .enumerate()
        .map(|(i, u)| UserChoice {
            login: u.login,
            name: u.name,
            email: u.email,
            sites: if u.sites.is_empty() {
                "no Atlassian sites".to_owned()
            } else {
                format!("sites: {}", u.sites.join(", "))
            },
            checked: i == 0,
        })
        .collect();
    let page = ConsentPage {
        client_id: &request.client_id,
        redirect_uri: &request.redirect_uri,
        state: &request.state,
        scope: &request.scope_param,
        prompt: request.prompt.as_deref().unwrap_or_default(),
        permissions: request.scopes.iter().map(|s| (s.as_str(), scopes::describe(s))).collect(),
        users,
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `POST /authorize/decision`: the consent form, re-validated from scratch because
/// the hidden fields came back through the browser.
pub(crate) async fn decision(body: web::Bytes, state: web::Data<Mutex<State>>) -> HttpResponse {
    let params = Params::parse(&body);
    let mut st = lock(&state);
    let request = match validate(&params, &st) {
        Ok(request) => request,
        Err(rejection) => return rejection.page(),
    };
    match params.get("decision") {
        Some("accept") => match params.get("login").and_then(seed::user) {
            Some(user) => accept(&mut st, &request, user),
            None => error_page("Unknown user", "Choose one of the listed accounts to continue."),
        },
        Some("cancel") => cancel(&request),
        _ => error_page("Invalid request", "The decision must be accept or cancel."),
    }
}
