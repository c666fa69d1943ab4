//! A private redis-server per test: its own temp dir and port, stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server that belongs to one test.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
    /// Set for a TLS-only server: the self-signed certificate that clients must trust.
    tls_cert: Option<std::path::PathBuf>,
    /// Set for a server that requires this ACL user (`app`) password.
    password: Option<String>,
    /// The ACL rules of user `app` (all commands and keys unless set).
    rules: Option<Vec<String>>,
}

/// A port that was free a moment ago, and that no other test of this process was given: the
/// kernel may hand a released port out again at once, and two servers of parallel tests (an nginx
/// and a chromedriver, say) would then race for it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("no free port on 127.0.0.1");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no port on 127.0.0.1 that was not given out already");
}

impl RedisServer {
    /// Starts redis-server, failing loudly when it is not installed.
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let mut server =
            RedisServer { child: None, port: free_port(), _dir: dir, tls_cert: None, password: None, rules: None };
        server.spawn();
        server
    }

    /// Starts redis-server speaking only TLS, with a certificate for 127.0.0.1 from a fresh test CA
    /// (made with the `openssl` command line tool).
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        std::fs::write(path("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("write the extension file");
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=threelo test CA",
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.pem"),
            ],
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                &path("key.pem"),
                "-out",
                &path("leaf.csr"),
            ],
            &[
                "x509",
                "-req",
                "-days",
                "1",
                "-in",
                &path("leaf.csr"),
                "-CA",
                &path("ca.pem"),
                "-CAkey",
                &path("ca.key"),
                "-CAcreateserial",
                "-extfile",
                &path("san.ext"),
                "-out",
                &path("cert.pem"),
            ],
        ];
        for args in steps {
            let made = Command::new("openssl").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
            assert!(made.is_ok_and(|s| s.success()), "openssl (needed for the TLS test) failed: openssl {args:?}");
        }
        let ca = dir.path().join("ca.pem");
        let mut server =
            RedisServer { child: None, port: free_port(), _dir: dir, tls_cert: Some(ca), password: None, rules: None };
        server.spawn();
        server
    }

    /// Starts redis-server with an ACL user `app` (password `password`) and no default user.
    pub fn start_with_user(password: &str) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            _dir: dir,
            tls_cert: None,
            password: Some(password.to_owned()),
            rules: None,
        };
        server.spawn();
        server
    }

    /// Starts redis-server whose user `app` (password `password`) may do only what `rules` allow
    /// (ACL rules such as `~threelo:*`, `+get`), and no default user.
    pub fn start_with_rules(password: &str, rules: &[&str]) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            _dir: dir,
            tls_cert: None,
            password: Some(password.to_owned()),
            rules: Some(rules.iter().map(|r| r.to_string()).collect()),
        };
        server.spawn();
        server
    }

    /// The CA certificate clients of a TLS server must trust (None for a plain server).
    pub fn tls_cert(&self) -> Option<&std::path::Path> {
        self.tls_cert.as_deref()
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]).arg("--dir").arg(self._dir.path());
        if let Some(password) = &self.password {
            let secret = format!(">{password}");
            command.args(["--user", "default", "off", "--user", "app", "on", &secret]);
            match &self.rules {
                Some(rules) => command.args(rules),
                None => command.args(["~*", "&*", "+@all"]),
            };
        }
        match &self.tls_cert {
            None => command.args(["--port", &self.port.to_string()]),
            Some(_) => command
                .args(["--port", "0", "--tls-port", &self.port.to_string(), "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(self._dir.path().join("cert.pem"))
                .arg("--tls-key-file")
                .arg(self._dir.path().join("key.pem")),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start redis-server ({err}). The tests need it: run `scripts/test`, which installs it, or `apt-get install redis-server`")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = None;
        while Instant::now() < deadline {
            match self.connection() {
                Ok(_) => return,
                Err(err) => last = Some(err),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {} within 10 s: {last:?}", self.port);
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://…` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls_cert.is_some() { "rediss" } else { "redis" };
        let credentials = self.password.as_ref().map(|p| format!("app:{p}@")).unwrap_or_default();
        format!("{scheme}://{credentials}127.0.0.1:{}", self.port)
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = match &self.tls_cert {
            None => redis::Client::open(self.url())?,
            Some(cert) => {
                let root_cert = std::fs::read(cert).map_err(redis::RedisError::from)?;
                let tls = redis::TlsCertificates { client_tls: None, root_cert: Some(root_cert) };
                redis::Client::build_with_tls(self.url(), tls)?
            }
        };
        let mut conn = client.get_connection_with_timeout(Duration::from_millis(500))?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        Ok(conn)
    }

    /// Every key with its value (strings as they are; other types rendered as text).
    pub fn dump(&self) -> Vec<(String, String)> {
        let mut conn = self.connection().expect("redis connection");
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("KEYS");
        keys.into_iter()
            .map(|key| {
                let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).expect("TYPE");
                let value = match kind.as_str() {
                    "string" => redis::cmd("GET").arg(&key).query::<String>(&mut conn).expect("GET"),
                    "set" => {
                        redis::cmd("SMEMBERS").arg(&key).query::<Vec<String>>(&mut conn).expect("SMEMBERS").join(" ")
                    }
                    "hash" => {
                        redis::cmd("HGETALL").arg(&key).query::<Vec<String>>(&mut conn).expect("HGETALL").join(" ")
                    }
                    "zset" => redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<String>>(&mut conn)
                        .expect("ZRANGE")
                        .join(" "),
                    "list" => redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<String>>(&mut conn)
                        .expect("LRANGE")
                        .join(" "),
                    other => format!("<{other}>"),
                };
                (key, value)
            })
            .collect()
    }

    /// Overwrites `key` with `value`, keeping its TTL (to plant stale or forged values).
    pub fn set(&self, key: &str, value: &str) {
        let mut conn = self.connection().expect("redis connection");
        redis::cmd("SET").arg(key).arg(value).arg("KEEPTTL").query::<()>(&mut conn).expect("SET");
    }

    /// The TTL of `key` in seconds (-1 none, -2 missing).
    pub fn ttl(&self, key: &str) -> i64 {
        let mut conn = self.connection().expect("redis connection");
        redis::cmd("TTL").arg(key).query(&mut conn).expect("TTL")
    }

    /// Stops the server (for outage tests); `restart` brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (the tests run it without persistence).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Saves the data to disk and stops the server, as an operator's restart of a persistent Redis
    /// would; `start_again` then loads it back.
    pub fn stop_keeping_data(&mut self) {
        let mut conn = self.connection().expect("redis connection");
        redis::cmd("SAVE").query::<()>(&mut conn).expect("SAVE");
        self.stop();
    }

    /// Starts a stopped server again on the same port, loading what `stop_keeping_data` saved.
    pub fn start_again(&mut self) {
        self.spawn();
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing answers, as with a wedged
    /// host or a network partition. `thaw` lets it go on.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
