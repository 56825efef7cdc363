//! Text shown by `--help` and the manual pages beyond the clap
//! definitions: examples per command, URL syntax, environment, exit
//! statuses. Nothing here points into the source repository: installed
//! stowage has only its binary, its plugins and its manual pages.

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
  56  validation failed (stored size differs, or a space object fails its checksum)";

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
        "Colon-separated plugin directories, used instead of the default \
         ones (PREFIX/lib/stowage/plugins beside the binary, then the \
         binary's own directory). --plugin-dir wins over it.",
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

/// `stowage plugins --help`.
pub const PLUGINS: &str = "\
Examples:
  stowage plugins
  stowage plugins --rescan
  stowage --plugin-dir ./target/release plugins --json";

/// `stowage ls --help`.
pub const LS: &str = "\
Examples:
  stowage ls file:///srv/backup
  stowage ls --human offsite:
  stowage ls --json xorriso:///srv/backup.iso:/host1";

/// `stowage put --help`.
pub const PUT: &str = "\
Examples:
  stowage put file:///srv/backup duplicity-full.vol1.difftar.gpg
  stowage put offsite:host1 etc.tar home.tar
  stowage put xorriso:///srv/backup.iso:/host1 notes.txt --name notes-2024.txt";

/// `stowage mv --help`.
pub const MV: &str = "\
Examples:
  stowage mv file:///srv/backup /var/spool/backup/*.tar
  stowage mv offsite: etc.tar --name etc-2024-06.tar";

/// `stowage get --help`.
pub const GET: &str = "\
Examples:
  stowage get file:///srv/backup etc.tar -o /tmp/etc.tar
  stowage get offsite: --glob '*.tar' -o restore/
  stowage get offsite: etc.tar -o - | tar -t";

/// `stowage rm --help`.
pub const RM: &str = "\
Examples:
  stowage rm file:///srv/backup old.tar
  stowage rm offsite: --glob 'duplicity-inc.2023*'";

/// `stowage stat --help`.
pub const STAT: &str = "\
Examples:
  stowage stat file:///srv/backup etc.tar home.tar
  stowage stat --json offsite: --glob '*.tar'";

/// `stowage test --help`.
pub const TEST: &str = "\
Retries use the checks' own policy (3 attempts, 1-10 ms), not --retries
and the delays.

Examples:
  stowage test file:///tmp/conformance
  stowage test --quick --only 'put.*,get.*' myplugin:///tmp/x
  stowage test --list";

/// `stowage space --help`.
pub const SPACE: &str = "\
Examples:
  stowage space backup file:///srv/spaces fix-grub /etc/default/grub /boot/grub/grub.cfg
  stowage space show file:///srv/spaces fix-grub
  stowage space revert file:///srv/spaces fix-grub";

/// `stowage iso --help`.
pub const ISO: &str = "\
Examples:
  stowage iso info xorriso:///srv/backup.iso
  stowage iso compact xorriso:///srv/backup.iso";

/// `stowage peer --help`.
pub const PEER: &str = "\
Examples:
  stowage peer collected local-peer://host1/var/backup/collect
  stowage peer stage local-peer://host1/var/backup/collect /srv/stage/host1 --owner backup:backup --mode 0640
  stowage peer mark-staged local-peer://host1/var/backup/collect";

/// `stowage remote --help`.
pub const REMOTE: &str = "\
Examples:
  stowage remote add offsite xorriso:///srv/offsite.iso:/host1
  stowage put offsite: etc.tar
  stowage remote list";

/// `stowage completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  stowage completions bash > /etc/bash_completion.d/stowage
  stowage completions fish > ~/.config/fish/completions/stowage.fish";

/// `stowage man --help`.
pub const MAN: &str = "\
Examples:
  stowage man | man -l -
  stowage man put | man -l -
  stowage man --dir /usr/local/share/man/man1";
