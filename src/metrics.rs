//! Prometheus metrics at `/metrics`, kept with the Prometheus project's own client
//! (`prometheus-client`) and rendered in the OpenMetrics text format.
//!
//! Every label value comes from a fixed set: enums for methods and outcomes, route patterns (never
//! paths), numeric status codes. A label value that a client could choose (the raw HTTP method,
//! say) would let anyone grow `/metrics`, and every Prometheus scraping it, without bound. Each
//! metric is updated through a method of its own (`metrics.sign_in(SignInOutcome::Success)`), so
//! a misspelt name or label is a compile error, not a new series.

use std::fmt::Write as _;

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The content type of the OpenMetrics text format (Prometheus reads it).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Implements `EncodeLabelValue` through the type's `as_str`: the derive would print the Rust
/// variant names, and the values on the wire are `GET` and `expired_state`.
macro_rules! label_value_from_as_str {
    ($($kind:ty),*) => {$(
        impl EncodeLabelValue for $kind {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}
label_value_from_as_str!(Method, Route, SignInOutcome, RefreshOutcome, Product, MethodClass, KeyEvent, ApiCaller);

/// The `method` label: the standard methods a browser or script sends, and one value for the rest.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    /// Any other method, however long or odd: one series, not one per spelling.
    Other,
}

impl Method {
    /// The label value (and the log field).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "other",
        }
    }
}

impl From<&actix_web::http::Method> for Method {
    fn from(method: &actix_web::http::Method) -> Method {
        use actix_web::http::Method as M;
        match *method {
            M::GET => Method::Get,
            M::HEAD => Method::Head,
            M::POST => Method::Post,
            M::PUT => Method::Put,
            M::PATCH => Method::Patch,
            M::DELETE => Method::Delete,
            M::OPTIONS => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The `route` label: the pattern of the route that matched (`/sites/{cloud_id}/jira/issues`),
/// never the path (paths carry ids, and the callback's query carries codes).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Route {
    /// A pattern from the app's own route table: a fixed set.
    Pattern(String),
    /// No route matched.
    Unmatched,
}

impl Route {
    /// The route a request matched.
    pub fn of(req: &ServiceRequest) -> Route {
        req.match_pattern().map_or(Route::Unmatched, Route::Pattern)
    }

    /// The label value (and the log field).
    pub fn as_str(&self) -> &str {
        match self {
            Route::Pattern(pattern) => pattern,
            Route::Unmatched => "unmatched",
        }
    }
}

/// The `outcome` of a sign-in callback.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum SignInOutcome {
    Success,
    Cancelled,
    ExpiredState,
    Misconfigured,
    Failed,
    BadRequest,
    Unavailable,
    Error,
}

impl SignInOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInOutcome::Success => "success",
            SignInOutcome::Cancelled => "cancelled",
            SignInOutcome::ExpiredState => "expired_state",
            SignInOutcome::Misconfigured => "misconfigured",
            SignInOutcome::Failed => "failed",
            SignInOutcome::BadRequest => "bad_request",
            SignInOutcome::Unavailable => "unavailable",
            SignInOutcome::Error => "error",
        }
    }
}

/// The `outcome` of a token refresh.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RefreshOutcome {
    Refreshed,
    GrantEnded,
    /// The token endpoint did not answer in time: whether it rotated the tokens is unknown.
    Unknown,
    Failed,
}

impl RefreshOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Refreshed => "refreshed",
            RefreshOutcome::GrantEnded => "grant_ended",
            RefreshOutcome::Unknown => "unknown",
            RefreshOutcome::Failed => "failed",
        }
    }
}

/// The `product` label of a call to Atlassian.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Product {
    Jira,
    Confluence,
    /// `/me` and the accessible resources.
    Identity,
}

impl Product {
    /// The label value (and the log field).
    pub fn as_str(self) -> &'static str {
        match self {
            Product::Jira => "jira",
            Product::Confluence => "confluence",
            Product::Identity => "identity",
        }
    }
}

/// The `method` label of a proxied call: reads (GET, HEAD) and writes (everything else).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum MethodClass {
    Read,
    Write,
}

impl MethodClass {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodClass::Read => "read",
            MethodClass::Write => "write",
        }
    }
}

/// The `caller` label of a proxied call.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ApiCaller {
    Session,
    Key,
    /// No credentials, or ones that did not open.
    Unknown,
}

impl ApiCaller {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiCaller::Session => "session",
            ApiCaller::Key => "key",
            ApiCaller::Unknown => "unknown",
        }
    }
}

/// The `event` label of access keys.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum KeyEvent {
    Created,
    Revoked,
    /// A call with a key that was refused (unknown, revoked, expired, read-only, over budget).
    Refused,
}

impl KeyEvent {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEvent::Created => "created",
            KeyEvent::Revoked => "revoked",
            KeyEvent::Refused => "refused",
        }
    }
}

/// The `status` label of a call to Atlassian: its numeric status (reqwest's `StatusCode` is
/// another crate's type than actix's, and a number is all the label needs), or `error` when
/// no answer came.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct UpstreamStatus(Option<u16>);

impl EncodeLabelValue for UpstreamStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self.0 {
            Some(status) => write!(encoder, "{status}"),
            None => encoder.write_str("error"),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: Route,
    method: Method,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    outcome: SignInOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    outcome: RefreshOutcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    product: Product,
    status: UpstreamStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    product: Product,
    method: MethodClass,
    caller: ApiCaller,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    event: KeyEvent,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProductLabels {
    product: Product,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The process's metrics. Shared by every worker through `web::Data`.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sign_ins: Family<SignInLabels, Counter>,
    token_refreshes: Family<RefreshLabels, Counter>,
    lease_waits: Counter,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_rate_limited: Family<ProductLabels, Counter>,
    redis_errors: Counter,
    api_requests: Family<ApiLabels, Counter>,
    access_keys: Family<KeyLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut made = Metrics {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            sign_ins: Family::default(),
            token_refreshes: Family::default(),
            lease_waits: Counter::default(),
            upstream_requests: Family::default(),
            upstream_rate_limited: Family::default(),
            redis_errors: Counter::default(),
            api_requests: Family::default(),
            access_keys: Family::default(),
        };
        // Names without `_total` (the client adds it to counters) and help without the final
        // period (the client adds that too). The registry holds handles to the same metrics.
        let registry = &mut made.registry;
        registry.register(
            "threelo_http_requests",
            "HTTP requests answered, by route pattern, method and status",
            made.http_requests.clone(),
        );
        registry.register(
            "threelo_http_request_duration_seconds",
            "Time to answer HTTP requests, by route pattern",
            made.http_duration.clone(),
        );
        registry.register("threelo_sign_ins", "Completed sign-in callbacks, by outcome", made.sign_ins.clone());
        registry.register(
            "threelo_token_refreshes",
            "Token refreshes, by outcome (refreshed, grant_ended, unknown, failed)",
            made.token_refreshes.clone(),
        );
        registry.register(
            "threelo_refresh_lease_waits",
            "Times a refresh waited for another instance holding the lease",
            made.lease_waits.clone(),
        );
        registry.register(
            "threelo_upstream_requests",
            "Calls to Atlassian, by product and status",
            made.upstream_requests.clone(),
        );
        registry.register(
            "threelo_upstream_rate_limited",
            "429 answers from Atlassian, by product",
            made.upstream_rate_limited.clone(),
        );
        registry.register(
            "threelo_redis_errors",
            "Requests that failed because Redis did not answer",
            made.redis_errors.clone(),
        );
        registry.register(
            "threelo_api_requests",
            "Calls answered by the /api proxy, by product, method class (read, write), caller and status",
            made.api_requests.clone(),
        );
        registry.register(
            "threelo_access_keys",
            "Access key events: created, revoked, refused",
            made.access_keys.clone(),
        );
        made
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// One answered HTTP request and how long it took.
    pub fn http_request(&self, route: &Route, method: Method, status: StatusCode, seconds: f64) {
        let labels = HttpLabels { route: route.clone(), method, status: status.as_u16() };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&RouteLabels { route: labels.route }).observe(seconds);
    }

    /// One finished sign-in callback.
    pub fn sign_in(&self, outcome: SignInOutcome) {
        self.sign_ins.get_or_create(&SignInLabels { outcome }).inc();
    }

    /// One token refresh.
    pub fn token_refresh(&self, outcome: RefreshOutcome) {
        self.token_refreshes.get_or_create(&RefreshLabels { outcome }).inc();
    }

    /// A refresh waited for another instance holding the lease.
    pub fn refresh_lease_wait(&self) {
        self.lease_waits.inc();
    }

    /// One call to Atlassian: its HTTP status, or `None` when no answer came. A 429 also counts
    /// as rate limited.
    pub fn upstream(&self, product: Product, status: Option<u16>) {
        self.upstream_requests.get_or_create(&UpstreamLabels { product, status: UpstreamStatus(status) }).inc();
        if status == Some(429) {
            self.upstream_rate_limited.get_or_create(&ProductLabels { product }).inc();
        }
    }

    /// A request failed because Redis did not answer.
    pub fn redis_error(&self) {
        self.redis_errors.inc();
    }

    /// One call answered by the `/api` proxy (its own refusals included; `product` is identity
    /// for paths that named none).
    pub fn api_request(&self, product: Product, method: MethodClass, caller: ApiCaller, status: u16) {
        self.api_requests.get_or_create(&ApiLabels { product, method, caller, status }).inc();
    }

    /// An access key was created, revoked or refused.
    pub fn access_key(&self, event: KeyEvent) {
        self.access_keys.get_or_create(&KeyLabels { event }).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail, and every label value above encodes infallibly.
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %err, "the metrics did not encode");
        }
        text
    }
}

/// `GET /metrics`.
#[get("/metrics")]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_as_openmetrics_text() {
        let registry = Metrics::default();
        registry.sign_in(SignInOutcome::Success);
        registry.sign_in(SignInOutcome::Success);
        registry.sign_in(SignInOutcome::ExpiredState);
        let root = Route::Pattern("/".to_owned());
        registry.http_request(&root, Method::Get, StatusCode::OK, 0.02);
        registry.upstream(Product::Jira, Some(429));
        registry.upstream(Product::Confluence, None);
        let text = registry.render();
        for line in [
            "# HELP threelo_sign_ins Completed sign-in callbacks, by outcome.\n",
            "# TYPE threelo_sign_ins counter\n",
            "threelo_sign_ins_total{outcome=\"success\"} 2\n",
            "threelo_sign_ins_total{outcome=\"expired_state\"} 1\n",
            "threelo_http_requests_total{route=\"/\",method=\"GET\",status=\"200\"} 1\n",
            "threelo_http_request_duration_seconds_bucket{le=\"0.01\",route=\"/\"} 0\n",
            "threelo_http_request_duration_seconds_bucket{le=\"0.025\",route=\"/\"} 1\n",
            "threelo_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/\"} 1\n",
            "threelo_upstream_requests_total{product=\"jira\",status=\"429\"} 1\n",
            "threelo_upstream_requests_total{product=\"confluence\",status=\"error\"} 1\n",
            "threelo_upstream_rate_limited_total{product=\"jira\"} 1\n",
            "# TYPE threelo_redis_errors counter\n",
            "threelo_redis_errors_total 0\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(!text.contains("product=\"confluence\"} 1"), "only a 429 counts as rate limited:\n{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn every_method_outside_the_standard_ones_is_one_label_value() {
        let junk = actix_web::http::Method::from_bytes(&[b'X'; 4000]).unwrap();
        assert_eq!(Method::from(&junk), Method::Other);
        assert_eq!(Method::from(&actix_web::http::Method::PATCH).as_str(), "PATCH");
        let registry = Metrics::default();
        for method in [junk, actix_web::http::Method::CONNECT, actix_web::http::Method::TRACE] {
            registry.http_request(&Route::Unmatched, Method::from(&method), StatusCode::NOT_FOUND, 0.001);
        }
        let text = registry.render();
        assert!(
            text.contains("threelo_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 3\n"),
            "{text}"
        );
        assert!(text.len() < 4000, "{text}");
    }
}
