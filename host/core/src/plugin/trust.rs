//! ssh-style StrictModes for plugin files, on file descriptors: code that
//! others can write is code that others can run as us, and a check by path
//! followed by a load by path can be raced.
//!
//! A plugin file is opened once, by walking its directory from `/` one
//! component at a time (`openat` with `O_NOFOLLOW | O_DIRECTORY`), checking
//! each directory's owner and mode on its descriptor as it goes, and then
//! the file itself relative to the last one (`O_NOFOLLOW`), checked with
//! `fstat`. Everything after that (the ELF pre-check, the probe child, the
//! `dlopen` in the host) uses that descriptor, through `/proc/self/fd/N`:
//! what was checked is what runs, whatever happens to the paths meanwhile.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{openat, Mode, OFlags, CWD};

/// What the trust check requires of a directory on the way to the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A directory above the one holding the plugin: another user must not
    /// be able to rename what is in it, so it is owned by root or us and
    /// not writable by others, unless it is sticky (like `/tmp`, where
    /// only an entry's owner may rename it).
    Ancestor,
    /// The directory holding the plugin file (or a link to it): not
    /// writable by others even when sticky, since anyone could add files.
    Holder,
}

/// A plugin file opened for loading, and what `fstat` said about it.
///
/// Invariant: when the trust check was asked for, `file` is a regular file
/// owned by root or the current user and not writable by group or others,
/// reached through directories that passed [`Role`]'s rules at the moment
/// each was opened.
#[derive(Debug)]
pub(crate) struct PluginFile {
    file: File,
    path: PathBuf,
    meta: std::fs::Metadata,
}

impl PluginFile {
    /// Opens `path` for loading. With `check`, refuses it (returning the
    /// reason, naming the offending path and the fix) when the file, the
    /// directory holding it, or any directory above either, fails the trust
    /// rules; for a symlink, that is the directory holding the link as well
    /// as the file it points to and every directory above both. Without
    /// `check` the file is opened the same way and nothing is judged.
    pub(crate) fn open(path: &Path, check: bool) -> Result<Self, String> {
        Self::open_walked(path, check, &mut DirWalks::default())
    }

    /// [`PluginFile::open`], reusing the directories `walks` already
    /// opened and checked (a plugin directory is walked from `/` once for
    /// all its files, not once per file).
    pub(crate) fn open_walked(
        path: &Path,
        check: bool,
        walks: &mut DirWalks,
    ) -> Result<Self, String> {
        let path = std::path::absolute(path).map_err(|e| format!("bad path: {e}"))?;
        let holder = walks.resolve(path.parent().unwrap_or(Path::new("/")))?;
        let real = match path.file_name() {
            // Not a link: the file is where its resolved directory says.
            Some(name) if !is_symlink(&path)? => holder.join(name),
            _ => resolve(&path)?,
        };
        let (Some(real_dir), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(format!("{} is not a file", real.display()));
        };
        if holder != real_dir {
            walks.open(&holder, check)?;
        }
        let dir = walks.open(real_dir, check)?;
        let fd = openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open {}: {e}", real.display()))?;
        // Above the standard streams, which a child's stdio set-up
        // replaces before the descriptor could be handed down.
        let fd = if fd.as_raw_fd() <= 2 {
            rustix::io::fcntl_dupfd_cloexec(&fd, 3).map_err(|e| {
                format!("cannot duplicate the descriptor of {}: {e}", real.display())
            })?
        } else {
            fd
        };
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", real.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", real.display()));
        }
        if check {
            judge(&real, &meta, "file", Role::Holder)?;
        }
        Ok(Self { file, path, meta })
    }

    /// Opens `path` exactly as named, without any check: for the probe
    /// child, whose `path` is the `/proc/self/fd/N` of a descriptor the
    /// host opened and checked and handed down.
    pub(crate) fn open_handed_down(path: &Path) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            meta,
        })
    }

    /// The path it was opened by (absolute; not resolved).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What `fstat` said when it was opened.
    pub(crate) fn metadata(&self) -> &std::fs::Metadata {
        &self.meta
    }

    /// The descriptor's number, to hand it down to the probe child.
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }

    /// `/proc/self/fd/N`: a name for exactly this file, for `dlopen`.
    pub(crate) fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }

    /// Keeps the descriptor open for the life of the process. Needed once
    /// the library is loaded: the dynamic loader knows it by its
    /// `/proc/self/fd/N` name, and a later `dlopen` of that name (another
    /// plugin given the same descriptor number) would be handed this
    /// library instead of its own file.
    pub(crate) fn keep_open(self) {
        std::mem::forget(self.file);
    }
}

/// Directories opened by [`open_dir`] during one registry load, by
/// resolved path, and resolved paths by the path they resolve.
///
/// Invariant: every descriptor was opened by [`open_dir`] with the `check`
/// recorded beside it, so it passed the trust rules when it was opened.
/// Reusing it is as safe as walking again: a directory that passed is
/// owned by root or us and writable by nobody else, so nobody else can
/// make it fail (or swap what is in it) later in the same load.
#[derive(Default)]
pub(crate) struct DirWalks {
    opened: HashMap<(PathBuf, bool), OwnedFd>,
    resolved: HashMap<PathBuf, PathBuf>,
}

impl DirWalks {
    fn resolve(&mut self, dir: &Path) -> Result<PathBuf, String> {
        if let Some(real) = self.resolved.get(dir) {
            return Ok(real.clone());
        }
        let real = resolve(dir)?;
        self.resolved.insert(dir.to_path_buf(), real.clone());
        Ok(real)
    }

    fn open(&mut self, dir: &Path, check: bool) -> Result<&OwnedFd, String> {
        let key = (dir.to_path_buf(), check);
        if !self.opened.contains_key(&key) {
            let fd = open_dir(dir, check)?;
            self.opened.insert(key.clone(), fd);
        }
        self.opened
            .get(&key)
            .ok_or_else(|| format!("{} was not opened", dir.display()))
    }
}

fn resolve(p: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(p).map_err(|e| format!("cannot resolve: {e}"))
}

fn is_symlink(p: &Path) -> Result<bool, String> {
    std::fs::symlink_metadata(p)
        .map(|m| m.file_type().is_symlink())
        .map_err(|e| format!("cannot open {}: {e}", p.display()))
}

/// Opens the absolute directory `dir` by walking it from `/` without
/// following symlinks, checking each directory (with `check`) on its own
/// descriptor: `dir` itself as the holder, the others as ancestors.
fn open_dir(dir: &Path, check: bool) -> Result<OwnedFd, String> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut shown = PathBuf::from("/");
    let mut fd =
        openat(CWD, "/", flags, Mode::empty()).map_err(|e| format!("cannot open /: {e}"))?;
    let parts: Vec<Component<'_>> = dir.components().collect();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let Component::Normal(name) = part else {
                return Err(format!("{} is not a resolved path", dir.display()));
            };
            shown.push(name);
            fd = openat(&fd, *name, flags, Mode::empty()).map_err(|e| {
                format!(
                    "cannot open the directory {} without following links: {e}",
                    shown.display()
                )
            })?;
        }
        if check {
            let meta = rustix::fs::fstat(&fd)
                .map_err(|e| format!("cannot stat {}: {e}", shown.display()))?;
            let role = if i + 1 == parts.len() {
                Role::Holder
            } else {
                Role::Ancestor
            };
            judge_stat(&shown, meta.st_uid, meta.st_mode, role)?;
        }
    }
    Ok(fd)
}

fn judge(path: &Path, meta: &std::fs::Metadata, what: &str, role: Role) -> Result<(), String> {
    judge_mode(path, meta.uid(), meta.mode(), what, role)
}

fn judge_stat(path: &Path, uid: u32, mode: u32, role: Role) -> Result<(), String> {
    let what = match role {
        Role::Holder => "directory",
        Role::Ancestor => "parent directory",
    };
    judge_mode(path, uid, mode, what, role)
}

fn judge_mode(path: &Path, uid: u32, mode: u32, what: &str, role: Role) -> Result<(), String> {
    let mode = mode & 0o7777;
    let sticky = mode & 0o1000 != 0;
    // A sticky, world-writable directory (like /tmp) still lets anyone
    // create files in it, so it is no safer to hold plugins; above the
    // plugin directory it is fine: nobody but an entry's owner can rename
    // that entry.
    if mode & 0o022 != 0 && !(role == Role::Ancestor && sticky) {
        return Err(format!(
            "refusing to load: the {what} {} is writable by {} (mode {mode:04o}); fix it with `chmod go-w {}` or pass --allow-insecure-plugins",
            path.display(),
            if mode & 0o002 != 0 { "everyone" } else { "its group" },
            path.display()
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if uid != 0 && uid != me {
        return Err(format!(
            "refusing to load: the {what} {} is owned by uid {uid}, neither root nor the current user; fix it with `chown` or pass --allow-insecure-plugins",
            path.display(),
        ));
    }
    Ok(())
}

/// Refuses `file` when it, the directory holding it, or any directory
/// above them is writable by group or others (sticky directories above
/// excepted), or owned by a user other than root and us. For a symlink,
/// that is the directory holding the link as well as the file it points to
/// and their parents: whoever can write any of them could swap the code
/// between this check and a load.
///
/// Returns the reason, naming the offending path and the fix. The registry
/// does not load what was checked here by path: it loads the descriptor
/// its own check opened.
pub fn check_trusted(file: &Path) -> Result<(), String> {
    PluginFile::open(file, true).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A plugin file (0644) in `dir`, which passes the check.
    fn trusted_plugin_in(dir: &Path) -> PathBuf {
        let file = dir.join("libp.so");
        std::fs::write(&file, b"x").unwrap();
        chmod(&file, 0o644);
        assert_eq!(check_trusted(&file), Ok(()));
        file
    }

    #[test]
    fn writable_files_and_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let file = trusted_plugin_in(dir.path());

        chmod(&file, 0o666);
        let err = check_trusted(&file).unwrap_err();
        assert!(
            err.contains("writable by everyone") && err.contains("chmod go-w"),
            "{err}"
        );

        chmod(&file, 0o644);
        chmod(dir.path(), 0o775);
        let err = check_trusted(&file).unwrap_err();
        assert!(
            err.contains("directory") && err.contains("its group"),
            "{err}"
        );
    }

    #[test]
    fn every_parent_is_checked_and_sticky_parents_pass() {
        let top = tempfile::tempdir().unwrap();
        let mid = top.path().join("mid");
        let dir = mid.join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        for d in [top.path(), &mid, &dir] {
            chmod(d, 0o755);
        }
        let file = trusted_plugin_in(&dir);

        chmod(&mid, 0o777);
        let err = check_trusted(&file).unwrap_err();
        assert!(
            err.contains(&format!("the parent directory {}", mid.display()))
                && err.contains("writable by everyone"),
            "{err}"
        );
        chmod(&mid, 0o1777);
        assert_eq!(check_trusted(&file), Ok(()));
    }

    #[test]
    fn one_walk_serves_a_directory_and_links_out_of_it_are_still_checked() {
        let top = tempfile::tempdir().unwrap();
        chmod(top.path(), 0o755);
        let dir = top.path().join("plugins");
        let elsewhere = top.path().join("elsewhere");
        for d in [&dir, &elsewhere] {
            std::fs::create_dir(d).unwrap();
            chmod(d, 0o755);
        }
        let a = trusted_plugin_in(&dir);
        let b = dir.join("libq.so");
        std::fs::write(&b, b"q").unwrap();
        let target = elsewhere.join("libr.so");
        std::fs::write(&target, b"r").unwrap();
        let link = dir.join("libr.so");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let mut walks = DirWalks::default();
        for f in [&a, &b, &link] {
            assert!(
                PluginFile::open_walked(f, true, &mut walks).is_ok(),
                "{f:?}"
            );
        }
        // The plugin directory was walked once for its three files (the
        // link's target directory once more).
        assert_eq!(walks.opened.len(), 2);

        // A link into a directory others can write is refused, even with
        // the link's own directory already walked. (A directory is judged
        // when it is opened: only its owner, root or us, could change it
        // later, so one load keeps each directory's verdict.)
        chmod(&elsewhere, 0o777);
        let mut walks = DirWalks::default();
        assert!(PluginFile::open_walked(&a, true, &mut walks).is_ok());
        let err = PluginFile::open_walked(&link, true, &mut walks).unwrap_err();
        assert!(err.contains("writable by everyone"), "{err}");
        // The file itself is judged on every open, walked or not.
        chmod(&b, 0o666);
        let err = PluginFile::open_walked(&b, true, &mut walks).unwrap_err();
        assert!(err.contains("writable by everyone"), "{err}");
    }

    #[test]
    fn the_descriptor_names_the_file_it_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("libp.so");
        std::fs::write(&file, b"first").unwrap();
        let opened = PluginFile::open(&file, false).unwrap();
        // Replaced by path after the open: the descriptor keeps the old one.
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, b"second, longer").unwrap();
        assert_eq!(std::fs::read(opened.proc_path()).unwrap(), b"first");
        assert_eq!(opened.metadata().len(), 5);
    }
}
