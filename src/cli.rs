//! The command line: `threelo [--config PATH] [serve|demo|check-config|gen-secret]`.

use std::path::PathBuf;

use crate::config::{ConfigError, Mode, PublicUrl, RawConfig, Settings, process_env, random_b64};
use crate::startup::{Application, Storage};
use crate::{demo, telemetry};

/// What the command line asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Demo,
    CheckConfig,
    GenSecret,
    Help,
    Version,
}

/// The parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    pub command: Command,
    /// `--config PATH`, else `THREELO_CONFIG`.
    pub config: Option<PathBuf>,
}

/// The `--help` text.
pub const HELP: &str = "\
threelo: sign in with Atlassian (OAuth 2.0 3LO) and see your Jira and Confluence work.

Usage: threelo [--config PATH] [COMMAND]

Commands:
  serve          Run the web app (the default). Needs THREELO_CLIENT_ID, THREELO_CLIENT_SECRET,
                 THREELO_SESSION_SECRET, THREELO_TOKEN_KEYS and a Redis (THREELO_REDIS_URL).
  demo           Run the app against a built-in emulator of Atlassian, with demo users and sites.
                 Needs nothing else: no Atlassian account, and no Redis unless THREELO_REDIS_URL is set.
  check-config   Check the configuration, then print the callback URL to register in Atlassian's
                 developer console, the scopes and the Redis URL (password masked). Exits 1 on problems.
  gen-secret     Print a fresh THREELO_SESSION_SECRET and THREELO_TOKEN_KEYS in the formats required.
  help           Print this text.

Options:
  --config PATH  Read settings from this TOML file (also: THREELO_CONFIG), on top of the built-in
                 defaults and below THREELO_* environment variables.
  -h, --help     Print this text.
  -V, --version  Print the version.

Every setting is listed in config/default.toml; see README.md for the whole story.
";

impl Cli {
    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = String>, env_config: Option<String>) -> Result<Cli, String> {
        let mut command = None;
        let mut config = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let next = match arg.as_str() {
                "-h" | "--help" | "help" => Command::Help,
                "-V" | "--version" => Command::Version,
                "serve" => Command::Serve,
                "demo" => Command::Demo,
                "check-config" => Command::CheckConfig,
                "gen-secret" => Command::GenSecret,
                "--config" => {
                    config = Some(args.next().ok_or("--config needs a file path")?);
                    continue;
                }
                other => match other.strip_prefix("--config=") {
                    Some(path) => {
                        config = Some(path.to_owned());
                        continue;
                    }
                    None => {
                        return Err(format!("unknown command or option `{other}`; see `threelo --help`"));
                    }
                },
            };
            command = match (command, next) {
                // --help and --version win wherever they appear.
                (Some(first @ (Command::Help | Command::Version)), _) => Some(first),
                (_, next @ (Command::Help | Command::Version)) => Some(next),
                (Some(_), _) => {
                    return Err(format!("only one command at a time (got a second one: `{arg}`)"));
                }
                (None, next) => Some(next),
            };
        }
        let config = config.or(env_config.filter(|c| !c.is_empty())).map(PathBuf::from);
        Ok(Cli { command: command.unwrap_or(Command::Serve), config })
    }

    /// Runs the command; the returned code is the process exit status.
    pub async fn run(self) -> i32 {
        let file = self.config.as_deref();
        let result = match self.command {
            Command::Help => {
                print_ignoring_closed_pipe(&mut std::io::stdout(), HELP);
                Ok(())
            }
            Command::Version => {
                print_ignoring_closed_pipe(
                    &mut std::io::stdout(),
                    concat!("threelo ", env!("CARGO_PKG_VERSION"), "\n"),
                );
                Ok(())
            }
            Command::GenSecret => {
                gen_secret();
                Ok(())
            }
            Command::CheckConfig => return check_config(file),
            Command::Demo => demo::run(file).await,
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

fn check_config(file: Option<&std::path::Path>) -> i32 {
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
            let report = format!(
                "Configuration OK.
  public URL:    {public}
  callback URL:  {callback}
                 (register exactly this in Atlassian's developer console:
                  your app > Authorization > OAuth 2.0 (3LO) > Callback URL)
  listen:        {listen}
  client id:     {client_id}
  scopes:        {scopes}
  auth server:   {auth}
  API gateway:   {api}
  Redis:         {redis}
  token keys:    {keys} (the first seals new records)
  sessions:      idle timeout {idle}s, lifetime {lifetime}s
",
                public = settings.public_url,
                callback = settings.public_url.callback_url(),
                listen = settings.listen,
                client_id = settings.client_id,
                scopes = settings.scopes.join(" "),
                auth = settings.auth_url,
                api = settings.api_url,
                redis = settings.redis_url_or_default().masked(),
                keys = settings.token_keys.key_ids().join(", "),
                idle = settings.session.idle_timeout.as_secs(),
                lifetime = settings.session.lifetime.as_secs(),
            );
            print_ignoring_closed_pipe(&mut std::io::stdout(), &report);
            0
        }
    }
}

/// Writes `text`; a reader that went away (`| head`) is not an error worth a panic.
pub(crate) fn print_ignoring_closed_pipe(out: &mut impl std::io::Write, text: &str) {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

async fn serve(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let settings = Settings::load(Mode::Serve, file)?;
    telemetry::init(settings.log_format);
    let redis = settings.redis_url_or_default();
    let (listen, public) = (settings.listen, settings.public_url.clone());
    let app = Application::build(settings, Storage::Redis(redis.clone())).await?;
    tracing::info!(%listen, public_url = %public, redis = %redis.masked(), "threelo is serving");
    app.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::parse(args.iter().map(|s| s.to_string()), None)
    }

    #[test]
    fn serve_is_the_default_and_config_comes_from_flag_or_env() {
        assert_eq!(parse(&[]).unwrap().command, Command::Serve);
        assert_eq!(parse(&["--config", "a.toml", "demo"]).unwrap().config, Some(PathBuf::from("a.toml")));
        let env = Cli::parse(Vec::new(), Some("b.toml".into())).unwrap();
        assert_eq!(env.config, Some(PathBuf::from("b.toml")));
    }

    #[test]
    fn unknown_words_and_two_commands_are_usage_errors() {
        assert!(parse(&["frobnicate"]).unwrap_err().contains("unknown command"));
        assert!(parse(&["serve", "demo"]).is_err());
        assert!(parse(&["--config"]).is_err());
        assert_eq!(parse(&["demo", "--help"]).unwrap().command, Command::Help);
    }
}
