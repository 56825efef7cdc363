//! Two or three examples per command, shown at the end of its `--help`
//! and in its manual page.

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
  tar -c /etc | stowage put offsite:host1 - --name etc.tar";

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

/// `stowage space list --help`.
pub const SPACE_LIST: &str = "\
Examples:
  stowage space list file:///srv/spaces
  stowage space list --json offsite:spaces";

/// `stowage space backup --help`.
pub const SPACE_BACKUP: &str = "\
Examples:
  stowage space backup file:///srv/spaces fix-grub /etc/default/grub /boot/grub
  stowage space backup offsite:spaces etc /etc --name etc";

/// `stowage space backup-value --help`.
pub const SPACE_BACKUP_VALUE: &str = "\
Examples:
  dpkg --get-selections | stowage space backup-value file:///srv/spaces host1 packages
  stowage space backup-value file:///srv/spaces host1 fstab --from /etc/fstab";

/// `stowage space restore --help`.
pub const SPACE_RESTORE: &str = "\
Examples:
  stowage space restore file:///srv/spaces fix-grub /boot/grub
  stowage space restore file:///srv/spaces etc etc --to /tmp/etc-then";

/// `stowage space restore-value --help`.
pub const SPACE_RESTORE_VALUE: &str = "\
Examples:
  stowage space restore-value file:///srv/spaces host1 packages | dpkg --set-selections
  stowage space restore-value --json file:///srv/spaces host1 fstab";

/// `stowage space revert --help`.
pub const SPACE_REVERT: &str = "\
Examples:
  stowage space revert file:///srv/spaces fix-grub
  stowage space revert --json offsite:spaces etc";

/// `stowage space show --help`.
pub const SPACE_SHOW: &str = "\
Examples:
  stowage space show file:///srv/spaces fix-grub
  stowage space show --json offsite:spaces etc";

/// `stowage space verify --help`.
pub const SPACE_VERIFY: &str = "\
Examples:
  stowage space verify file:///srv/spaces fix-grub
  stowage space verify offsite:spaces etc || echo damaged
  stowage space verify --repair file:///srv/spaces fix-grub";

/// `stowage space rm --help`.
pub const SPACE_RM: &str = "\
Examples:
  stowage space rm file:///srv/spaces fix-grub /boot/grub
  stowage space rm offsite:spaces host1 packages fstab";

/// `stowage space drop --help`.
pub const SPACE_DROP: &str = "\
Examples:
  stowage space drop file:///srv/spaces fix-grub
  stowage space drop offsite:spaces old-host";

/// `stowage space gc --help`.
pub const SPACE_GC: &str = "\
Examples:
  stowage space gc file:///srv/spaces
  stowage space gc --json offsite:spaces";

/// `stowage iso info --help`.
pub const ISO_INFO: &str = "\
Examples:
  stowage iso info xorriso:///srv/backup.iso
  stowage iso info --json xorriso:///dev/sr0";

/// `stowage iso compact --help`.
pub const ISO_COMPACT: &str = "\
Examples:
  stowage iso compact xorriso:///srv/backup.iso
  stowage iso compact --json offsite:";

/// `stowage peer stage --help`.
pub const PEER_STAGE: &str = "\
Examples:
  stowage peer stage local-peer://host1/var/backup/collect /srv/stage/host1
  stowage peer stage local-peer://host1/var/backup/collect /srv/stage/host1 --owner backup:backup --mode 0640
  stowage peer stage local-peer://host1/var/backup/collect /srv/stage/host1 --skip-changed --json";

/// `stowage peer collected --help`.
pub const PEER_COLLECTED: &str = "\
Examples:
  stowage peer collected local-peer://host1/var/backup/collect && echo ready
  stowage peer collected local-peer://host1/var/backup/collect --indicator done";

/// `stowage peer mark-staged --help`.
pub const PEER_MARK_STAGED: &str = "\
Examples:
  stowage peer mark-staged local-peer://host1/var/backup/collect
  stowage peer mark-staged local-peer://host1/var/backup/collect --owner backup: --mode 0640";

/// `stowage remote list --help`.
pub const REMOTE_LIST: &str = "\
Examples:
  stowage remote list
  stowage remote list --json";

/// `stowage remote show --help`.
pub const REMOTE_SHOW: &str = "\
Examples:
  stowage remote show offsite
  stowage --config /etc/stowage.toml remote show offsite";

/// `stowage remote add --help`.
pub const REMOTE_ADD: &str = "\
Examples:
  stowage remote add offsite xorriso:///srv/offsite.iso:/host1
  stowage remote add disk 'file:///srv/backup?fsync=each'";

/// `stowage remote remove --help`.
pub const REMOTE_REMOVE: &str = "\
Examples:
  stowage remote remove offsite
  stowage --config /etc/stowage.toml remote remove disk";
