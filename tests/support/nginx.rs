//! A private nginx (Debian's package) in front of an app, serving it under a path prefix, stopped
//! when dropped. Configured like `config/nginx/threelo.conf`, minus TLS.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::redis::free_port;

/// A running nginx that belongs to one test.
pub struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Proxies `http://127.0.0.1:<port>{prefix}/` to the app at `upstream` (host:port), forwarding the
    /// path unchanged and appending to X-Forwarded-For, as the deployment docs say.
    pub fn start(prefix: &str, upstream: &str) -> Nginx {
        Nginx::start_pool(prefix, &[upstream.to_owned()], "", "")
    }

    /// Proxies `{prefix}/` to every instance in `upstreams`, each `server` line with `params`
    /// (e.g. `max_fails=0`), and `location_extra` in the location (e.g. `proxy_next_upstream`).
    pub fn start_pool(prefix: &str, upstreams: &[String], params: &str, location_extra: &str) -> Nginx {
        let servers: String = upstreams.iter().map(|u| format!("server {u} {params}; ")).collect();
        let dir = tempfile::tempdir().expect("temp dir for nginx");
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "user root;
master_process off;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream threelo {{ {servers}keepalive 8; }}
  server {{
    listen 127.0.0.1:{port};
    location {prefix}/ {{
      proxy_pass http://threelo;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
      {location_extra}
    }}
  }}
}}
"
        );
        // `master_process off`: one process, so killing it on drop leaves no worker behind.
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).expect("write nginx.conf");
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start nginx ({err}). The tests need it: run `scripts/test`, which installs it, or `apt-get install nginx`")
            });
        let nginx = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen within 10 s: {}", nginx.error_log());
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// nginx's error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
