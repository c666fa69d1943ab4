//! Headless Chromium for the browser tests: Debian's `chromedriver` on a free port, driven over
//! WebDriver with fantoccini, one browser with a fresh profile per test, stopped when dropped.
//!
//! The browser's console is read through chromedriver's log endpoint, `POST
//! /session/{id}/se/log` with `{"type": "browser"}`, sent with fantoccini's `issue_cmd` (the
//! session asks for the log with the capability `goog:loggingPrefs: {browser: ALL}`). Each read
//! drains chromedriver's buffer. Console errors arrive with source `console-api`, failed loads
//! with `network`, CSP violations with `security`, all at level SEVERE.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};

use super::redis::free_port;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(10);

/// One entry of the browser's console log, as chromedriver reports it.
#[derive(Clone, Debug, Deserialize)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// `console-api`, `network`, `security`, `javascript`, ...
    pub source: String,
    pub message: String,
}

impl LogEntry {
    /// A CSP violation, whatever its level (a report-only policy logs at a lower level).
    pub fn is_csp_violation(&self) -> bool {
        self.message.contains("Content Security Policy")
    }
}

/// What a page could keep in the browser beyond HttpOnly cookies.
#[derive(Debug, Deserialize)]
pub struct PageStorage {
    /// `localStorage` as key/value pairs.
    pub local: Vec<(String, String)>,
    /// `sessionStorage` as key/value pairs.
    pub session: Vec<(String, String)>,
    /// `document.cookie`: the cookies a script on the page can read.
    pub cookie: String,
}

/// A chromedriver-specific endpoint under `/session/{id}/`, sent with [`Client::issue_cmd`].
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/{}", session_id.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(self.body.to_string()))
    }
}

/// chromedriver in its own process group, with the temp dir that holds its log and the profile.
/// Dropping it stops chromedriver and every Chromium process it started, even when a failed
/// test never ended the session.
struct Driver {
    child: Child,
    dir: tempfile::TempDir,
}

impl Driver {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (`process_group(0)`); Chromium inherits the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver on `port` and waits (bounded) until it says it listens there; its log when
/// it exits or does not say so in time.
async fn start_driver(port: u16) -> Result<Driver, String> {
    let dir = tempfile::tempdir().expect("temp dir for the browser");
    let log = File::create(dir.path().join("chromedriver.log")).expect("chromedriver log file");
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(log.try_clone().expect("log file handle"))
        .stderr(log)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot start {CHROMEDRIVER} ({err}): run scripts/test, which installs chromium and chromium-driver")
        });
    let mut driver = Driver { child, dir };
    let deadline = Instant::now() + PATIENCE;
    // The log line, not a successful connect: the port may answer for someone else.
    let listening = format!("started successfully on port {port}");
    loop {
        if driver.log().contains(&listening) {
            return Ok(driver);
        }
        if let Ok(Some(status)) = driver.child.try_wait() {
            return Err(format!("exited with {status}: {}", driver.log()));
        }
        if Instant::now() >= deadline {
            return Err(format!("not listening within {PATIENCE:?}: {}", driver.log()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running chromedriver with one headless Chromium session.
pub struct Browser {
    client: Client,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile and a 1280×900 window.
    /// Host names other than loopback do not resolve, so no test reaches the internet.
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing (Debian package {package}): run scripts/test, which installs chromium and chromium-driver"
            );
        }
        // A free port can be taken by another test's server between our choosing it and
        // chromedriver binding it; chromedriver then exits, and a fresh port is tried.
        let mut attempts = 0;
        let (driver, port) = loop {
            attempts += 1;
            let port = free_port();
            match start_driver(port).await {
                Ok(driver) => break (driver, port),
                Err(log) if attempts < 5 && log.contains("Address already in use") => continue,
                Err(log) => panic!("chromedriver did not start on port {port}: {log}"),
            }
        };
        let profile = driver.dir.path().join("profile");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1280,900",
                    // Only loopback resolves: the emulator hands out Atlassian's real avatar URLs,
                    // and a test must neither wait for nor depend on the internet.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("a JSON object") };
        let capabilities: Capabilities = capabilities;
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|err| panic!("chromedriver could not start Chromium ({err}): {}", driver.log()));
        Browser { client, driver }
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|err| panic!("cannot open {url}: {err}"));
    }

    /// The address in the address bar.
    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("the current URL").to_string()
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// Clicks the first link whose text is `text` and waits for the next page.
    pub async fn click_link(&self, text: &str) {
        self.click(&format!("//a[normalize-space(.)={}]", xpath_literal(text)), text).await;
    }

    /// Clicks the button labelled `label` and waits for the next page.
    pub async fn click_button(&self, label: &str) {
        self.click(&format!("//button[normalize-space(.)={}]", xpath_literal(label)), label).await;
    }

    async fn click(&self, xpath: &str, what: &str) {
        let before = self.url().await;
        let element = match self.client.find(Locator::XPath(xpath)).await {
            Ok(element) => element,
            Err(err) => panic!("no “{what}” on {before} ({err}); the page says:\n{}", self.text().await),
        };
        element.click().await.unwrap_or_else(|err| panic!("cannot click “{what}” on {before}: {err}"));
        // chromedriver waits for a navigation the click started; make sure the new page is complete.
        self.wait_until_loaded().await;
    }

    /// Waits until the document has finished loading.
    pub async fn wait_until_loaded(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let state = self.client.execute("return document.readyState", vec![]).await;
            if matches!(state, Ok(Value::String(ref s)) if s == "complete") {
                return;
            }
            assert!(Instant::now() < deadline, "the page did not finish loading within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the page's text contains `needle`, and returns that text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                panic!("“{needle}” did not appear within 10 s on {}; the page says:\n{text}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `localStorage`, `sessionStorage` and `document.cookie` of the current page, read by a
    /// script the driver runs (the page's CSP does not apply to WebDriver's scripts).
    pub async fn storage(&self) -> PageStorage {
        const SCRIPT: &str = "
            const pairs = (s) => Object.keys(s).map((k) => [k, s.getItem(k)]);
            return { local: pairs(localStorage), session: pairs(sessionStorage), cookie: document.cookie };";
        let value = self.client.execute(SCRIPT, vec![]).await.expect("reading the page's storage");
        serde_json::from_value(value).expect("storage as key/value pairs")
    }

    /// The entries of the browser's console log since the last call (chromedriver hands each
    /// entry out once).
    pub async fn new_log_entries(&self) -> Vec<LogEntry> {
        let command = ChromeCommand { path: "se/log", body: json!({ "type": "browser" }) };
        let entries = self.client.issue_cmd(command).await.expect("chromedriver's browser log");
        serde_json::from_value(entries).expect("log entries")
    }

    /// Saves a PNG of the whole page (not just the window) as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let (width, height) = (size["width"].as_f64().unwrap_or(1280.0), size["height"].as_f64().unwrap_or(900.0));
        let params = json!({
            "format": "png",
            "captureBeyondViewport": true,
            // Long pages are cut at 4000 px: enough to judge them, small enough to look at.
            "clip": { "x": 0, "y": 0, "width": width, "height": height.min(4000.0), "scale": 1 },
        });
        let shot = self.cdp("Page.captureScreenshot", params).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        path
    }

    /// Lays pages out as a phone (`mobile`, honouring the viewport meta tag) or a desktop window
    /// of `width`×`height` CSS pixels, from the next navigation on.
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        let params = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile });
        self.cdp("Emulation.setDeviceMetricsOverride", params).await;
    }

    /// How wide the document is and how wide the window: a page scrolls sideways when the first
    /// is larger.
    pub async fn widths(&self) -> (f64, f64) {
        let script = "return [document.documentElement.scrollWidth, window.innerWidth];";
        let value = self.client.execute(script, vec![]).await.expect("the page's widths");
        let number = |v: &Value| v.as_f64().expect("a width");
        (number(&value[0]), number(&value[1]))
    }

    /// A Chrome DevTools Protocol command through chromedriver's `goog/cdp/execute`.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let command = ChromeCommand { path: "goog/cdp/execute", body: json!({ "cmd": cmd, "params": params }) };
        self.client.issue_cmd(command).await.unwrap_or_else(|err| panic!("{cmd}: {err}"))
    }

    /// Ends the session (Chromium quits), then stops chromedriver.
    pub async fn close(self) {
        let Browser { client, driver } = self;
        let _ = client.close().await;
        drop(driver);
    }
}

/// `target/screenshots`, under `CARGO_TARGET_DIR` when it is set.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}

/// `text` as an XPath string literal (ours never hold both kinds of quote).
fn xpath_literal(text: &str) -> String {
    if text.contains('\'') { format!("\"{text}\"") } else { format!("'{text}'") }
}
