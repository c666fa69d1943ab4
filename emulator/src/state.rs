//! Everything the emulator remembers: configuration, its own clock, grants and tokens,
//! the test knobs (faults, latency) and the request log.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::rate_limit::Limit;
use super::{EmulatorConfig, Fault, LoggedRequest};

/// The shared state, behind one std mutex that is never held across an `.await`.
pub(crate) struct State {
    pub(crate) config: EmulatorConfig,
    /// Where the emulator listens, for `self` links in API answers.
    pub(crate) base_url: String,
    /// How far `advance_clock` has moved the emulator's clock past real time.
    offset: Duration,
    pub(crate) codes: HashMap<String, Code>,
    /// Indexed by grant id; grants are never removed, only revoked.
    pub(crate) grants: Vec<Grant>,
    pub(crate) access: HashMap<String, AccessToken>,
    pub(crate) refresh: HashMap<String, RefreshToken>,
    faults: Vec<FaultRule>,
    latency: Vec<(String, Duration)>,
    pub(crate) log: Vec<LoggedRequest>,
    /// Every secret handed out, so tests can look for leaks.
    pub(crate) issued: Vec<String>,
    /// What writes changed, per issue id: comments, status, assignee (see `jira_write`).
    pub(crate) changes: HashMap<u64, IssueChanges>,
    /// Per-issue write limits asked for by a test: issue key (upper case), writes left to refuse,
    /// and the Retry-After to send.
    pub(crate) write_limits: Vec<(String, u32, u64)>,
    /// The id of the next comment posted.
    pub(crate) next_comment_id: u64,
    /// Streamed answers (attachment content) sent to their last byte.
    pub(crate) finished_streams: usize,
    /// Descriptions that replace a seed issue's (by issue key), e.g. hostile ADF for tests.
    pub(crate) descriptions: HashMap<String, serde_json::Value>,
}

/// One comment on an issue.
#[derive(Clone)]
pub(crate) struct Comment {
    pub(crate) id: u64,
    pub(crate) author: &'static str,
    pub(crate) body: serde_json::Value,
    pub(crate) created: time::OffsetDateTime,
}

/// What writes changed on one issue; the seed holds the rest.
#[derive(Clone, Default)]
pub(crate) struct IssueChanges {
    /// Every comment, the seeded ones included (filled on first use).
    pub(crate) comments: Option<Vec<Comment>>,
    pub(crate) status: Option<&'static super::seed_jira::Status>,
    /// `Some(None)`: unassigned by a write.
    pub(crate) assignee: Option<Option<&'static str>>,
    pub(crate) updated: Option<time::OffsetDateTime>,
}

/// An authorization code, bound to what the consent was given for.
pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) login: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Instant,
    pub(crate) used: bool,
    /// The grant its first exchange created, revoked if the code is replayed.
    pub(crate) grant: Option<usize>,
}

/// One consent turned into tokens: a family of refresh tokens and their access tokens.
pub(crate) struct Grant {
    pub(crate) login: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) created_at: Instant,
    pub(crate) revoked: bool,
    /// Revoked because a rotated-out refresh token came back after the leeway: its tokens are
    /// then refused as `unauthorized_client`, as seen in the wild.
    pub(crate) reuse_detected: bool,
}

/// An access token's record.
pub(crate) struct AccessToken {
    pub(crate) grant: usize,
    pub(crate) expires_at: Instant,
    /// When a refresh of its grant issued a newer access token: this one then works only for the
    /// rotation leeway.
    pub(crate) superseded_at: Option<Instant>,
}

/// A refresh token's record; `retired_at` is set when a refresh rotated it out.
pub(crate) struct RefreshToken {
    pub(crate) grant: usize,
    pub(crate) issued_at: Instant,
    pub(crate) retired_at: Option<Instant>,
}

struct FaultRule {
    /// Only requests with this method, when set.
    method: Option<String>,
    prefix: String,
    fault: Fault,
    /// Which limit a 429 is about (its `RateLimit-Reason`).
    limit: Limit,
    remaining: u32,
}

/// Locks the state; a poisoned mutex is still usable because every update is a
/// single field assignment or push that cannot leave it half-written.
pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// Fresh state for one registration; the client secret counts as issued.
    pub(crate) fn new(config: EmulatorConfig, base_url: String) -> Self {
        let issued = vec![config.client_secret.clone()];
        Self {
            config,
            base_url,
            offset: Duration::ZERO,
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            faults: Vec::new(),
            latency: Vec::new(),
            log: Vec::new(),
            issued,
            changes: HashMap::new(),
            write_limits: Vec::new(),
            next_comment_id: 20_000,
            finished_streams: 0,
            descriptions: HashMap::new(),
        }
    }

    /// The emulator's clock: real monotonic time plus whatever tests advanced it by.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    /// Keeps a secret for [`Emulator::issued_secrets`](super::Emulator::issued_secrets); not in
    /// fast mode, where a long benchmark would otherwise grow this list without bound.
    pub(crate) fn remember_issued(&mut self, secret: &str) {
        if !self.config.fast {
            self.issued.push(secret.to_owned());
        }
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.offset += by;
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        let now = self.now();
        for token in self.access.values_mut() {
            token.expires_at = token.expires_at.min(now);
        }
    }

    pub(crate) fn revoke_user(&mut self, login: &str) {
        for grant in self.grants.iter_mut().filter(|g| g.login == login) {
            grant.revoked = true;
        }
    }

    pub(crate) fn revoke_user_for_reuse(&mut self, login: &str) {
        for grant in self.grants.iter_mut().filter(|g| g.login == login) {
            (grant.revoked, grant.reuse_detected) = (true, true);
        }
    }

    pub(crate) fn inject(&mut self, method: Option<&str>, prefix: &str, fault: (Fault, Limit), times: u32) {
        if times > 0 {
            let prefix = prefix.to_owned();
            let method = method.map(str::to_ascii_uppercase);
            let (fault, limit) = fault;
            self.faults.push(FaultRule { method, prefix, fault, limit, remaining: times });
        }
    }

    /// Takes one use of the first pending fault whose method and prefix match.
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<(Fault, Limit)> {
        let applies = |r: &FaultRule| path.starts_with(&r.prefix) && r.method.as_deref().is_none_or(|m| m == method);
        let index = self.faults.iter().position(applies)?;
        let rule = &mut self.faults[index];
        let fault = (rule.fault, rule.limit);
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }

    pub(crate) fn set_latency(&mut self, prefix: &str, delay: Duration) {
        self.latency.retain(|(p, _)| p != prefix);
        if !delay.is_zero() {
            self.latency.push((prefix.to_owned(), delay));
        }
    }

    /// The delay of the longest matching prefix, so a specific rule beats a broad one.
    pub(crate) fn latency_for(&self, path: &str) -> Duration {
        self.latency
            .iter()
            .filter(|(p, _)| path.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map_or(Duration::ZERO, |(_, d)| *d)
    }
}
