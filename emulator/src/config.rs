//! The emulator's public configuration and record types.

use std::time::Duration;

/// How the emulated app registration is configured, as in Atlassian's developer console.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: String,
    /// Registered callback URLs, matched byte for byte.
    pub redirect_uris: Vec<String>,
    /// Lifetime of access tokens (Atlassian: 3600 s).
    pub access_token_ttl: Duration,
    /// Lifetime of authorization codes.
    pub code_ttl: Duration,
    /// How long a rotated-out refresh token keeps working (Atlassian: 10 minutes).
    pub refresh_leeway: Duration,
    /// What `/authorize` does with a valid request.
    pub consent: ConsentMode,
    /// Benchmark mode: API answers (`/me`, accessible-resources, Jira, Confluence) are computed
    /// once per user, scopes and URL and then served from memory; latency and fault knobs are
    /// not consulted for them and they are not logged. Bearer tokens are still checked on every
    /// request, and `/authorize` and `/oauth/token` behave exactly as without it (so
    /// [`Emulator::token_grants`](super::Emulator::token_grants) still counts refreshes), except
    /// that [`Emulator::issued_secrets`](super::Emulator::issued_secrets) keeps only the client
    /// secret, so memory does not grow with every token. Off unless set; only `bench/` turns it on.
    pub fast: bool,
    /// `accessible-resources` lists a site that runs both products twice, once with its Jira
    /// scopes and once with its Confluence scopes, as Atlassian sometimes does. Off by default.
    pub resources_per_product: bool,
    /// Successful product answers (`/ex/…`) carry `X-RateLimit-NearLimit: true`, as Atlassian's
    /// do when less than 20% of the app's hourly quota is left. Off by default; not in fast mode.
    pub near_limit: bool,
    /// Added to every request, API and authorization server alike, fast mode included, as the
    /// network to Atlassian adds it; changeable while serving with
    /// [`Emulator::set_round_trip`](super::Emulator::set_round_trip). None by default.
    pub round_trip: RoundTrip,
}

/// A round-trip time: every request waits `base` plus a uniformly random share of `jitter`
/// (so `base` to `base + jitter`) before it is served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoundTrip {
    /// The least any request waits.
    pub base: Duration,
    /// The most a request waits beyond `base`.
    pub jitter: Duration,
}

impl EmulatorConfig {
    /// A registration with one callback URL and Atlassian's default lifetimes.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris: vec![redirect_uri.into()],
            access_token_ttl: Duration::from_secs(3600),
            code_ttl: Duration::from_secs(300),
            refresh_leeway: Duration::from_secs(600),
            consent: ConsentMode::Manual,
            fast: false,
            resources_per_product: false,
            round_trip: RoundTrip::default(),
            near_limit: false,
        }
    }
}

// Hand-written so the client secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("redirect_uris", &self.redirect_uris)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("code_ttl", &self.code_ttl)
            .field("refresh_leeway", &self.refresh_leeway)
            .field("consent", &self.consent)
            .field("fast", &self.fast)
            .field("resources_per_product", &self.resources_per_product)
            .field("round_trip", &self.round_trip)
            .field("near_limit", &self.near_limit)
            .finish()
    }
}

/// What the emulated user does on the consent screen.
#[derive(Clone, Debug)]
pub enum ConsentMode {
    /// Render the consent page and wait for a person to choose.
    Manual,
    /// Redirect at once as if `login` had pressed Accept.
    Accept {
        /// Seed user login, e.g. `alice`.
        login: String,
    },
    /// Redirect at once as if the user had pressed Cancel.
    Cancel,
}

/// A canned failure answered instead of the endpoint (see [`Emulator::inject`](super::Emulator::inject)).
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// HTTP status to answer, e.g. 429, 503, 500.
    pub status: u16,
    /// Seconds for the `Retry-After` header, if any.
    pub retry_after: Option<u64>,
}

/// One request the emulator answered. Never holds a token, code or secret.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// `grant_type` of a `/oauth/token` call.
    pub grant_type: Option<String>,
    /// Status answered.
    pub status: u16,
    /// The `jql` or `cql` query parameter of a search, decoded: exactly what the app asked.
    pub search: Option<String>,
    /// The query string as received (empty when none).
    pub query: String,
    /// The request's headers, names in lower case, except `Authorization`, whose value is
    /// never kept: see `bearer_issued`.
    pub headers: Vec<(String, String)>,
    /// Whether `Authorization` carried a bearer token this emulator issued (`None`: no such
    /// header).
    pub bearer_issued: Option<bool>,
}
