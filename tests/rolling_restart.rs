//! A rolling restart of two instances behind the real nginx, configured with the upstream
//! parameters of the shipped `config/nginx/threelo.conf` and restarted the way
//! docs/self-hosting.md does it (one at a time, the next once `/readyz` answers), under load:
//! not one request may fail.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::nginx::Nginx;
use support::{RedisServer, browser_with_jar, env_for, free_port, start_emulator};

/// The parameters of the shipped config's `server` lines (e.g. `max_fails=0`) and its
/// `proxy_next_upstream*` lines, so that this test drives what operators install.
fn shipped_nginx_settings() -> (String, String) {
    let config = include_str!("../config/nginx/threelo.conf");
    let server = config
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("server 127.0.0.1:8080"))
        .expect("the shipped upstream has a server line for 127.0.0.1:8080");
    let params = server.trim_end_matches(';').split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
    let retries: String = config
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("proxy_next_upstream"))
        .map(|l| format!("{l} "))
        .collect();
    assert!(retries.contains("proxy_next_upstream error"), "the shipped config retries on errors");
    (params, retries)
}

struct Instance {
    child: Option<Child>,
    port: u16,
}

impl Instance {
    fn start(env: &[(String, String)], port: u16) -> Instance {
        let child = Command::new(env!("CARGO_BIN_EXE_threelo"))
            .arg("serve")
            .envs(env.iter().cloned())
            .env("THREELO_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("threelo starts");
        Instance { child: Some(child), port }
    }

    /// SIGTERM, and wait for the exit (threelo drains in-flight requests first).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The guide's loop: wait (bounded) until the instance's own `/readyz` answers 200.
async fn until_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/atl/readyz")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "instance {port} not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn restarting_both_instances_in_turn_behind_nginx_under_load_fails_no_request() {
    let redis = RedisServer::start();
    let emulator = start_emulator().await;
    let ports = [free_port(), free_port()];
    let (params, retries) = shipped_nginx_settings();
    let upstreams: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let nginx = Nginx::start_pool("/atl", &upstreams, &params, &retries);
    let public = format!("{}/atl", nginx.origin());
    emulator.add_redirect_uri(&format!("{public}/auth/callback"));
    let mut env = env_for(&public, &emulator, Some(&redis));
    env.push(("THREELO_TRUSTED_PROXIES".to_owned(), "127.0.0.1/32".to_owned()));
    let mut instances: Vec<Instance> = ports.iter().map(|p| Instance::start(&env, *p)).collect();
    for port in ports {
        until_ready(port).await;
    }
    let (client, _) = browser_with_jar();
    support::sign_in(&client, &format!("{public}/auth/login")).await;
    assert!(support::signed_in_at(&client, &format!("{public}/")).await);

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, stop) = (client.clone(), format!("{public}/"), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match client.get(&url).send().await {
                        Ok(answer) if answer.status().is_success() => ok += 1,
                        Ok(answer) => failed.push(answer.status().to_string()),
                        Err(err) => failed.push(err.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    for instance in &mut instances {
        instance.stop();
        // A real restart takes a moment: systemd runs check-config first, a new binary loads.
        tokio::time::sleep(Duration::from_secs(1)).await;
        *instance = Instance::start(&env, instance.port);
        until_ready(instance.port).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut ok, mut failed) = (0, Vec::new());
    for task in load {
        let (o, f) = task.await.expect("a load task");
        ok += o;
        failed.extend(f);
    }
    eprintln!("rolling restart: {ok} requests answered 200, {} failed", failed.len());
    assert!(ok > 50, "the load really ran: {ok}");
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}\n{}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(10)],
        nginx.error_log()
    );
}
