//! Fast mode ([`EmulatorConfig::fast`](super::EmulatorConfig::fast)), for benchmarks: an upstream
//! fast enough that it is not what a load test of threelo measures.
//!
//! Every API answer of the emulator depends only on the seed data, the caller's user and scopes,
//! and the URL. So the first successful answer for a (user, scopes, path, query) is kept, and
//! later requests get those bytes back. The bearer token is still checked on every request (an
//! expired or revoked token is a 401 as always). `/authorize` and `/oauth/token` are not API
//! answers: they go through the normal middleware and are logged, so refreshes can be counted.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};

use super::api::authenticate;
use super::observe::observe;
use super::round_trip::is_auth_server;
use super::state::State;

/// At most this many distinct answers are kept; later ones are computed each time.
const MAX_ANSWERS: usize = 4096;

/// One kept answer: its headers (content type, Link, …) and body.
struct Answer {
    headers: HeaderMap,
    body: Bytes,
}

/// The kept answers, shared by the emulator's workers.
#[derive(Default)]
pub(crate) struct Answers(RwLock<HashMap<String, Answer>>);

impl Answers {
    fn get(&self, key: &str) -> Option<HttpResponse> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let answer = map.get(key)?;
        let mut response = HttpResponse::Ok();
        for (name, value) in &answer.headers {
            response.append_header((name.clone(), value.clone()));
        }
        Some(response.body(answer.body.clone()))
    }

    fn keep(&self, key: String, headers: HeaderMap, body: Bytes) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() < MAX_ANSWERS {
            map.insert(key, Answer { headers, body });
        }
    }
}

/// The emulator's middleware: `observe` for everything, except API GETs in fast mode (when
/// [`Answers`] are registered), which are answered from memory once computed.
pub(crate) async fn observe_or_serve_fast(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<Mutex<State>>>().cloned();
    let answers = req.app_data::<web::Data<Answers>>().cloned();
    let (Some(state), Some(answers)) = (state, answers) else {
        return observe(req, next).await;
    };
    if req.method() != actix_web::http::Method::GET || is_auth_server(req.path()) {
        return observe(req, next).await;
    }
    // The same check every API endpoint starts with; its answer does not depend on the URL.
    let caller = match authenticate(req.request(), &state) {
        Ok(caller) => caller,
        Err(err) => return Ok(req.error_response(err)),
    };
    let key = format!("{}|{}|{}?{}", caller.user.login, caller.scopes.join(" "), req.path(), req.query_string());
    if let Some(response) = answers.get(&key) {
        return Ok(req.into_response(response));
    }
    let res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let body = to_bytes(body).await.map_err(|_| actix_web::error::ErrorInternalServerError("unreadable answer"))?;
    answers.keep(key, head.headers().clone(), body.clone());
    Ok(ServiceResponse::new(req, head.set_body(body).map_into_boxed_body()))
}

#[cfg(test)]
mod tests {
    use super::super::{ConsentMode, Emulator, EmulatorConfig};
    use reqwest::StatusCode;

    const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";

    async fn start(fast: bool) -> Emulator {
        let mut config = EmulatorConfig::new("client", "secret", CALLBACK);
        config.consent = ConsentMode::Accept { login: "alice".to_owned() };
        config.fast = fast;
        Emulator::start(config, "127.0.0.1:0").await.unwrap()
    }

    /// An access and a refresh token for alice, through `/authorize` and `/oauth/token`.
    async fn tokens(emulator: &Emulator, http: &reqwest::Client) -> (String, String) {
        let scopes = "read:me read:jira-work read:jira-user offline_access";
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/authorize", emulator.base_url()),
            &[
                ("audience", "api.atlassian.com"),
                ("client_id", "client"),
                ("scope", scopes),
                ("redirect_uri", CALLBACK),
                ("state", "s"),
                ("response_type", "code"),
            ],
        )
        .unwrap();
        let redirect = http.get(authorize).send().await.unwrap();
        let location = reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
        let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "client"),
            ("client_secret", "secret"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ];
        let body: serde_json::Value = http
            .post(format!("{}/oauth/token", emulator.base_url()))
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn fast_mode_answers_like_the_full_emulator_and_still_checks_tokens_and_counts_refreshes() {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let (full, fast) = (start(false).await, start(true).await);
        let path = "/ex/jira/1f6e2d4c-8a3b-4f5e-9c7d-2b1a0e9f8d7c/rest/api/3/search/jql?jql=assignee%20%3D%20currentUser()%20ORDER%20BY%20updated%20DESC&fields=summary,status&maxResults=50";
        let (full_token, _) = tokens(&full, &http).await;
        let (fast_token, refresh_token) = tokens(&fast, &http).await;
        let get = |emulator: &Emulator, token: &str| {
            http.get(format!("{}{path}", emulator.base_url())).bearer_auth(token.to_owned()).send()
        };
        let expected = get(&full, &full_token).await.unwrap().text().await.unwrap();
        let expected = expected.replace(&full.base_url(), &fast.base_url());
        for _ in 0..2 {
            let answer = get(&fast, &fast_token).await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            assert_eq!(answer.headers()["content-type"], "application/json");
            assert_eq!(answer.text().await.unwrap(), expected, "computed once, then served from memory");
        }
        assert_eq!(get(&fast, "not-a-token").await.unwrap().status(), StatusCode::UNAUTHORIZED);
        fast.expire_access_tokens();
        assert_eq!(
            get(&fast, &fast_token).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "kept answers need a live token"
        );

        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", "client"),
            ("client_secret", "secret"),
            ("refresh_token", &refresh_token),
        ];
        let refreshed = http.post(format!("{}/oauth/token", fast.base_url())).form(&form).send().await.unwrap();
        assert_eq!(refreshed.status(), StatusCode::OK);
        assert_eq!(fast.token_grants("refresh_token"), 1);
        assert_eq!(fast.count("/ex/"), 0, "API answers are not logged in fast mode");
        assert_eq!(fast.issued_secrets(), vec!["secret".to_owned()], "no secret list growing with every token");
    }
}
