//! Text shown by `--help` and the manual pages beyond the clap
//! definitions: examples per command, URL syntax, environment, exit
//! statuses. Nothing here points into the source repository: installed
//! stowage has only its binary, its plugins and its manual pages.

mod examples;

pub use examples::*;

/// The version line: the host version and the plugin ABI it speaks.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (plugin ABI v1)");

/// Exit statuses, shown in `--help` and the manual pages.
pub const EXIT_CODES: &str = "\
Exit status:
  0   success
  1   `peer collected`: the indicator is absent; `test`: a check failed
  2   usage error (bad flags or arguments)
  23  invalid URL or input (bad object name, unknown scheme, --retries 0)
  50  backend error (also: unsupported, transient, plugin panic, in use)
  51  permission denied
  52  not found
  53  no space left
  56  validation failed (stored size differs, a space object fails its checksum, a peer file kept changing)";

/// How URLs are written, for the manual pages.
pub const URLS: &str = "\
A backend URL is SCHEME://LOCATION, for example file:///srv/backup, \
file://relative/dir, xorriso:///srv/backup.iso:/host1 or \
local-peer://host1/var/backup/collect. Prefix plugins stack in front of \
the scheme: verify+file:///srv/backup. `stowage plugins` lists the schemes \
and prefixes of the plugins found, each with its syntax. A named remote \
stands for its URL: NAME: or NAME:sub/dir (see stowage-remote(1)). \
Credentials in a URL (user:password@) are never printed.";

/// The `--json` shape, for stowage(1).
pub const JSON_OUTPUT: &str = "\
With --json every command prints one JSON document on stdout, success or \
failure alike: {\"command\", \"ok\", \"code\", \"items\", \"data\", \"error\"}. \
code is the exit status; items holds one record per object, file, entry or \
check, each with its own \"ok\", \"code\" and \"error\"; data is the \
command's whole-run result or null; error is null exactly when ok is true, \
else {\"code\", \"kind\", \"message\"}. --json-lines prints each item on \
its own line as it is done, then the document with no items.";

/// The environment variables stowage reads, for the manual pages.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "STOWAGE_PLUGIN_PATH",
        "Colon-separated plugin directories searched before the default \
         ones; a plugin there wins a conflict. --plugin-dir replaces it.",
    ),
    (
        "STOWAGE_PLUGIN_SYSTEM_PATH",
        "Colon-separated directories that replace the default ones \
         ($XDG_DATA_HOME/stowage/plugins, PREFIX/lib/stowage/plugins, the \
         binary's directory); set but empty: none.",
    ),
    (
        "STOWAGE_CONFIG",
        "The configuration file (named remotes); --config wins over it.",
    ),
    (
        "XDG_CONFIG_HOME",
        "The configuration is XDG_CONFIG_HOME/stowage/config.toml \
         (default ~/.config/stowage/config.toml).",
    ),
    (
        "XDG_CACHE_HOME",
        "Plugin probe verdicts are cached in \
         XDG_CACHE_HOME/stowage/plugin-probes.json (default ~/.cache/...).",
    ),
    (
        "TMPDIR",
        "Where `get -o -` and `get` onto a FIFO or device stage the object \
         (a private directory, removed afterwards).",
    ),
    (
        "RUST_LOG",
        "Log filter (e.g. stowage=debug); overrides -v and -q.",
    ),
];
