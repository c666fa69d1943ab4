//! What every request to the emulator pays before anything else, as over a real network to
//! Atlassian: a round-trip time (a base plus random jitter), and a count of the API requests
//! that came in (kept apart from the request log, which fast mode does not keep).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use rand::Rng;

use super::config::RoundTrip;

/// The round trip in force (changeable while serving) and the count; shared by the workers.
#[derive(Default)]
pub(crate) struct Gateway {
    base_micros: AtomicU64,
    jitter_micros: AtomicU64,
    api_requests: AtomicU64,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Gateway {
    pub(crate) fn new(round_trip: RoundTrip) -> Self {
        let gateway = Self::default();
        gateway.set(round_trip);
        gateway
    }

    pub(crate) fn set(&self, round_trip: RoundTrip) {
        self.base_micros.store(micros(round_trip.base), Ordering::Relaxed);
        self.jitter_micros.store(micros(round_trip.jitter), Ordering::Relaxed);
    }

    pub(crate) fn api_requests(&self) -> u64 {
        self.api_requests.load(Ordering::Relaxed)
    }

    /// This request's delay: the base plus a uniform share of the jitter.
    fn delay(&self) -> Duration {
        let base = self.base_micros.load(Ordering::Relaxed);
        let jitter = self.jitter_micros.load(Ordering::Relaxed);
        let extra = if jitter == 0 { 0 } else { rand::rng().random_range(0..=jitter) };
        Duration::from_micros(base.saturating_add(extra))
    }
}

/// Whether a path is the authorization server's (the rest is the API gateway).
pub(crate) fn is_auth_server(path: &str) -> bool {
    path == "/authorize" || path.starts_with("/authorize/") || path == "/oauth/token"
}

/// The outermost middleware: counts, then waits out the round trip, then serves.
pub(crate) async fn round_trip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(gateway) = req.app_data::<web::Data<Gateway>>().cloned() {
        if !is_auth_server(req.path()) {
            gateway.api_requests.fetch_add(1, Ordering::Relaxed);
        }
        let delay = gateway.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
