//! What one client can hold of a real `threelo serve` over raw TCP: oversized heads, a head that
//! never finishes, a body that stalls; and that none of these client mistakes is logged at ERROR.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{RedisServer, env_for, free_port, start_emulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A `threelo serve` child process with its log, killed when dropped.
struct Serve {
    child: Child,
    log: tempfile::NamedTempFile,
    address: String,
    _redis: RedisServer,
    _emulator: threelo_emulator::Emulator,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts the binary as an operator would, with its default log filter (no RUST_LOG).
    async fn start() -> Serve {
        let redis = RedisServer::start();
        let emulator = start_emulator().await;
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_threelo"));
        for (name, _) in std::env::vars() {
            if name.starts_with("THREELO_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let child = command
            .envs(env_for(&format!("http://{address}"), &emulator, Some(&redis)))
            .env("THREELO_LISTEN", &address)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .expect("threelo serve starts");
        let serve = Serve { child, log, address, _redis: redis, _emulator: emulator };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = reqwest::get(format!("http://{}/healthz", serve.address)).await;
            if up.is_ok_and(|r| r.status() == StatusCode::OK) {
                return serve;
            }
            assert!(Instant::now() < deadline, "serve did not come up:\n{}", serve.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        let mut text = String::new();
        let _ = self.log.reopen().and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.address).await.expect("connect")
    }
}

/// Sends `bytes` (ignoring a write the server cut short) and returns what came back until the
/// server closed the connection, or `None` if it was still open after `within`.
async fn exchange(stream: &mut TcpStream, bytes: &[u8], within: Duration) -> Option<String> {
    let _ = stream.write_all(bytes).await;
    read_until_closed(stream, within).await
}

/// Everything the server sends until it closes the connection (a reset counts as closed), or
/// `None` if it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A GET of `/healthz` whose head carries `padding` bytes in one header.
fn get_with_padding(padding: usize) -> Vec<u8> {
    format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(padding)
    )
    .into_bytes()
}

#[tokio::test]
async fn heads_over_the_limit_get_431_and_no_client_mistake_is_logged_at_error() {
    let serve = Serve::start().await;
    let bound = Duration::from_secs(10);

    // Room for big cookies: a 20 KiB head is still served.
    let fine = exchange(&mut serve.connect().await, &get_with_padding(20 * 1024), bound).await;
    assert!(fine.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")), "a 20 KiB head: {fine:?}");

    // 64 KiB: over our limit (32 KiB), within actix's buffer.
    let big = exchange(&mut serve.connect().await, &get_with_padding(64 * 1024), bound).await;
    assert!(big.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 431")), "a 64 KiB head: {big:?}");

    // 200 KiB: past actix's own buffer; a 431 or a closed connection, either way no ERROR.
    let huge = exchange(&mut serve.connect().await, &get_with_padding(200 * 1024), bound).await;
    let huge = huge.expect("the connection of a 200 KiB head is closed");
    assert!(huge.is_empty() || huge.starts_with("HTTP/1.1 431"), "a 200 KiB head: {huge}");

    // And a request that is not HTTP at all.
    let garbage = exchange(&mut serve.connect().await, b"NONSENSE \x01\x02\r\n\r\n", bound).await;
    assert!(garbage.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 400")), "garbage: {garbage:?}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = serve.log();
    assert!(log.contains("\"status\":431"), "the log is being captured, with the 431:\n{log}");
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("\"level\":\"ERROR\"")).collect();
    assert!(errors.is_empty(), "client mistakes logged at ERROR:\n{}", errors.join("\n"));
}

#[tokio::test]
async fn a_head_that_never_finishes_is_dropped_after_the_head_timeout() {
    let serve = Serve::start().await;
    let mut stream = serve.connect().await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.expect("half a head");
    // The head timeout is 5 s; the bound only says "dropped, not kept", it is no speed check.
    let answer = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    let answer = answer.expect("the connection of a stalled head is closed");
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_request_body_that_stalls_is_cut_off_and_its_connection_closed() {
    let serve = Serve::start().await;
    let fixed = b"POST /auth/logout HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ncsrf=abcde";
    let chunked = b"POST /auth/logout HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ncsrf=\r\n";
    let (mut first, mut second) = (serve.connect().await, serve.connect().await);
    // Both at once, so the test waits for the body timeout (10 s) once.
    let (fixed, chunked) = tokio::join!(
        exchange(&mut first, fixed, Duration::from_secs(30)),
        exchange(&mut second, chunked, Duration::from_secs(30)),
    );
    for (kind, answer) in [("Content-Length", fixed), ("chunked", chunked)] {
        let answer = answer.unwrap_or_else(|| panic!("a stalled {kind} body still holds its connection after 30 s"));
        assert!(answer.starts_with("HTTP/1.1 408"), "a stalled {kind} body: {answer}");
    }
    let log = serve.log();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("\"level\":\"ERROR\"")).collect();
    assert!(errors.is_empty(), "a slow client logged at ERROR:\n{}", errors.join("\n"));
}
