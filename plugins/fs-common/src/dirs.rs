//! Opening a directory once, by descriptor, without following symlinks
//! that another user planted.
//!
//! Work that must not be redirected (staging a peer's files as root) opens
//! its directories once with [`open_dir_resolved`] and then does
//! everything relative to those descriptors (`openat`, `renameat`, ...):
//! a directory swapped for a symlink afterwards changes nothing.
//!
//! The path itself is resolved one component at a time. A symlink on the
//! way is followed only when root or the current user owns it, the rule of
//! the kernel's `protected_symlinks`, applied to every directory rather
//! than only sticky ones: an administrator's `/srv/collect -> /data/collect`
//! still works, while a link that the peer's user swapped in for its
//! collect directory (or for one of its parents) is refused with an error
//! naming it.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{openat, readlinkat, statat, AtFlags, FileType, Mode, OFlags, CWD};

/// Symlinks followed at most while resolving one path (Linux's `MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Steps into `name` with an `O_PATH` descriptor: walking needs no read
/// permission on the directories passed through (nor Landlock rights on
/// them, when an isolated plugin is confined to the directory at the end).
fn open_component(dir: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(openat(
        dir,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the absolute directory `path` and returns its descriptor,
/// following only symlinks owned by root or by the effective user (see the
/// module documentation).
///
/// # Errors
/// `PermissionDenied` (no errno) naming a symlink owned by someone else;
/// `ENOENT`/`ENOTDIR`/`ELOOP` and the like from the system otherwise.
pub fn open_dir_resolved(path: &Path) -> io::Result<OwnedFd> {
    if !path.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not an absolute path", path.display()),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    let root = || -> io::Result<OwnedFd> {
        open_component(
            &openat(CWD, "/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?,
            OsStr::new("."),
        )
    };
    let mut dir = root()?;
    let mut at = PathBuf::from("/");
    let mut pending: VecDeque<OsString> = components(path).collect();
    let mut followed = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            dir = open_component(&dir, &name)?;
            at.pop();
            continue;
        }
        let stat = statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
            dir = open_component(&dir, &name)?;
            at.push(&name);
            continue;
        }
        let link = at.join(&name);
        if stat.st_uid != 0 && stat.st_uid != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "refusing to follow the symlink {} owned by uid {}: only symlinks owned by \
                     root or by the user running stowage are followed",
                    link.display(),
                    stat.st_uid
                ),
            ));
        }
        followed += 1;
        if followed > MAX_SYMLINKS {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = readlinkat(&dir, name.as_os_str(), Vec::new())?;
        let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
        if target.is_absolute() {
            dir = root()?;
            at = PathBuf::from("/");
        }
        for (i, c) in components(&target).enumerate() {
            pending.insert(i, c);
        }
    }
    // The directory reached, opened for real (readable, usable with *at).
    Ok(openat(
        &dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn ino(fd: impl AsFd) -> u64 {
        rustix::fs::fstat(fd).unwrap().st_ino
    }

    #[test]
    fn follows_our_own_symlinks_and_resolves_relative_ones() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("a/real");
        std::fs::create_dir_all(&real).unwrap();
        std::os::unix::fs::symlink("a/real", d.path().join("rel")).unwrap();
        std::os::unix::fs::symlink(&real, d.path().join("abs")).unwrap();
        let want = ino(open_dir_resolved(&real).unwrap());
        assert_eq!(ino(open_dir_resolved(&d.path().join("rel")).unwrap()), want);
        assert_eq!(ino(open_dir_resolved(&d.path().join("abs")).unwrap()), want);
        assert_eq!(
            ino(open_dir_resolved(&d.path().join("a/../rel/.")).unwrap()),
            want
        );
        let file = d.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let e = open_dir_resolved(&file).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        std::os::unix::fs::symlink("loop", d.path().join("loop")).unwrap();
        let e = open_dir_resolved(&d.path().join("loop")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn refuses_a_symlink_owned_by_another_user() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED: needs root to give a symlink away");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink("real", &link).unwrap();
        rustix::fs::chownat(
            CWD,
            &link,
            Some(rustix::fs::Uid::from_raw(65534)),
            None,
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let e = open_dir_resolved(&link.join("x/..")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains(&link.display().to_string()), "{e}");
    }
}
