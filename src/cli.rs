//! The command line: `threelo [--config PATH] [serve|demo|check-config|gen-secret]`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Mode, PublicUrl, RawConfig, Settings, process_env, random_b64};
use crate::console::print_ignoring_closed_pipe;
use crate::startup::{Application, Storage};
use crate::{demo, telemetry};

/// threelo: sign in with Atlassian (OAuth 2.0 3LO) and see your Jira and Confluence work.
#[derive(Debug, Parser)]
#[command(
    name = "threelo",
    version,
    after_help = "Every setting is listed in config/default.toml; see README.md for the whole story."
)]
pub struct Cli {
    /// Read settings from this TOML file (also: THREELO_CONFIG).
    ///
    /// On top of the built-in defaults and below THREELO_* environment variables.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The most `demo --latency` or `--jitter` accepts (each): beyond, pages would time out.
const MAX_DEMO_DELAY_MS: u64 = 10_000;

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the web app (the default).
    ///
    /// Needs THREELO_CLIENT_ID, THREELO_CLIENT_SECRET, THREELO_SESSION_SECRET, THREELO_TOKEN_KEYS
    /// and a Redis (THREELO_REDIS_URL).
    Serve,
    /// Run the app against a built-in emulator of Atlassian, with demo users and sites.
    ///
    /// Needs nothing else: no Atlassian account, and no Redis unless THREELO_REDIS_URL is set.
    Demo {
        /// Make every call to the emulated Atlassian take this long, as over the internet to
        /// the real one (a typical value: 150).
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_DEMO_DELAY_MS))]
        latency: u64,
        /// Add up to this much more to each call, at random.
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_DEMO_DELAY_MS))]
        jitter: u64,
    },
    /// Check the configuration and print the callback URL to register.
    ///
    /// Lists every problem and exits 1, or prints the callback URL to register in Atlassian's
    /// developer console, the scopes and the Redis URL (password masked).
    CheckConfig,
    /// Print a fresh THREELO_SESSION_SECRET and THREELO_TOKEN_KEYS.
    ///
    /// In the formats required, ready to store as files for the *_FILE variables.
    GenSecret,
}

impl Cli {
    /// Parses `args` (the program name first); `env_config` is `THREELO_CONFIG`, used when there
    /// is no `--config` (an empty value counts as unset). `--help` and `--version` come back as
    /// errors too: hand them to [`print_usage`].
    pub fn from_command_line(
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
        env_config: Option<OsString>,
    ) -> Result<Cli, clap::Error> {
        let mut cli = Cli::try_parse_from(args)?;
        if cli.config.is_none() {
            cli.config = env_config.filter(|c| !c.is_empty()).map(PathBuf::from);
        }
        Ok(cli)
    }

    /// Runs the command; the returned code is the process exit status.
    pub async fn run(self) -> i32 {
        let file = self.config.as_deref();
        let result = match self.command.unwrap_or(Command::Serve) {
            Command::GenSecret => {
                gen_secret();
                Ok(())
            }
            Command::CheckConfig => return check_config(file).await,
            Command::Demo { latency, jitter } => {
                let round_trip =
                    demo::RoundTrip { base: Duration::from_millis(latency), jitter: Duration::from_millis(jitter) };
                demo::run(file, round_trip).await
            }
            Command::Serve => serve(file).await,
        };
        match result {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("threelo: {err:#}");
                // Like a usage error: this binary cannot do what was asked, however it is configured.
                if err.is::<demo::NotBuilt>() { 2 } else { 1 }
            }
        }
    }
}

/// Prints what [`Cli::from_command_line`] refused: help and version on stdout (exit status 0), a usage error on
/// stderr (exit status 2). Returns the exit status.
pub fn print_usage(refusal: &clap::Error) -> i32 {
    let text = refusal.render().to_string();
    if refusal.use_stderr() {
        print_ignoring_closed_pipe(&mut std::io::stderr(), &text);
    } else {
        print_ignoring_closed_pipe(&mut std::io::stdout(), &text);
    }
    refusal.exit_code()
}

fn gen_secret() {
    let text = format!(
        "# Fresh secrets for threelo. Keep them secret; store them as files and use the *_FILE variables.\n\
         THREELO_SESSION_SECRET={}\n\
         THREELO_TOKEN_KEYS=k{}:{}\n\
         # To rotate token keys, put a new key first and keep the old ones after it: k2:...,k1:...\n",
        random_b64(64),
        time::OffsetDateTime::now_utc().unix_timestamp(),
        random_b64(32),
    );
    print_ignoring_closed_pipe(&mut std::io::stdout(), &text);
}

async fn check_config(file: Option<&std::path::Path>) -> i32 {
    match Settings::load(Mode::Serve, file) {
        Err(ConfigError(problems)) => {
            let mut report = format!("threelo: the configuration has {} problem(s):\n", problems.len());
            for problem in problems {
                report.push_str(&format!("  - {problem}\n"));
            }
            // The callback is needed to register the app, which is how one gets a client id:
            // show it as soon as the public URL is right, even while other settings are missing.
            let raw = RawConfig::load(file, process_env());
            if let Some(public) = raw.get("public_url").and_then(|url| PublicUrl::parse(url).ok()) {
                report.push_str(&format!(
                    "The callback URL to register in the developer console: {}\n",
                    public.callback_url()
                ));
            }
            print_ignoring_closed_pipe(&mut std::io::stderr(), &report);
            1
        }
        Ok(settings) => {
            let redis = settings.redis_url_or_default();
            // Connecting tells a wrong URL (unknown master, not a cluster, refused password) from a
            // Redis that is merely down now: only the first is an error, since `serve` starts and
            // waits for a Redis that comes up later (systemd runs this before every start).
            let (redis_check, redis_wrong) = match crate::store::check(&redis).await {
                Ok(fine) => (fine, None),
                Err((true, wrong)) => (format!("WRONG: {wrong}"), Some(wrong)),
                Err((false, down)) => {
                    (format!("not reachable now ({down}); `serve` starts anyway and waits for it"), None)
                }
            };
            if let Some(wrong) = redis_wrong {
                let report = format!(
                    "threelo: the configuration has 1 problem(s):\n  - THREELO_REDIS_URL ({}, {}): {wrong}\n",
                    redis.masked(),
                    redis.mode()
                );
                print_ignoring_closed_pipe(&mut std::io::stderr(), &report);
                return 1;
            }
            let proxies: Vec<String> = settings.trusted_proxies.iter().map(|c| c.to_string()).collect();
            let report = format!(
                "Configuration OK.
  public URL:    {public}
  callback URL:  {callback}
                 (register exactly this in Atlassian's developer console:
                  your app > Authorization > OAuth 2.0 (3LO) > Callback URL)
  listen:        {listen}
  metrics:       {metrics}
  trusted proxies: {proxies}
  log format:    {log_format}
  client id:     {client_id}
  scopes:        {scopes}
{features}  auth server:   {auth}
  API gateway:   {api}
  Redis:         {redis_url}
  Redis mode:    {redis_mode}
  Redis check:   {redis_check}
  token keys:    {keys} (the first seals new records)
  sessions:      idle timeout {idle}s, lifetime {lifetime}s
",
                public = settings.public_url,
                callback = settings.public_url.callback_url(),
                listen = settings.listen,
                metrics = match settings.metrics_listen {
                    Some(address) => format!("http://{address}/metrics (not on the public address)"),
                    None => format!("{}/metrics on the public address (block it at the proxy)", settings.public_url),
                },
                proxies = if proxies.is_empty() {
                    "none (forwarding headers are ignored)".to_owned()
                } else {
                    proxies.join(", ")
                },
                log_format = format!("{:?}", settings.log_format).to_lowercase(),
                client_id = settings.client_id,
                scopes = settings.scopes.join(" "),
                features = features(&settings.scopes),
                auth = settings.auth_url,
                api = settings.api_url,
                redis_url = redis.masked(),
                redis_mode = redis.mode(),
                keys = settings.token_keys.key_ids().join(", "),
                idle = settings.session.idle_timeout.as_secs(),
                lifetime = settings.session.lifetime.as_secs(),
            );
            print_ignoring_closed_pipe(&mut std::io::stdout(), &report);
            0
        }
    }
}

/// Which features the scopes turn on (classic or granular, `crate::scopes`), one line each, for
/// `check-config`.
fn features(scopes: &[String]) -> String {
    let mut out = String::new();
    for feature in crate::scopes::Feature::ALL {
        let on = feature.met_by(scopes);
        let label = if on { "feature on:" } else { "feature off:" };
        let hint = if on { "" } else { " (add it to THREELO_SCOPES and to the app in the developer console)" };
        out.push_str(&format!("  {label:<15}{}: {}{hint}\n", feature.words(), feature.explain(scopes)));
    }
    out
}

async fn serve(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let settings = Settings::load(Mode::Serve, file)?;
    telemetry::init(settings.log_format);
    let redis = settings.redis_url_or_default();
    let (listen, public) = (settings.listen, settings.public_url.clone());
    let app = Application::build(settings, Storage::Redis(redis.clone())).await?;
    tracing::info!(%listen, public_url = %public, redis = %redis.masked(), redis_mode = %redis.mode(), "threelo is serving");
    app.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::from_command_line(std::iter::once("threelo").chain(args.iter().copied()), None)
    }

    #[test]
    fn serve_is_the_default_and_config_comes_from_flag_or_env() {
        assert_eq!(parse(&[]).unwrap().command, None);
        assert_eq!(parse(&["serve"]).unwrap().command, Some(Command::Serve));
        assert_eq!(parse(&["demo"]).unwrap().command, Some(Command::Demo { latency: 0, jitter: 0 }));
        let slow = parse(&["demo", "--latency", "150", "--jitter=30"]).unwrap().command;
        assert_eq!(slow, Some(Command::Demo { latency: 150, jitter: 30 }));
        assert_eq!(parse(&["--config", "a.toml", "demo"]).unwrap().config, Some(PathBuf::from("a.toml")));
        assert_eq!(parse(&["demo", "--config=a.toml"]).unwrap().config, Some(PathBuf::from("a.toml")));
        let env = Cli::from_command_line(["threelo"], Some("b.toml".into())).unwrap();
        assert_eq!(env.config, Some(PathBuf::from("b.toml")));
        let both = Cli::from_command_line(["threelo", "--config", "a.toml"], Some("b.toml".into())).unwrap();
        assert_eq!(both.config, Some(PathBuf::from("a.toml")), "the flag wins");
        assert_eq!(Cli::from_command_line(["threelo"], Some("".into())).unwrap().config, None);
    }

    #[test]
    fn unknown_words_and_two_commands_are_usage_errors() {
        let unknown = parse(&["frobnicate"]).unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(unknown.exit_code(), 2);
        assert!(parse(&["serve", "demo"]).is_err());
        assert!(parse(&["--config"]).is_err());
        assert!(parse(&["demo", "--latency", "fast"]).is_err());
        assert!(parse(&["demo", "--latency", "10001"]).is_err(), "a delay past every timeout");
        assert!(parse(&["serve", "--latency", "150"]).is_err(), "only the demo has an emulator to slow");
        let help = parse(&["demo", "--help"]).unwrap_err();
        assert_eq!((help.kind(), help.exit_code()), (ErrorKind::DisplayHelp, 0));
        assert_eq!(parse(&["--version"]).unwrap_err().kind(), ErrorKind::DisplayVersion);
    }
}
