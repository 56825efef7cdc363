//! Garage (S3): a single node or a cluster of nodes on loopback.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{find_program, free_port, Server};

/// Where `.ci/run` installs Garage 2.5.0 (`cargo install --root`).
pub const GARAGE_CI_PATH: &str = "/opt/stowage-ci/garage-2.5.0/bin/garage";
/// The test access key id (Garage's format: `GK` + 24 hex digits).
pub const GARAGE_KEY_ID: &str = "GK0123456789abcdef01234567";
/// The test secret key (64 hex digits).
pub const GARAGE_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// The region the nodes answer to.
pub const GARAGE_REGION: &str = "garage";
/// The bucket created for the tests.
pub const GARAGE_BUCKET: &str = "stowage-test";

const RPC_SECRET: &str = "5f4b7a3c2e1d0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a";

struct Node {
    config: PathBuf,
    s3_port: u16,
    server: Server,
}

/// Running Garage nodes sharing one layout (replication factor = number
/// of nodes), with [`GARAGE_BUCKET`] and the test key allowed on it.
pub struct Garage {
    dir: tempfile::TempDir,
    program: PathBuf,
    nodes: Vec<Node>,
}

impl Garage {
    /// One node, replication factor 1; `None` (after `SKIPPED`) when Garage
    /// is missing (`$STOWAGE_GARAGE`, [`GARAGE_CI_PATH`], or `garage` on
    /// `PATH`).
    pub fn start() -> Option<Self> {
        Self::start_cluster(1)
    }

    /// `n` nodes, one zone each, replication factor `n`.
    pub fn start_cluster(n: usize) -> Option<Self> {
        let program = find_program("garage", Some("STOWAGE_GARAGE"), &[GARAGE_CI_PATH])?;
        let dir = tempfile::Builder::new()
            .prefix("stowage-garage-")
            .tempdir()
            .expect("garage directory");
        let mut nodes = Vec::new();
        let mut rpc_ports = Vec::new();
        for i in 0..n {
            let node_dir = dir.path().join(format!("node{i}"));
            fs::create_dir_all(node_dir.join("meta")).expect("garage meta dir");
            fs::create_dir_all(node_dir.join("data")).expect("garage data dir");
            let (rpc, s3) = (free_port(), free_port());
            let config = node_dir.join("garage.toml");
            let d = node_dir.display();
            fs::write(
                &config,
                format!(
                    "metadata_dir = \"{d}/meta\"\n\
                     data_dir = \"{d}/data\"\n\
                     db_engine = \"lmdb\"\n\
                     replication_factor = {n}\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_secret = \"{RPC_SECRET}\"\n\
                     [s3_api]\n\
                     s3_region = \"{GARAGE_REGION}\"\n\
                     api_bind_addr = \"127.0.0.1:{s3}\"\n\
                     root_domain = \".s3.garage.localhost\"\n"
                ),
            )
            .expect("writing garage.toml");
            let server = Self::spawn(&program, &config, s3);
            rpc_ports.push(rpc);
            nodes.push(Node {
                config,
                s3_port: s3,
                server,
            });
        }
        let garage = Self {
            dir,
            program,
            nodes,
        };
        garage.configure(&rpc_ports);
        Some(garage)
    }

    fn spawn(program: &Path, config: &Path, s3_port: u16) -> Server {
        let mut cmd = Command::new(program);
        cmd.arg("-c").arg(config).arg("server");
        cmd.env("RUST_LOG", "garage=warn");
        let log = config.with_file_name("garage.log");
        let mut server = Server::spawn("garage", cmd, &log);
        server.wait_port(s3_port, Duration::from_secs(30));
        server
    }

    /// `garage -c <node 0's config> ARGS`, retried for up to 30 s while the
    /// cluster settles; the output on success.
    fn cli(&self, args: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let out = Command::new(&self.program)
                .arg("-c")
                .arg(&self.nodes[0].config)
                .args(args)
                .env("RUST_LOG", "garage=warn")
                .output()
                .expect("running garage");
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "garage {args:?} failed: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.nodes[0].server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn node_id(&self, i: usize) -> String {
        let out = Command::new(&self.program)
            .arg("-c")
            .arg(&self.nodes[i].config)
            .args(["node", "id", "-q"])
            .output()
            .expect("garage node id");
        assert!(out.status.success(), "garage node id: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().split('@').next().unwrap_or("").to_string()
    }

    fn configure(&self, rpc_ports: &[u16]) {
        self.cli(&["status"]);
        let ids: Vec<String> = (0..self.nodes.len()).map(|i| self.node_id(i)).collect();
        for (id, port) in ids.iter().zip(rpc_ports).skip(1) {
            self.cli(&["node", "connect", &format!("{id}@127.0.0.1:{port}")]);
        }
        for (i, id) in ids.iter().enumerate() {
            self.cli(&["layout", "assign", "-z", &format!("dc{i}"), "-c", "1G", id]);
        }
        self.cli(&["layout", "apply", "--version", "1"]);
        self.cli(&[
            "key",
            "import",
            "--yes",
            "-n",
            "stowage",
            GARAGE_KEY_ID,
            GARAGE_SECRET,
        ]);
        self.cli(&["bucket", "create", GARAGE_BUCKET]);
        self.cli(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            GARAGE_BUCKET,
            "--key",
            "stowage",
        ]);
    }

    /// The S3 endpoint of node `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    /// `s3://stowage-test/PREFIX?endpoint=<node 0>&region=garage&path_style=true`.
    pub fn url(&self, prefix: &str) -> String {
        format!(
            "s3://{GARAGE_BUCKET}/{prefix}?endpoint={}&region={GARAGE_REGION}&path_style=true",
            self.endpoint(0)
        )
    }

    /// Node `i`'s process (to kill it).
    pub fn node(&mut self, i: usize) -> &mut Server {
        &mut self.nodes[i].server
    }

    /// Starts node `i` again with its data (after a kill).
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].server.kill();
        let (config, port) = (self.nodes[i].config.clone(), self.nodes[i].s3_port);
        self.nodes[i].server = Self::spawn(&self.program, &config, port);
    }

    /// The directory holding every node's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
