//! Test support: the real app on port 0, the emulator on port 0, a private Redis, and an HTTP
//! client that keeps cookies and never follows redirects (each hop is checked by hand).

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod browser;
pub mod nginx;
pub mod redis;
pub mod scenarios;
pub mod topology;

use std::net::TcpListener;
use std::sync::Arc;

use reqwest::cookie::{CookieStore, Jar};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use threelo::config::{Mode, RawConfig, Settings, random_b64};
use threelo::startup::{Application, Storage};
use threelo_emulator::seed::ids::{ALICE, ALICE_NAME};
use threelo_emulator::{ConsentMode, Emulator, EmulatorConfig};

#[allow(unused_imports)] // not every test binary needs both
pub use self::redis::{RedisServer, free_port};

pub const CLIENT_ID: &str = "threelo-test-client";
pub const CLIENT_SECRET: &str = "test-client-secret-8c1f2d9a";

/// Settings as an operator would write them, as environment variables.
pub fn env_for(public_url: &str, emulator: &Emulator, redis: Option<&RedisServer>) -> Vec<(String, String)> {
    let mut env = vec![
        ("THREELO_LISTEN", "127.0.0.1:0".to_owned()),
        ("THREELO_PUBLIC_URL", public_url.to_owned()),
        ("THREELO_CLIENT_ID", CLIENT_ID.to_owned()),
        ("THREELO_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("THREELO_SESSION_SECRET", random_b64(64)),
        ("THREELO_TOKEN_KEYS", format!("k1:{}", random_b64(32))),
        ("THREELO_AUTH_URL", emulator.base_url()),
        ("THREELO_API_URL", emulator.base_url()),
        ("THREELO_LOG_FORMAT", "json".to_owned()),
        ("THREELO_UPSTREAM_TIMEOUT", "2s".to_owned()),
    ];
    if let Some(redis) = redis {
        env.push(("THREELO_REDIS_URL", redis.url()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Typed settings from such variables (plus `extra`, which wins).
pub fn settings_from(env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Settings {
    let mut env = env;
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_raw(Mode::Serve, RawConfig::load(None, env)).expect("test settings are valid")
}

/// The emulator with the test client registered, answering consent at once as `alice`.
pub async fn start_emulator() -> Emulator {
    let mut config = EmulatorConfig::new(CLIENT_ID, CLIENT_SECRET, "http://unused.invalid/auth/callback");
    config.consent = ConsentMode::Accept { login: ALICE.to_owned() };
    Emulator::start(config, "127.0.0.1:0").await.expect("emulator starts")
}

/// One running app with its own emulator and Redis.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub emulator: Emulator,
    pub redis: RedisServer,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    /// The settings the app was started with, as environment variables (siblings share them).
    pub env: Vec<(String, String)>,
}

/// A client like a browser's: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    browser_with_jar().0
}

/// A browser-like client and its cookie jar.
pub fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    browser_at(None)
}

/// A browser-like client whose connections come from `source` (e.g. 127.0.0.5), so that it is
/// told apart from a proxy on 127.0.0.1.
pub fn browser_at(source: Option<std::net::IpAddr>) -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source)
        .build()
        .expect("test client");
    (client, jar)
}

impl TestApp {
    /// Spawns the app with the default test settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(&[]).await
    }

    /// Spawns the app with extra `THREELO_*` settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        let redis = RedisServer::start();
        let emulator = start_emulator().await;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("local addr").port();
        let address = format!("http://127.0.0.1:{port}");
        let mut env = env_for(&address, &emulator, Some(&redis));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        launch(listener, &env, &emulator).await;
        let (client, jar) = browser_with_jar();
        TestApp { address, port, emulator, redis, client, jar, env }
    }

    /// Spawns the app behind a real nginx that serves it under `prefix` (e.g. `/atl`), with
    /// nginx's address (127.0.0.1) as the one trusted proxy. `address` is nginx's origin; the
    /// app's own address is returned for tests that go around the proxy.
    pub async fn spawn_behind_nginx(prefix: &str, extra: &[(&str, &str)]) -> (TestApp, nginx::Nginx, String) {
        let redis = RedisServer::start();
        let emulator = start_emulator().await;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let direct = listener.local_addr().expect("local addr");
        let proxy = nginx::Nginx::start(prefix, &direct.to_string());
        let address = proxy.origin();
        let mut env = env_for(&format!("{address}{prefix}"), &emulator, Some(&redis));
        env.push(("THREELO_TRUSTED_PROXIES".to_owned(), "127.0.0.1/32".to_owned()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        launch(listener, &env, &emulator).await;
        let (client, jar) = browser_with_jar();
        let app = TestApp { address, port: proxy.port(), emulator, redis, client, jar, env };
        (app, proxy, format!("http://{direct}"))
    }

    /// Starts another instance on the same emulator and Redis with the same settings but for
    /// `extra`, as an operator would scale out or restart with a new setting; returns its address.
    pub async fn spawn_sibling(&self, extra: &[(&str, &str)]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let address = format!("http://127.0.0.1:{}", listener.local_addr().expect("local addr").port());
        let mut env = self.env.clone();
        env.push(("THREELO_PUBLIC_URL".to_owned(), address.clone()));
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        launch(listener, &env, &self.emulator).await;
        address
    }

    /// An absolute URL of ours.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The cookies the client would send to us, as one `Cookie` header value.
    pub fn cookies(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.url("/")).expect("our URL");
        self.jar.cookies(&url).and_then(|v| v.to_str().ok().map(str::to_owned))
    }

    /// The body of `GET path`.
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("a body")
    }

    /// Whether this app's client is signed in (the start page greets it).
    pub async fn is_signed_in(&self) -> bool {
        signed_in_at(&self.client, &self.url("/")).await
    }

    /// The CSRF token of the forms on the start page.
    pub async fn csrf(&self) -> String {
        csrf_of(&self.page("/").await)
    }

    /// POSTs a form with this app's client.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client.post(self.url(path)).form(fields).send().await.expect("POST")
    }

    /// The first stored key starting with `prefix`, and its value.
    pub fn stored(&self, prefix: &str) -> Option<(String, String)> {
        self.redis.dump().into_iter().find(|(k, _)| k.starts_with(prefix))
    }

    /// How many stored keys start with `prefix`.
    pub fn stored_count(&self, prefix: &str) -> usize {
        self.redis.dump().iter().filter(|(k, _)| k.starts_with(prefix)).count()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Signs `login` in with this app's client through the emulator, returning the final
    /// response of the callback (a redirect on success).
    pub async fn sign_in_as(&self, login: &str) -> reqwest::Response {
        self.emulator.set_consent(ConsentMode::Accept { login: login.to_owned() });
        sign_in(&self.client, &self.url("/auth/login")).await
    }

    /// Signs alice in and checks that it worked.
    pub async fn sign_in(&self) {
        let response = self.sign_in_as(ALICE).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in should end in a redirect");
        let page = self.get("/").await.text().await.expect("body");
        assert!(page.contains(&format!("Signed in as {ALICE_NAME}")), "{page}");
    }
}

/// Builds the app from `env` on `listener` and runs it in the background.
pub async fn launch(listener: TcpListener, env: &[(String, String)], emulator: &Emulator) {
    let settings = settings_from(env.to_vec(), &[]);
    emulator.add_redirect_uri(&settings.public_url.callback_url());
    let storage = Storage::Redis(settings.redis_url_or_default());
    let app = Application::build_on(listener, settings, storage).await.expect("app builds");
    tokio::spawn(app.run());
}

/// Walks login -> authorize -> callback with `client`, starting at `login_url`; returns the
/// callback's response.
pub async fn sign_in(client: &reqwest::Client, login_url: &str) -> reqwest::Response {
    let login = client.get(login_url).send().await.expect("login");
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "login should redirect to Atlassian");
    let authorize = client.get(location(login.headers())).send().await.expect("authorize");
    assert_eq!(authorize.status(), StatusCode::FOUND, "the emulator should redirect back at once");
    client.get(location(authorize.headers())).send().await.expect("callback")
}

/// Whether `client` is signed in at the start page `url`.
pub async fn signed_in_at(client: &reqwest::Client, url: &str) -> bool {
    let page = client.get(url).send().await.expect("GET").text().await.expect("a body");
    page.contains("Signed in as")
}

/// The CSRF token of the first form in a page.
pub fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[start..].split('"').next().expect("a closing quote").to_owned()
}

/// The value of hidden field `name` in the first form of `page` that posts to `action`.
pub fn form_field(page: &str, action: &str, name: &str) -> String {
    let form = page.split("<form").find(|f| f.contains(&format!("action=\"{action}\""))).unwrap_or_else(|| {
        panic!("no form posting to {action} in the page:\n{page}");
    });
    let form = form.split("</form>").next().expect("the form");
    let marker = format!("name=\"{name}\" value=\"");
    let start = form.find(&marker).unwrap_or_else(|| panic!("no {name} in the form to {action}")) + marker.len();
    form[start..].split('"').next().expect("a closing quote").to_owned()
}

/// The Location header.
pub fn location(headers: &HeaderMap) -> String {
    headers.get(LOCATION).expect("a Location header").to_str().expect("ASCII Location").to_owned()
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
