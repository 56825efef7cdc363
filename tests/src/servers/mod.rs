//! Real servers for the network-plugin tests, started on loopback and
//! stopped by their guards: OpenSSH's `sshd` ([`Sshd`]), nginx with WebDAV
//! ([`Nginx`]), Garage ([`Garage`], one node or a cluster), and a server
//! that accepts connections and never answers ([`Staller`]).
//!
//! Each `start` picks free ports, waits for readiness with a deadline, and
//! returns `None` after a loud `SKIPPED` when the server program is missing
//! (a panic instead under `STOWAGE_REQUIRE_TOOLS`, as CI sets). Dropping a
//! server kills its process by pid and removes its files.
//!
//! The same set-ups serve users who want to run `stowage test` against
//! their own servers: each plugin's README spells the configuration out.

mod garage;
mod nginx;
mod process;
mod sshd;
mod staller;

pub use garage::{
    Garage, GARAGE_BUCKET, GARAGE_CI_PATH, GARAGE_KEY_ID, GARAGE_REGION, GARAGE_SECRET,
};
pub use nginx::{Nginx, WEBDAV_PASSWORD, WEBDAV_USER};
pub use process::{free_port, wait_for, Server};
pub use sshd::Sshd;
pub use staller::Staller;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The network plugins: (package, file name).
pub const NET_PLUGINS: [(&str, &str); 3] = [
    ("stowage-sftp", "libstowage_sftp.so"),
    ("stowage-webdav", "libstowage_webdav.so"),
    ("stowage-s3", "libstowage_s3.so"),
];

/// Builds the `stowage` binary, the real plugins and the network plugins
/// (debug), once per test process; returns `target/debug`.
pub fn build_net_plugins() -> PathBuf {
    static CELL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = CELL.get_or_init(|| {
        let dir = crate::build_plugins();
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "--quiet"])
            .current_dir(crate::workspace_root())
            .env_remove("RUST_LOG");
        for (package, _) in NET_PLUGINS {
            cmd.args(["-p", package]);
        }
        let out = cmd.output().map_err(|e| format!("running cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building the network plugins failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir)
    });
    match built {
        Ok(dir) => dir.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// A temporary plugin directory holding the network plugin of `scheme`
/// (`sftp`, `webdav`, `s3`).
pub fn net_plugin_dir(scheme: &str) -> tempfile::TempDir {
    build_net_plugins();
    let file = NET_PLUGINS
        .iter()
        .find(|(package, _)| package.strip_prefix("stowage-") == Some(scheme))
        .unwrap_or_else(|| panic!("no network plugin for {scheme}"))
        .1;
    crate::plugin_dir_with(&[file])
}

/// The program `name`: `$ENV_VAR` if set, else the first of `candidates`
/// that exists, else `name` on `PATH`. When none is found: `SKIPPED` and
/// `None`, or a panic under `STOWAGE_REQUIRE_TOOLS` (see
/// [`crate::require_tool`]).
pub fn find_program(name: &str, env_var: Option<&str>, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = env_var.and_then(std::env::var_os).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "${} = {} does not exist",
            env_var.unwrap_or(""),
            p.display()
        );
        return Some(p);
    }
    if let Some(p) = candidates.iter().map(Path::new).find(|p| p.is_file()) {
        return Some(p.to_path_buf());
    }
    if crate::require_tool(name) {
        crate::find_in_path(name)
    } else {
        None
    }
}

/// Whether this process runs as root (servers then need `user root;` and
/// the like).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `stowage test URL` twice (the second run proves the first left
/// nothing in the way) and asserts both pass with more than 30 checks.
pub fn conformance_twice(cli: &crate::Cli, url: &str) {
    for round in 1..=2 {
        let out = cli.run(["test", url]);
        assert_eq!(out.code, 0, "round {round}:\n{out}");
        let last = out.out.lines().last().unwrap_or_default().to_string();
        let (passed, rest) = last
            .split_once(" passed, ")
            .unwrap_or_else(|| panic!("round {round}: no closing line\n{out}"));
        assert!(
            passed.parse::<u32>().unwrap_or(0) > 30,
            "round {round}: {last}"
        );
        assert!(
            rest.starts_with("0 failed, "),
            "round {round}: {last}\n{out}"
        );
    }
}
