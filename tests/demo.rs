//! `threelo demo` as a newcomer uses it: the real binary, the emulator's real consent page, a
//! sign-in by form, and the greeting page. Only in a build with the `demo` feature (the default);
//! tests/no_demo.rs covers the build without it.
#![cfg(feature = "demo")]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{browser, free_port, location};
use threelo_emulator::seed::ids::{ACME_SITE, ALICE, BETA_SITE, BOB, BOB_NAME, CAROL};

/// Kills the demo when the test ends, however it ends.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `threelo demo` on `port` and returns it with its banner (read up to "Ctrl-C").
fn start_demo(port: u16) -> (Demo, String) {
    start_demo_with(port, &[])
}

/// `threelo demo ARGS…` on `port`, with its banner.
fn start_demo_with(port: u16, args: &[&str]) -> (Demo, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("THREELO_")) {
        command.env_remove(name);
    }
    let mut child = command
        .arg("demo")
        .args(args)
        .env("THREELO_LISTEN", format!("127.0.0.1:{port}"))
        .env("THREELO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("threelo demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let demo = Demo(child);
    let mut banner = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("banner line");
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Ctrl-C") {
            return (demo, banner);
        }
    }
    panic!("the demo exited before printing its banner:\n{banner}");
}

/// The hidden inputs of the first form in `html`, unescaped.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_demo_signs_a_user_in_through_the_consent_page_and_greets_them() {
    let port = free_port();
    let (_demo, banner) = start_demo(port);
    assert!(banner.contains(&format!("http://127.0.0.1:{port}/")), "{banner}");
    assert!(banner.contains("in-memory"), "the banner says where sessions live:\n{banner}");
    for login in [ALICE, BOB, CAROL] {
        assert!(banner.contains(login), "{login} missing from the banner:\n{banner}");
    }

    let app = format!("http://127.0.0.1:{port}");
    let client = browser();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(format!("{app}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the demo does not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let landing = client.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(landing.contains("Sign in with Atlassian"));

    let login = client.get(format!("{app}/auth/login")).send().await.unwrap();
    let authorize = location(login.headers());
    let consent = client.get(&authorize).send().await.unwrap();
    assert_eq!(consent.status(), StatusCode::OK, "a real consent page");
    let page = consent.text().await.unwrap();
    assert!(page.contains("Accept") && page.contains("Cancel") && page.contains(BOB_NAME), "{page}");

    let mut form = hidden_inputs(&page);
    assert!(form.iter().any(|(name, _)| name == "state"), "{form:?}");
    form.push(("login".into(), BOB.into()));
    form.push(("decision".into(), "accept".into()));
    let origin = authorize.split("/authorize").next().unwrap();
    let decision = client.post(format!("{origin}/authorize/decision")).form(&form).send().await.unwrap();
    assert!(decision.status().is_redirection(), "{}", decision.status());
    let callback = client.get(location(decision.headers())).send().await.unwrap();
    assert_eq!(callback.status(), StatusCode::SEE_OTHER);

    let dashboard = client.get(&app).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains(&format!("Signed in as {BOB_NAME}")), "{dashboard}");
    assert!(dashboard.contains(ACME_SITE), "bob's site is listed");
    assert!(!dashboard.contains(BETA_SITE), "bob has no access to beta");
}

#[tokio::test]
async fn the_demo_can_make_every_call_to_the_emulated_atlassian_slow() {
    let port = free_port();
    let (_demo, banner) = start_demo_with(port, &["--latency", "400", "--jitter", "100"]);
    assert!(banner.contains("each call taking 400 to 500 ms"), "{banner}");
    let emulator = banner
        .split_whitespace()
        .find(|word| word.starts_with("http://") && !word.contains(&format!(":{port}")))
        .expect("the emulator's URL in the banner")
        .trim_end_matches([',', '.']);
    let client = browser();
    let started = Instant::now();
    let answer = client.get(format!("{emulator}/me")).send().await.expect("the emulator answers");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "no token, as Atlassian answers");
    assert!(started.elapsed() >= Duration::from_millis(400), "the call waited the latency: {:?}", started.elapsed());
}
