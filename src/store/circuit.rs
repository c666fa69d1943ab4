//! Failing fast while Redis is down, and saying so once rather than once per request.
//!
//! Without this, every request during a Redis stall waited the whole deadline (2 s) and wrote a
//! WARN line of its own (tens of thousands a second under load). Now the first failure opens the
//! circuit for [`OPEN_FOR`]: calls in that window fail at once. After it, exactly one call (the
//! probe) goes to Redis while the others still fail fast; its success closes the circuit, its
//! failure opens it again. A window of one second keeps recovery quick (a page works again at most
//! about a second after Redis does) while a stalled Redis costs one waiting call per second,
//! not one per request.
//!
//! Failures are logged at most once per [`REPORT_EVERY`], with the number of failed calls since
//! the last line, and recovery once, with the number of calls that failed meanwhile.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long calls fail at once after Redis failed.
pub const OPEN_FOR: Duration = Duration::from_secs(1);
/// At most one WARN line about Redis failing per this long.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The circuit of one Redis target, with its failure log.
#[derive(Debug)]
pub struct Circuit {
    /// Names the target in log lines (masked URL).
    target: String,
    /// [`OPEN_FOR`], but for unit tests.
    open_for: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Set while the circuit is open: calls before this instant fail at once.
    open_until: Option<Instant>,
    /// A probe is in flight (only while open).
    probing: bool,
    /// Failed calls since the last log line.
    unreported: u64,
    /// Failed calls since Redis last answered.
    since_ok: u64,
    last_report: Option<Instant>,
}

/// What a call may do.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead (the circuit is closed).
    Go,
    /// Go ahead as the one probe; report the outcome through the guard.
    Probe,
    /// Fail at once: Redis failed moments ago.
    Refused,
}

impl Circuit {
    pub fn new(target: String) -> Circuit {
        Circuit::with_window(target, OPEN_FOR)
    }

    fn with_window(target: String, open_for: Duration) -> Circuit {
        Circuit { target, open_for, state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may go to Redis now.
    pub fn admit(&self) -> Admission {
        let mut state = self.state();
        let Some(until) = state.open_until else { return Admission::Go };
        if Instant::now() < until || state.probing {
            state.unreported += 1;
            state.since_ok += 1;
            return Admission::Refused;
        }
        state.probing = true;
        Admission::Probe
    }

    /// Redis answered (possibly with an error of the command's own): the circuit closes.
    pub fn answered(&self) {
        let mut state = self.state();
        if state.open_until.is_none() && state.since_ok == 0 {
            return;
        }
        tracing::info!(redis = %self.target, failed_calls = state.since_ok, "Redis answers again");
        *state = State::default();
    }

    /// Redis failed (unreachable, timed out, no primary): the circuit opens for [`OPEN_FOR`].
    pub fn failed(&self, cause: &dyn std::error::Error) {
        let mut state = self.state();
        let now = Instant::now();
        state.open_until = Some(now + self.open_for);
        state.probing = false;
        state.unreported += 1;
        state.since_ok += 1;
        if state.last_report.is_none_or(|last| now.duration_since(last) >= REPORT_EVERY) {
            tracing::warn!(
                redis = %self.target,
                failed_calls = state.unreported,
                error = %chain(cause),
                "Redis is failing; calls fail fast for {} ms at a time, then one probe",
                self.open_for.as_millis()
            );
            state.unreported = 0;
            state.last_report = Some(now);
        }
    }

    /// A probe that ended without an outcome (its request was cancelled): let another probe go.
    pub fn probe_abandoned(&self) {
        self.state().probing = false;
    }
}

/// An error with its sources, `a: b: c`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn after_a_failure_calls_are_refused_then_one_probe_goes_and_success_closes() {
        let window = Duration::from_millis(50);
        let circuit = Circuit::with_window("redis://test".to_owned(), window);
        assert_eq!(circuit.admit(), Admission::Go);
        circuit.failed(&std::io::Error::other("down"));
        assert_eq!(circuit.admit(), Admission::Refused);
        tokio::time::sleep(window).await;
        assert_eq!(circuit.admit(), Admission::Probe);
        assert_eq!(circuit.admit(), Admission::Refused, "one probe at a time");
        circuit.failed(&std::io::Error::other("still down"));
        assert_eq!(circuit.admit(), Admission::Refused, "a failed probe opens it again");
        tokio::time::sleep(window).await;
        assert_eq!(circuit.admit(), Admission::Probe);
        circuit.probe_abandoned();
        assert_eq!(circuit.admit(), Admission::Probe, "an abandoned probe lets another go");
        circuit.answered();
        assert_eq!(circuit.admit(), Admission::Go);
        assert_eq!(circuit.admit(), Admission::Go);
    }
}
