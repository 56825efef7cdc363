//! Landlock in the child: applied before the plugin is loaded, so not even
//! its constructors run unconfined.

use std::path::{Path, PathBuf};

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::protocol::Confinement;

/// What the dynamic loader, the C library and the Rust runtime read: code
/// and the few configuration files (never all of `/etc`: it holds
/// `/etc/shadow`). Executables a plugin runs (`xorriso`) live under these.
const SYSTEM_READ_ONLY: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/ssl",
    "/dev/urandom",
];

/// Device files a plugin or the programs it runs may write.
const DEVICES_READ_WRITE: &[&str] = &["/dev/null", "/dev/zero"];

/// How confinement went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Landlock enforces the rules.
    Enforced,
    /// The kernel could not enforce them (the reason); the child runs
    /// unconfined.
    Unavailable(String),
    /// Confinement was not asked for.
    Off,
}

fn bytes_to_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

fn existing(paths: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    paths.into_iter().filter(|p| p.exists()).collect()
}

/// Applies `c` to this process (all threads must be started after this).
/// `plugin` (read-only) and `staging` (read-write) are always reachable.
pub fn apply(c: &Confinement, plugin: &Path, staging: &Path) -> Result<Outcome, String> {
    if !c.enabled {
        return Ok(Outcome::Off);
    }
    let abi = ABI::V5;
    // Best effort throughout: an older kernel enforces what it knows
    // (`PartiallyEnforced`); only no Landlock at all counts as unconfined.
    let level = CompatLevel::BestEffort;
    let fail = |e: &dyn std::fmt::Display| format!("Landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| fail(&e))?;
    if !c.network {
        // Connecting and binding TCP ports need a rule; there is none.
        ruleset = ruleset
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| fail(&e))?;
    }
    let read_write = existing(
        c.read_write
            .iter()
            .map(|b| bytes_to_path(b))
            .chain([staging.to_path_buf()])
            .chain(DEVICES_READ_WRITE.iter().map(PathBuf::from)),
    );
    let read_only = existing(
        c.read_only
            .iter()
            .map(|b| bytes_to_path(b))
            .chain([plugin.to_path_buf()])
            .chain(SYSTEM_READ_ONLY.iter().map(PathBuf::from)),
    );
    // No signals to, and no abstract Unix sockets of, processes outside
    // the sandbox (ABI 6; best effort on older kernels).
    let ruleset = ruleset
        .set_compatibility(CompatLevel::BestEffort)
        .scope(Scope::from_all(ABI::V6))
        .map_err(|e| fail(&e))?;
    let status = ruleset
        .create()
        .map_err(|e| fail(&e))?
        .add_rules(path_beneath_rules(&read_write, AccessFs::from_all(abi)))
        .map_err(|e| fail(&e))?
        .add_rules(path_beneath_rules(
            &read_only,
            AccessFs::from_read(abi) | AccessFs::Execute,
        ))
        .map_err(|e| fail(&e))?
        .restrict_self()
        .map_err(|e| fail(&e))?;
    match status.ruleset {
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(Outcome::Enforced),
        RulesetStatus::NotEnforced if c.required => {
            Err("Landlock is not available in this kernel and confinement is required".into())
        }
        RulesetStatus::NotEnforced => Ok(Outcome::Unavailable(
            "Landlock is not available in this kernel".into(),
        )),
    }
}
