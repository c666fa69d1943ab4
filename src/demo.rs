//! `threelo demo`: the app against the built-in emulator of Atlassian, ready to click through.
//!
//! The emulator is the `threelo-emulator` crate, linked only with the `demo` cargo feature (on by
//! default). A build without it (the production image) keeps the subcommand, which then fails with
//! [`NotBuilt`] (exit status 2), and has no emulator code in the binary.

use std::path::Path;

#[cfg(feature = "demo")]
use crate::config::{Mode, Settings};
#[cfg(feature = "demo")]
use crate::console::print_ignoring_closed_pipe;
#[cfg(feature = "demo")]
use crate::startup::{Application, Storage};
#[cfg(feature = "demo")]
use crate::telemetry;
#[cfg(feature = "demo")]
use secrecy::ExposeSecret;
#[cfg(feature = "demo")]
use threelo_emulator::{Emulator, EmulatorConfig};

/// How long each call to the emulated Atlassian takes: `base` plus a random share of `jitter`
/// (`threelo demo --latency MS --jitter MS`). Defined in every build, so the command line is
/// the same with or without the emulator.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundTrip {
    /// The least a call takes.
    pub base: std::time::Duration,
    /// The most a call takes beyond `base`.
    pub jitter: std::time::Duration,
}

/// `threelo demo` in a build without the `demo` feature.
#[derive(Debug, thiserror::Error)]
#[error("this build of threelo has no demo: it was built without the `demo` feature")]
pub struct NotBuilt;

/// A build without the `demo` feature has no emulator to run the app against.
#[cfg(not(feature = "demo"))]
pub async fn run(_file: Option<&Path>, _round_trip: RoundTrip) -> anyhow::Result<()> {
    Err(NotBuilt.into())
}

/// Starts the emulator and the app on loopback and prints how to use them.
#[cfg(feature = "demo")]
pub async fn run(file: Option<&Path>, round_trip: RoundTrip) -> anyhow::Result<()> {
    let mut settings = Settings::load(Mode::Demo, file)?;
    telemetry::init(settings.log_format);
    // The demo shows everything: its users can comment, move issues and search Confluence.
    for scope in crate::scopes::Feature::OPTIONAL.iter().flat_map(|f| f.classic()) {
        if !settings.scopes.iter().any(|s| s == scope) {
            settings.scopes.push(scope.to_owned());
        }
    }
    let callback = settings.public_url.callback_url();
    let mut config = EmulatorConfig::new(settings.client_id.clone(), settings.client_secret.expose_secret(), callback);
    config.round_trip = threelo_emulator::RoundTrip { base: round_trip.base, jitter: round_trip.jitter };
    let emulator = Emulator::start(config, "127.0.0.1:0").await?;
    let base: url::Url = emulator.base_url().parse()?;
    settings.auth_url = base.clone();
    settings.api_url = base;

    let storage = match settings.redis_url.clone() {
        Some(url) => Storage::Redis(url),
        None => Storage::Memory,
    };
    let storage_note = match &storage {
        Storage::Redis(url) => format!("Redis at {}", url.masked()),
        Storage::Memory => {
            "in-memory stores (sessions vanish when this process stops; set THREELO_REDIS_URL to use Redis)".to_owned()
        }
    };
    let public = settings.public_url.clone();
    let app = Application::build(settings, storage).await?;

    let mut banner = String::new();
    banner.push_str("\n  threelo demo is running.\n\n");
    banner.push_str(&format!("  Open {public}/ in your browser and click \"Sign in with Atlassian\".\n"));
    banner.push_str(&format!("  Atlassian is emulated at {} (no account needed)", emulator.base_url()));
    if round_trip.base.is_zero() && round_trip.jitter.is_zero() {
        banner.push_str(".\n");
    } else {
        let (base, most) = (round_trip.base.as_millis(), (round_trip.base + round_trip.jitter).as_millis());
        let range = if base == most { format!("{base} ms") } else { format!("{base} to {most} ms") };
        banner.push_str(&format!(", each call taking {range}.\n"));
    }
    banner.push_str(&format!("  Storage: {storage_note}.\n\n"));
    banner.push_str("  Demo users (pick one on the consent page):\n");
    for user in Emulator::users() {
        banner.push_str(&format!("    {:<8} {:<16} {}\n", user.login, user.name, user.email));
    }
    banner.push_str("\n  Press Ctrl-C to stop.\n\n");
    // Whoever reads the banner may close stdout after it (a script, a test): the demo keeps serving.
    print_ignoring_closed_pipe(&mut std::io::stdout(), &banner);
    app.run().await?;
    Ok(())
}
