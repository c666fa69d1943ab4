//! `threelo demo`: the app against the built-in emulator of Atlassian, ready to click through.

use std::path::Path;

use crate::config::{Mode, Settings};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::startup::{Application, Storage};
use crate::telemetry;
use secrecy::ExposeSecret;

/// Starts the emulator and the app on loopback and prints how to use them.
pub async fn run(file: Option<&Path>) -> anyhow::Result<()> {
    let mut settings = Settings::load(Mode::Demo, file)?;
    telemetry::init(settings.log_format);
    let callback = settings.public_url.callback_url();
    let config = EmulatorConfig::new(settings.client_id.clone(), settings.client_secret.expose_secret(), callback);
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

    println!();
    println!("  threelo demo is running.");
    println!();
    println!("  Open {}/ in your browser and click \"Sign in with Atlassian\".", public);
    println!("  Atlassian is emulated at {} (no account needed).", emulator.base_url());
    println!("  Storage: {storage_note}.");
    println!();
    println!("  Demo users (pick one on the consent page):");
    for user in Emulator::users() {
        println!("    {:<8} {:<16} {}", user.login, user.name, user.email);
    }
    println!();
    println!("  Press Ctrl-C to stop.");
    println!();
    app.run().await?;
    Ok(())
}
