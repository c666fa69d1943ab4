//! Real Redis deployments beyond one server, started by the tests: a Redis Cluster (three
//! primaries with a replica each) and a Sentinel set (a primary, a replica, three Sentinels).
//! Each on free ports in a temp dir; every process is killed when the value is dropped.
//!
//! A file's tests may share one deployment ([`shared`]): it lives while any of them holds it.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::redis::free_port;

/// One redis-server process (a data node or a Sentinel).
pub struct Node {
    pub port: u16,
    child: Option<Child>,
}

impl Node {
    fn start(dir: &std::path::Path, port: u16, args: &[&str]) -> Node {
        let node_dir = dir.join(port.to_string());
        std::fs::create_dir_all(&node_dir).expect("node dir");
        let child = Command::new("redis-server")
            .args(args)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start redis-server ({err}); run `scripts/test`, which installs it"));
        let node = Node { port, child: Some(child) };
        node.wait_until_it_answers();
        node
    }

    fn start_sentinel(dir: &std::path::Path, port: u16, primary: u16) -> Node {
        let config = dir.join(format!("sentinel-{port}.conf"));
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor mymaster 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 4000\n\
                 sentinel parallel-syncs mymaster 1\n",
                dir = dir.display()
            ),
        )
        .expect("sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start redis-server --sentinel ({err})"));
        let node = Node { port, child: Some(child) };
        node.wait_until_it_answers();
        node
    }

    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.query(&["PING"]).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer within 10 s", self.port);
    }

    /// Runs one command on this node.
    pub fn query(&self, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))?;
        let mut conn = client.get_connection_with_timeout(Duration::from_millis(500))?;
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut conn)
    }

    /// A command's answer as text (bulk strings and status lines).
    pub fn text(&self, args: &[&str]) -> String {
        match self.query(args) {
            Ok(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(redis::Value::SimpleString(text)) => text,
            Ok(redis::Value::Okay) => "OK".to_owned(),
            Ok(redis::Value::VerbatimString { text, .. }) => text,
            other => format!("{other:?}"),
        }
    }

    /// Kills the process at once (SIGKILL), as a crashed host would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three primaries, each with one replica.
pub struct Cluster {
    pub nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir for the cluster");
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                Node::start(
                    dir.path(),
                    free_port(),
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-config-file",
                        "nodes.conf",
                    ],
                )
            })
            .collect();
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli runs (package redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Cluster { nodes, _dir: dir };
        cluster.wait_until_ok();
        cluster
    }

    /// Waits until every running node says the cluster is ok and knows all six nodes' roles.
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = self
                .nodes
                .iter()
                .filter(|n| n.is_running())
                .all(|n| n.text(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the cluster did not become ok within 30 s");
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// A URL with only the first node as a seed (the client learns the others from it).
    pub fn one_seed_url(&self) -> String {
        format!("redis+cluster://127.0.0.1:{}", self.nodes[0].port)
    }

    /// The index of the running primary that owns `key`'s slot.
    pub fn primary_of(&self, key: &str) -> usize {
        // Only the owner answers a GET; the other primaries answer MOVED.
        self.nodes
            .iter()
            .position(|n| n.is_running() && n.text(&["ROLE"]).contains("master") && n.query(&["GET", key]).is_ok())
            .expect("a primary for the key's slot")
    }

    /// Every key on the running primaries starting with `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            if let Ok(redis::Value::Array(found)) = node.query(&["KEYS", &format!("{prefix}*")]) {
                if !node.text(&["ROLE"]).contains("master") {
                    continue;
                }
                for key in found {
                    if let redis::Value::BulkString(bytes) = key {
                        keys.push(String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
        }
        keys
    }

    /// Zeroes every node's command statistics.
    pub fn reset_stats(&self) {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let _ = node.query(&["CONFIG", "RESETSTAT"]);
        }
    }

    /// Commands the primaries ran since [`Cluster::reset_stats`] (what clients sent; replicas
    /// apply the same writes again, so they are not counted), without the test's own and the
    /// cluster client's slot-map questions.
    pub fn commands_since_reset(&self) -> u64 {
        let mut total = 0;
        for node in self.nodes.iter().filter(|n| n.is_running() && n.text(&["ROLE"]).contains("master")) {
            for line in node.text(&["INFO", "commandstats"]).lines() {
                let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) else {
                    continue;
                };
                if ["config", "info", "cluster", "role", "keys", "wait"].iter().any(|own| name.starts_with(own)) {
                    continue;
                }
                let calls = rest.split(',').find_map(|f| f.strip_prefix("calls=")).and_then(|c| c.parse::<u64>().ok());
                total += calls.unwrap_or(0);
            }
        }
        total
    }

    /// Waits until the replicas have every write their primaries acknowledged.
    pub fn replicate(&self) {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            if node.text(&["ROLE"]).contains("master") {
                let _ = node.query(&["WAIT", "1", "2000"]);
            }
        }
    }
}

/// A primary, its replica and three Sentinels watching them as `mymaster`.
pub struct SentinelSet {
    pub primary: Node,
    pub replica: Node,
    pub sentinels: Vec<Node>,
    _dir: tempfile::TempDir,
}

impl SentinelSet {
    pub fn start() -> SentinelSet {
        let dir = tempfile::tempdir().expect("temp dir for the Sentinel set");
        let primary = Node::start(dir.path(), free_port(), &[]);
        let primary_port = primary.port.to_string();
        let replica = Node::start(dir.path(), free_port(), &["--replicaof", "127.0.0.1", &primary_port]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !replica.text(&["INFO", "replication"]).contains("master_link_status:up") {
            assert!(Instant::now() < deadline, "the replica did not sync within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let sentinels: Vec<Node> =
            (0..3).map(|_| Node::start_sentinel(dir.path(), free_port(), primary.port)).collect();
        let set = SentinelSet { primary, replica, sentinels, _dir: dir };
        // Every Sentinel must know the replica and the other Sentinels before a failover can work.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = set
                .sentinels
                .iter()
                .all(|s| sentinel_field(s, "num-slaves") == "1" && sentinel_field(s, "num-other-sentinels") == "2");
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "the Sentinels did not find each other within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        set
    }

    /// `redis+sentinel://` listing the three Sentinels, for master `mymaster`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinels.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        format!("redis+sentinel://{}/mymaster", hosts.join(","))
    }

    /// Waits until the replica has every write the primary acknowledged.
    pub fn replicate(&self) {
        let _ = self.primary.query(&["WAIT", "1", "2000"]);
    }
}

/// One field of `SENTINEL MASTER mymaster` on Sentinel `s`.
fn sentinel_field(s: &Node, name: &str) -> String {
    let Ok(redis::Value::Array(items)) = s.query(&["SENTINEL", "MASTER", "mymaster"]) else { return String::new() };
    let texts: Vec<String> = items
        .into_iter()
        .map(|v| match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    texts.iter().position(|t| t == name).and_then(|i| texts.get(i + 1)).cloned().unwrap_or_default()
}

/// The deployment `start` makes, shared by the tests of one file that run at the same time; it
/// stops (Drop) when the last of them ends.
pub fn shared<T>(slot: &'static Mutex<Weak<T>>, start: impl FnOnce() -> T) -> Arc<T> {
    let mut held = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(running) = held.upgrade() {
        return running;
    }
    let made = Arc::new(start());
    *held = Arc::downgrade(&made);
    made
}
