//! The backend operations on top of one xorriso dialog process.
//!
//! State model: the xorriso process only ever holds the last committed session; changes
//! (puts and deletes) live in [`Inner::pending`] together with their staged copies until a
//! commit sends them all (`-rm`, `-map`), commits once and checks the result. So:
//!
//! * list, query and get see pending changes at once: the committed listing from xorriso is
//!   overlaid with the pending map, and a pending put is served from its staged copy;
//! * if xorriso dies, nothing is lost: `retry_cleanup` (or the next operation) starts a new
//!   process, which loads the last good session, and the pending changes are sent again at the
//!   next commit;
//! * a failed commit is rolled back: the process is killed (it is poisoned, reference §10),
//!   for image files the first 64 KiB (the superblock with the commit point, block 16) and the
//!   length are restored, and a fresh process is started. The pending changes stay pending,
//!   except the ones of the call that triggered the commit, which fails as a whole.
//!
//! Commits happen at `close`, when the batch limits are reached, or for every change with
//! `?commit=each`. One mutex serialises everything that touches xorriso; copying a put's
//! source into staging happens outside it, so puts from several threads copy in parallel.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::config::{CommitPolicy, Config, Target};
use crate::dialog::{self, Dialog, Message, Reply, Severity};
use crate::error::{Error, Result};
use crate::lock::MediumLock;
use crate::medium::{
    check_iso_signature, check_size, classify, is_missing_path, is_missing_removal,
    only_missing_path, spawn_loaded, sync_dir, HeadBackup,
};
use crate::quote;
use crate::report::{self, MediaStatus};
use crate::staging::{MoveKind, Staged, Staging};

/// Longest object name, in bytes (longer Rock Ridge names are silently truncated).
pub const MAX_NAME_BYTES: usize = 255;

/// What [`XorrisoBackend::info`] reports about the medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoInfo {
    /// Sessions on the medium (each commit adds one).
    pub sessions: u32,
    /// Bytes the medium uses: the image file's size, or the drive's readable blocks.
    pub used_bytes: u64,
    /// Bytes still writable (for image files: free space of their filesystem).
    pub free_bytes: u64,
    /// Volume id of the newest session (`None` for a blank medium).
    pub volume_id: Option<String>,
    /// Changes not yet committed, and the bytes of their staged copies.
    pub pending_changes: usize,
    pub pending_bytes: u64,
}

/// What [`XorrisoBackend::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactStats {
    pub old_bytes: u64,
    pub new_bytes: u64,
}

#[derive(Debug)]
enum Change {
    Put(Staged),
    Delete,
}

struct Inner {
    dialog: Option<Dialog>,
    lock: Option<MediumLock>,
    /// The medium had no session when loaded (volume id is set at the first commit).
    blank: bool,
    /// Why the medium cannot be written, if it cannot.
    read_only: Option<String>,
    pending: BTreeMap<String, Change>,
    pending_bytes: u64,
    closed: bool,
    /// Tests: remove the staged copies after `-map` and before `-commit` (provokes a MISHAP).
    #[cfg(test)]
    vanish_staged_before_write: bool,
}

/// A backup store on an ISO 9660 image file or an optical disc, driven through xorriso.
///
/// All methods take `&self`; the type is `Send + Sync` and serialises xorriso access
/// internally.
pub struct XorrisoBackend {
    cfg: Config,
    exe: PathBuf,
    staging: Staging,
    inner: Mutex<Inner>,
    get_counter: AtomicU64,
}

impl std::fmt::Debug for XorrisoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XorrisoBackend")
            .field("target", &self.cfg.target)
            .field("iso_dir", &self.cfg.iso_dir)
            .finish_non_exhaustive()
    }
}

/// Check a name the way the host does (and refuse what ISO Rock Ridge would mangle).
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("\".\" and \"..\" are not object names");
    }
    if name.contains('/') || name.contains('\0') {
        return bad("contains '/' or NUL");
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(&format!(
            "{} bytes; ISO Rock Ridge names are limited to {MAX_NAME_BYTES} bytes (xorriso would silently truncate it)",
            name.len()
        ));
    }
    Ok(())
}

impl XorrisoBackend {
    /// Open the store named by `url`, reading the `XORRISO_*` variables from the environment.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(Config::from_url(url)?)
    }

    /// Open with an explicit configuration (see [`Config::parse`]).
    pub fn open_with(cfg: Config) -> Result<Self> {
        let exe = dialog::resolve_executable(&cfg.xorriso, cfg.xorriso_from_env)?;
        let lock = match &cfg.target {
            Target::Image(p) => MediumLock::image(p)?,
            Target::Drive(p) => MediumLock::drive(p)?,
        };
        let result = Self::open_locked(cfg, exe, &lock);
        match result {
            Ok((backend, dialog, status)) => {
                {
                    let mut inner = backend.lock_inner()?;
                    inner.blank = status.blank;
                    inner.dialog = Some(dialog);
                    if !lock.writable {
                        inner.read_only = Some("it cannot be opened for writing".into());
                    }
                    inner.lock = Some(lock);
                }
                Ok(backend)
            }
            Err(e) => {
                lock.remove_if_created_empty();
                Err(e)
            }
        }
    }

    fn open_locked(
        cfg: Config,
        exe: PathBuf,
        lock: &MediumLock,
    ) -> Result<(Self, Dialog, MediaStatus)> {
        if let Target::Image(p) = &cfg.target {
            check_iso_signature(p, lock)?;
        }
        let (dialog, status) = spawn_loaded(&cfg, &exe, lock)?;
        let staging_dir = match &cfg.target {
            Target::Image(p) => p.parent().map(|d| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                d.join(format!(".{name}.stowage-staging"))
            }),
            Target::Drive(_) => None,
        };
        let staging = Staging::new(staging_dir)?;
        log::info!(
            "opened {} (dir {}, {} session(s){})",
            cfg.target.display(),
            cfg.iso_dir,
            status.sessions,
            if status.blank { ", blank" } else { "" }
        );
        if let (Some(want), false, Some(have)) = (&cfg.volid, status.blank, &status.volume_id) {
            if want != have {
                log::warn!(
                    "?volid={want} is ignored: {} already has the volume id {have:?} (volid names new media only; use XORRISO_ASSERT_VOLID to refuse other media)",
                    cfg.target.display()
                );
            }
        }
        let read_only = if status.appendable_or_blank() {
            None
        } else {
            Some("the medium is closed (not appendable)".to_string())
        };
        let backend = XorrisoBackend {
            cfg,
            exe,
            staging,
            inner: Mutex::new(Inner {
                dialog: None,
                lock: None,
                blank: status.blank,
                read_only,
                pending: BTreeMap::new(),
                pending_bytes: 0,
                closed: false,
                #[cfg(test)]
                vanish_staged_before_write: false,
            }),
            get_counter: AtomicU64::new(0),
        };
        Ok((backend, dialog, status))
    }

    /// The settings this backend runs with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The staging directory (diagnostics).
    pub fn staging_dir(&self) -> &Path {
        self.staging.dir()
    }

    /// Process id of the current xorriso child, if one runs (diagnostics and tests).
    pub fn xorriso_pid(&self) -> Option<u32> {
        self.lock_inner().ok()?.dialog.as_ref().map(|d| d.pid())
    }

    fn lock_inner(&self) -> Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| Error::Protocol {
            op: "lock".into(),
            detail: "an earlier operation panicked; the backend state is unknown".into(),
        })
    }

    /// Lock the state of an open backend.
    fn open_inner(&self) -> Result<MutexGuard<'_, Inner>> {
        let g = self.lock_inner()?;
        if g.closed {
            return Err(Error::Closed {
                target: self.cfg.target.display(),
            });
        }
        Ok(g)
    }

    fn check_writable(&self, inner: &Inner) -> Result<()> {
        match &inner.read_only {
            Some(reason) => Err(Error::ReadOnly {
                path: self.cfg.target.path().to_path_buf(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn location(&self) -> String {
        format!("{}:{}", self.cfg.target.display(), self.cfg.iso_dir)
    }

    // ----- talking to xorriso -------------------------------------------------------------

    /// Run commands, starting a new xorriso first if the old one is gone. A death during the
    /// commands is [`Error::XorrisoDied`] (transient).
    fn run(&self, inner: &mut Inner, cmds: &[String], during: &str) -> Result<Reply> {
        if inner.dialog.is_none() {
            self.respawn(inner)?;
        }
        let d = inner.dialog.as_mut().ok_or_else(|| Error::Protocol {
            op: during.into(),
            detail: "no xorriso process".into(),
        })?;
        let reply = d.run(cmds, during)?;
        if let Some(status) = &reply.exited {
            inner.dialog = None;
            return Err(Error::XorrisoDied {
                target: self.cfg.target.display(),
                during: during.into(),
                status: status.clone(),
                last: reply
                    .worst_message()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default(),
            });
        }
        Ok(reply)
    }

    /// Kill the current process (if any) and start a new one on the last good session.
    fn respawn(&self, inner: &mut Inner) -> Result<()> {
        if let Some(d) = inner.dialog.take() {
            d.kill();
        }
        let lock = inner.lock.as_ref().ok_or_else(|| Error::Closed {
            target: self.cfg.target.display(),
        })?;
        let (d, status) = spawn_loaded(&self.cfg, &self.exe, lock)?;
        inner.blank = status.blank;
        inner.dialog = Some(d);
        Ok(())
    }

    fn xorriso_error(&self, op: &str, reply: &Reply, min: Severity) -> Error {
        Error::Xorriso {
            op: op.into(),
            target: self.cfg.target.display(),
            kind: classify(&reply.messages, reply.exited.is_some()),
            message: reply.problem_text(min),
        }
    }

    /// The committed regular files directly in the backup directory.
    fn committed(&self, inner: &mut Inner) -> Result<BTreeMap<String, u64>> {
        let cmd = format!(
            "-find {} -maxdepth 1 -type f -exec report_lba --",
            quote::arg(&self.cfg.iso_dir)
        );
        let reply = self.run(inner, &[cmd], "list")?;
        if reply.worst() >= Some(Severity::Sorry) {
            if only_missing_path(&reply) {
                return Ok(BTreeMap::new()); // the directory does not exist yet
            }
            return Err(self.xorriso_error("list", &reply, Severity::Sorry));
        }
        Ok(report::files_in_dir(&reply.results, &self.cfg.iso_dir))
    }

    /// The committed size of one name.
    fn committed_one(&self, inner: &mut Inner, name: &str) -> Result<Option<u64>> {
        let cmd = format!(
            "-find {} -maxdepth 0 -type f -exec report_lba --",
            quote::arg(&self.cfg.iso_path(name))
        );
        let reply = self.run(inner, &[cmd], "query")?;
        if reply.worst() >= Some(Severity::Sorry) {
            if only_missing_path(&reply) {
                return Ok(None);
            }
            return Err(self.xorriso_error("query", &reply, Severity::Sorry));
        }
        Ok(report::files_in_dir(&reply.results, &self.cfg.iso_dir)
            .get(name)
            .copied())
    }

    // ----- read operations ----------------------------------------------------------------

    /// All objects with their sizes, pending changes included, sorted by name.
    pub fn list(&self) -> Result<Vec<(String, u64)>> {
        let mut inner = self.open_inner()?;
        let mut map = self.committed(&mut inner)?;
        for (name, ch) in &inner.pending {
            match ch {
                Change::Put(s) => {
                    map.insert(name.clone(), s.size);
                }
                Change::Delete => {
                    map.remove(name);
                }
            }
        }
        Ok(map.into_iter().collect())
    }

    /// Size of `name`, `None` if it does not exist.
    pub fn query(&self, name: &str) -> Result<Option<u64>> {
        validate_name(name)?;
        let mut inner = self.open_inner()?;
        match inner.pending.get(name) {
            Some(Change::Put(s)) => Ok(Some(s.size)),
            Some(Change::Delete) => Ok(None),
            None => self.committed_one(&mut inner, name),
        }
    }

    /// Sizes of exactly the names asked for, in the same order (`None` = missing).
    pub fn query_list(&self, names: &[&str]) -> Result<Vec<(String, Option<u64>)>> {
        for n in names {
            validate_name(n)?;
        }
        if names.len() == 1 {
            return Ok(vec![(names[0].to_string(), self.query(names[0])?)]);
        }
        let all: BTreeMap<String, u64> = self.list()?.into_iter().collect();
        Ok(names
            .iter()
            .map(|n| (n.to_string(), all.get(*n).copied()))
            .collect())
    }

    /// Write object `name` to `local`: into a temporary file beside it, size-checked (and
    /// MD5-checked by xorriso), synced, then renamed over `local`. A missing name is
    /// `NotFound` and creates no local file.
    pub fn get(&self, name: &str, local: &Path) -> Result<()> {
        validate_name(name)?;
        let parent = match local.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = local.file_name().ok_or_else(|| Error::InvalidSetting {
            name: "get destination".into(),
            value: local.display().to_string(),
            reason: "has no file name".into(),
        })?;
        if local.is_dir() {
            return Err(Error::io(
                format!("get: the destination {local:?} is a directory"),
                std::io::Error::from_raw_os_error(libc::EISDIR),
            ));
        }
        // Keep the temporary name well under NAME_MAX whatever the destination's length.
        let full = file_name.to_string_lossy();
        let mut cut = full.len().min(100);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let stem = &full[..cut];
        let tmp = parent.join(format!(
            ".{stem}.stowage-get-{}-{}",
            std::process::id(),
            self.get_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&tmp);
        let result = self.get_into(name, &tmp);
        let finish = result.and_then(|()| {
            std::fs::rename(&tmp, local)
                .map_err(|e| Error::io(format!("get: cannot rename {tmp:?} to {local:?}"), e))?;
            sync_dir(&parent);
            Ok(())
        });
        if finish.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        finish
    }

    fn get_into(&self, name: &str, tmp: &Path) -> Result<()> {
        let mut inner = self.open_inner()?;
        let expected = match inner.pending.get(name) {
            Some(Change::Put(s)) => {
                // Copy under the lock: a commit would remove the staged file.
                let n = self.staging.copy_out(s, tmp)?;
                return check_size(name, s.size, n);
            }
            Some(Change::Delete) => None,
            None => self.committed_one(&mut inner, name)?,
        };
        let Some(expected) = expected else {
            return Err(Error::NotFound {
                name: name.into(),
                location: self.location(),
            });
        };
        let cmd = format!(
            "-extract {} {}",
            quote::arg(&self.cfg.iso_path(name)),
            quote::path_arg(tmp)
        );
        let reply = self.run(&mut inner, &[cmd], "get")?;
        drop(inner);
        if reply.worst() >= Some(Severity::Sorry) {
            let mut e = self.xorriso_error("get", &reply, Severity::Sorry);
            if let Error::Xorriso { message, .. } = &mut e {
                *message = format!("extracting {name:?}: {message}");
            }
            return Err(e);
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(tmp)
            .map_err(|e| Error::io(format!("get: xorriso did not produce {tmp:?}"), e))?;
        let actual = f
            .metadata()
            .map_err(|e| Error::io(format!("get: cannot stat {tmp:?}"), e))?
            .len();
        check_size(name, expected, actual)?;
        f.sync_all()
            .map_err(|e| Error::io(format!("get: cannot sync {tmp:?}"), e))
    }

    /// Medium facts: sessions, used and free bytes, volume id, pending changes.
    pub fn info(&self) -> Result<IsoInfo> {
        let mut inner = self.open_inner()?;
        let cmds = [
            "-toc".to_string(),
            "-tell_media_space".to_string(),
            "-pvd_info".to_string(),
        ];
        let reply = self.run(&mut inner, &cmds, "info")?;
        if reply.worst() >= Some(Severity::Failure) {
            return Err(self.xorriso_error("info", &reply, Severity::Failure));
        }
        let st = report::media_status(&reply.results);
        let used_bytes = match (&self.cfg.target, inner.lock.as_ref()) {
            (Target::Image(_), Some(l)) => l.len().unwrap_or(0),
            _ => st.readable_blocks.unwrap_or(0) * 2048,
        };
        Ok(IsoInfo {
            sessions: st.sessions,
            used_bytes,
            free_bytes: st.free_blocks.unwrap_or(0) * 2048,
            volume_id: if st.blank { None } else { st.volume_id },
            pending_changes: inner.pending.len(),
            pending_bytes: inner.pending_bytes,
        })
    }

    // ----- changes --------------------------------------------------------------------------

    /// Store `local` as `name` (replacing it). The file is copied into staging at once, so
    /// the caller may change or delete it as soon as this returns.
    pub fn put(&self, local: &Path, name: &str) -> Result<()> {
        validate_name(name)?;
        {
            let inner = self.open_inner()?;
            self.check_writable(&inner)?;
        }
        let staged = self.staging.stage_copy(local)?;
        let mut inner = match self.open_inner() {
            Ok(g) => g,
            Err(e) => {
                self.staging.discard(&staged);
                return Err(e);
            }
        };
        match self.apply(&mut inner, vec![(name.to_string(), Change::Put(staged))]) {
            Ok(()) => Ok(()),
            Err((e, ours)) => {
                for ch in ours {
                    if let Change::Put(s) = ch {
                        self.staging.discard(&s);
                    }
                }
                Err(e)
            }
        }
    }

    /// Store `local` as `name` and consume `local` (renamed into staging when possible). On
    /// error the local file is left in place.
    pub fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        validate_name(name)?;
        {
            let inner = self.open_inner()?;
            self.check_writable(&inner)?;
        }
        let (staged, kind) = self.staging.stage_move(local)?;
        let undo = |s: &Staged| match kind {
            MoveKind::Renamed => {
                if let Err(e) = std::fs::rename(&s.path, local) {
                    log::error!(
                        "move of {name:?} failed and its source could not be put back from {:?} to {local:?}: {e}",
                        s.path
                    );
                }
            }
            MoveKind::Copied => self.staging.discard(s),
        };
        let mut inner = match self.open_inner() {
            Ok(g) => g,
            Err(e) => {
                undo(&staged);
                return Err(e);
            }
        };
        match self.apply(&mut inner, vec![(name.to_string(), Change::Put(staged))]) {
            Ok(()) => {
                drop(inner);
                if kind == MoveKind::Copied {
                    std::fs::remove_file(local).map_err(|e| {
                        Error::io(
                            format!("move: {name:?} is stored but the source {local:?} could not be removed"),
                            e,
                        )
                    })?;
                }
                Ok(())
            }
            Err((e, ours)) => {
                for ch in ours {
                    if let Change::Put(s) = ch {
                        undo(&s);
                    }
                }
                Err(e)
            }
        }
    }

    /// Delete `name`. A missing name is not an error. Deleting only hides the data in the
    /// next session; the space is reclaimed only by [`compact`](Self::compact).
    pub fn delete(&self, name: &str) -> Result<()> {
        self.delete_list(&[name])
    }

    /// Delete several names in one batch; missing names are skipped.
    pub fn delete_list(&self, names: &[&str]) -> Result<()> {
        for n in names {
            validate_name(n)?;
        }
        let mut inner = self.open_inner()?;
        self.check_writable(&inner)?;
        let committed: BTreeMap<String, u64> = if names.len() == 1 {
            self.committed_one(&mut inner, names[0])?
                .map(|s| (names[0].to_string(), s))
                .into_iter()
                .collect()
        } else {
            self.committed(&mut inner)?
        };
        let mut changes = Vec::new();
        for &n in names {
            if changes.iter().any(|(c, _): &(String, Change)| c == n) {
                continue;
            }
            if committed.contains_key(n) {
                if !matches!(inner.pending.get(n), Some(Change::Delete)) {
                    changes.push((n.to_string(), Change::Delete));
                }
            } else if let Some(Change::Put(s)) = inner.pending.remove(n) {
                // Only ever staged: forget it, nothing to hide on the medium.
                inner.pending_bytes -= s.size;
                self.staging.discard(&s);
            } else {
                log::debug!("delete: {n:?} does not exist in {}", self.location());
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        self.apply(&mut inner, changes).map_err(|(e, _)| e)
    }

    /// Record `changes` as pending (replacing pending changes of the same names) and commit if
    /// the policy says so. On a failed commit the changes of *this call* are withdrawn (the
    /// earlier pending state of those names is restored) and returned with the error; other
    /// pending changes stay for the next commit.
    fn apply(
        &self,
        inner: &mut Inner,
        changes: Vec<(String, Change)>,
    ) -> std::result::Result<(), (Error, Vec<Change>)> {
        let mut prev: Vec<(String, Option<Change>)> = Vec::new();
        for (name, ch) in changes {
            if let Change::Put(s) = &ch {
                inner.pending_bytes += s.size;
            }
            let old = inner.pending.insert(name.clone(), ch);
            if let Some(Change::Put(s)) = &old {
                inner.pending_bytes -= s.size;
            }
            prev.push((name, old));
        }
        let due = match self.cfg.commit {
            CommitPolicy::Each => true,
            CommitPolicy::Batch {
                max_changes,
                max_bytes,
            } => inner.pending.len() >= max_changes || inner.pending_bytes >= max_bytes,
        };
        if !due {
            for (_, old) in prev {
                if let Some(Change::Put(s)) = old {
                    self.staging.discard(&s);
                }
            }
            return Ok(());
        }
        match self.commit_pending(inner) {
            Ok(dropped) => {
                for (_, old) in prev {
                    if let Some(Change::Put(s)) = old {
                        self.staging.discard(&s);
                    }
                }
                match dropped {
                    None => Ok(()),
                    Some(e) => Err((e, Vec::new())),
                }
            }
            Err(e) => {
                let mut ours = Vec::new();
                for (name, old) in prev.into_iter().rev() {
                    let mine = match old {
                        Some(o) => {
                            if let Change::Put(s) = &o {
                                inner.pending_bytes += s.size;
                            }
                            inner.pending.insert(name, o)
                        }
                        None => inner.pending.remove(&name),
                    };
                    if let Some(m) = mine {
                        if let Change::Put(s) = &m {
                            inner.pending_bytes -= s.size;
                        }
                        ours.push(m);
                    }
                }
                Err((e, ours))
            }
        }
    }

    /// Write all pending changes as one session now.
    pub fn commit(&self) -> Result<()> {
        let mut inner = self.open_inner()?;
        self.commit_locked(&mut inner)
    }

    fn commit_locked(&self, inner: &mut Inner) -> Result<()> {
        match self.commit_pending(inner)? {
            None => Ok(()),
            Some(dropped) => Err(dropped),
        }
    }

    /// Commit the pending changes. `Err`: nothing changed on the medium (rolled back).
    /// `Ok(Some(e))`: committed, but puts whose staged copies were tampered with were
    /// dropped first; `e` says which.
    fn commit_pending(&self, inner: &mut Inner) -> Result<Option<Error>> {
        if inner.pending.is_empty() {
            return Ok(None);
        }
        self.check_writable(inner)?;
        // A staged copy changed or removed behind our back cannot be committed faithfully:
        // drop that change (so the others can go ahead) and say so.
        let mut dropped = None;
        let mut broken: Vec<(String, String)> = Vec::new();
        for (name, ch) in &inner.pending {
            if let Change::Put(s) = ch {
                match std::fs::metadata(&s.path) {
                    Ok(m) if m.len() == s.size => {}
                    Ok(m) => broken.push((
                        name.clone(),
                        format!("{:?} has {} bytes instead of {}", s.path, m.len(), s.size),
                    )),
                    Err(e) => broken.push((name.clone(), format!("{:?}: {e}", s.path))),
                }
            }
        }
        if !broken.is_empty() {
            for (n, _) in &broken {
                if let Some(Change::Put(s)) = inner.pending.remove(n) {
                    inner.pending_bytes -= s.size;
                    self.staging.discard(&s);
                }
            }
            let broken: Vec<String> = broken
                .iter()
                .map(|(n, why)| format!("{n:?} ({why})"))
                .collect();
            let e = Error::StagingTampered {
                details: broken.join(", "),
            };
            log::error!("{e}");
            dropped = Some(e);
            if inner.pending.is_empty() {
                return Ok(dropped);
            }
        }
        if inner.dialog.is_none() {
            self.respawn(inner)?;
        }
        let guard = match (&self.cfg.target, inner.lock.as_ref()) {
            (Target::Image(_), Some(l)) => Some(
                HeadBackup::capture(l)
                    .map_err(|e| Error::io("commit: cannot read the image head for rollback", e))?,
            ),
            _ => None,
        };
        let started = std::time::Instant::now();
        match self.commit_inner(inner) {
            Ok(()) => {
                let n = inner.pending.len();
                for (_, ch) in std::mem::take(&mut inner.pending) {
                    if let Change::Put(s) = ch {
                        self.staging.discard(&s);
                    }
                }
                inner.pending_bytes = 0;
                inner.blank = false;
                log::info!(
                    "committed {n} change(s) to {} in {:.2?}",
                    self.cfg.target.display(),
                    started.elapsed()
                );
                Ok(dropped)
            }
            Err(e) => {
                log::warn!(
                    "commit to {} failed: {e}; rolling back",
                    self.cfg.target.display()
                );
                if let Some(d) = inner.dialog.take() {
                    d.kill();
                }
                if let (Some(g), Some(l)) = (guard, inner.lock.as_ref()) {
                    if let Err(re) = g.restore(l) {
                        log::error!(
                            "rolling back {} after a failed commit failed: {re}",
                            self.cfg.target.display()
                        );
                    }
                }
                if let Err(re) = self.respawn(inner) {
                    log::warn!("cannot restart xorriso after the failed commit: {re}");
                }
                Err(e)
            }
        }
    }

    fn commit_inner(&self, inner: &mut Inner) -> Result<()> {
        // 1. Stage the changes in xorriso's tree.
        let mut cmds = Vec::new();
        for (name, ch) in &inner.pending {
            if let Change::Delete = ch {
                cmds.push(format!("-rm {} --", quote::arg(&self.cfg.iso_path(name))));
            }
        }
        for (name, ch) in &inner.pending {
            if let Change::Put(s) = ch {
                cmds.push(format!(
                    "-map {} {}",
                    quote::path_arg(&s.path),
                    quote::arg(&self.cfg.iso_path(name))
                ));
            }
        }
        if inner.blank {
            if let Some(v) = self.cfg.volid_for_new_medium() {
                cmds.push(format!("-volid {}", quote::arg(v)));
            }
        }
        let reply = self.run(inner, &cmds, "commit (recording changes)")?;
        let bad: Vec<&Message> = reply
            .at_least(Severity::Sorry)
            .filter(|m| !is_missing_removal(m))
            .collect();
        if !bad.is_empty() {
            return Err(self.xorriso_error("commit (recording changes)", &reply, Severity::Sorry));
        }
        #[cfg(test)]
        if inner.vanish_staged_before_write {
            for ch in inner.pending.values() {
                if let Change::Put(s) = ch {
                    let _ = std::fs::remove_file(&s.path);
                }
            }
        }
        // 2. Commit; a MISHAP (source unreadable, "Filling with 0s") cancels the write.
        let cmds = [
            "-abort_on MISHAP".to_string(),
            "-commit".to_string(),
            "-abort_on NEVER".to_string(),
        ];
        let d = inner.dialog.as_mut().ok_or_else(|| Error::Protocol {
            op: "commit".into(),
            detail: "no xorriso process".into(),
        })?;
        let reply = d.run(&cmds, "commit")?;
        if reply.exited.is_some() || reply.worst() >= Some(Severity::Sorry) {
            if reply.exited.is_some() {
                inner.dialog = None;
            }
            let mut e = self.xorriso_error("commit", &reply, Severity::Sorry);
            if let (Error::Xorriso { message, .. }, Some(st)) = (&mut e, &reply.exited) {
                if message.is_empty() {
                    *message = format!("xorriso ended ({st})");
                }
            }
            return Err(e);
        }
        // 3. Check what the new session holds.
        let listing = self.committed(inner)?;
        for (name, ch) in &inner.pending {
            match ch {
                Change::Put(s) => {
                    let got = listing.get(name).copied();
                    if got != Some(s.size) {
                        return Err(Error::SizeMismatch {
                            what: format!("after the commit, {name:?} on the medium"),
                            expected: s.size,
                            actual: got.unwrap_or(0),
                        });
                    }
                }
                Change::Delete => {
                    if listing.contains_key(name) {
                        return Err(Error::Protocol {
                            op: "commit".into(),
                            detail: format!(
                                "{name:?} is still listed after its deletion was committed"
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    // ----- lifecycle ------------------------------------------------------------------------

    /// Kill xorriso and start a new process on the last good session. Pending changes are
    /// kept (they live in this backend and its staging directory, not in xorriso) and are
    /// committed as usual.
    pub fn retry_cleanup(&self) -> Result<()> {
        let mut inner = self.open_inner()?;
        log::info!("restarting xorriso for {}", self.cfg.target.display());
        self.respawn(&mut inner)
    }

    /// Commit pending changes and end xorriso. Calling it again does nothing; any other
    /// operation afterwards fails with a "closed" error. If the final commit fails (after one
    /// retry with a fresh process for a transient error), the pending changes are discarded
    /// and the error says how many were lost.
    pub fn close(&self) -> Result<()> {
        let mut inner = self.lock_inner()?;
        if inner.closed {
            return Ok(());
        }
        let mut result = self.commit_locked(&mut inner);
        if let Err(e) = &result {
            if e.retryable() {
                log::warn!("final commit failed ({e}); retrying once with a new xorriso process");
                result = self
                    .respawn(&mut inner)
                    .and_then(|()| self.commit_locked(&mut inner));
            }
        }
        let result = result.map_err(|e| {
            if inner.pending.is_empty() {
                return e;
            }
            let names: Vec<String> = inner.pending.keys().map(|n| format!("{n:?}")).collect();
            Error::ChangesLost {
                source: Box::new(e),
                lost: names.len(),
                names: names.join(", "),
            }
        });
        for (_, ch) in std::mem::take(&mut inner.pending) {
            if let Change::Put(s) = ch {
                self.staging.discard(&s);
            }
        }
        inner.pending_bytes = 0;
        if let Some(d) = inner.dialog.take() {
            d.finish();
        }
        self.staging.remove();
        if let Some(l) = inner.lock.take() {
            l.remove_if_created_empty();
        }
        inner.closed = true;
        log::info!("closed {}", self.cfg.target.display());
        result
    }

    /// Rewrite an image file as one compact session without the data hidden by deletes
    /// and replaced puts: commit pending changes, write a new image with
    /// `-indev img -outdev new -changes_pending yes -commit`, check that it lists the same
    /// objects, fsync it, rename it over the original and reload. Drives are `Unsupported`.
    pub fn compact(&self) -> Result<CompactStats> {
        let Target::Image(img) = &self.cfg.target else {
            return Err(Error::Unsupported {
                op: "compact".into(),
                reason: format!(
                    "{} is an optical drive; discs cannot be rewritten in place (copy to a new disc instead)",
                    self.cfg.target.display()
                ),
            });
        };
        let mut inner = self.open_inner()?;
        self.check_writable(&inner)?;
        self.commit_locked(&mut inner)?;
        let before = self.committed(&mut inner)?;
        let old_bytes = inner.lock.as_ref().and_then(|l| l.len().ok()).unwrap_or(0);
        if old_bytes == 0 {
            return Ok(CompactStats {
                old_bytes,
                new_bytes: 0,
            });
        }
        let dir = img.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = img
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.stowage-compact"));
        let _ = std::fs::remove_file(&tmp);
        if let Some(d) = inner.dialog.take() {
            d.finish();
        }
        let result = self.compact_into(img, &tmp, &before);
        let result = result.and_then(|new_bytes| {
            let lock = inner.lock.as_ref().ok_or_else(|| Error::Closed {
                target: self.cfg.target.display(),
            })?;
            let new_lock = lock.lock_replacement(&tmp)?;
            new_lock
                .file()
                .sync_all()
                .map_err(|e| Error::io(format!("compact: cannot sync {tmp:?}"), e))?;
            std::fs::rename(&tmp, img)
                .map_err(|e| Error::io(format!("compact: cannot rename {tmp:?} to {img:?}"), e))?;
            sync_dir(&dir);
            inner.lock = Some(new_lock);
            Ok(new_bytes)
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        let respawned = self.respawn(&mut inner);
        let new_bytes = result?;
        respawned?;
        log::info!("compacted {img:?}: {old_bytes} -> {new_bytes} bytes");
        Ok(CompactStats {
            old_bytes,
            new_bytes,
        })
    }

    fn compact_into(&self, img: &Path, tmp: &Path, before: &BTreeMap<String, u64>) -> Result<u64> {
        let (mut d, startup) = Dialog::spawn(
            &self.exe,
            &self.cfg.start_args(),
            &self.cfg.target.display(),
        )?;
        if startup.worst() >= Some(Severity::Sorry) {
            return Err(self.xorriso_error("compact (start)", &startup, Severity::Sorry));
        }
        let mut img_addr = b"stdio:".to_vec();
        img_addr.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(img.as_os_str()));
        let mut tmp_addr = b"stdio:".to_vec();
        tmp_addr.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(tmp.as_os_str()));
        let cmds = [
            format!("-indev {}", quote::arg_bytes(&img_addr)),
            format!("-outdev {}", quote::arg_bytes(&tmp_addr)),
            "-changes_pending yes".to_string(),
            "-abort_on MISHAP".to_string(),
            "-commit".to_string(),
            "-abort_on NEVER".to_string(),
        ];
        let reply = d.run(&cmds, "compact")?;
        if reply.exited.is_some() || reply.worst() >= Some(Severity::Sorry) {
            return Err(self.xorriso_error("compact", &reply, Severity::Sorry));
        }
        // Load the new image and compare its listing with the old one.
        let cmds = [
            format!("-dev {}", quote::arg_bytes(&tmp_addr)),
            format!(
                "-find {} -maxdepth 1 -type f -exec report_lba --",
                quote::arg(&self.cfg.iso_dir)
            ),
        ];
        let reply = d.run(&cmds, "compact (verify)")?;
        d.finish();
        if reply.exited.is_some() || reply.at_least(Severity::Sorry).any(|m| !is_missing_path(m)) {
            return Err(self.xorriso_error("compact (verify)", &reply, Severity::Sorry));
        }
        let after = report::files_in_dir(&reply.results, &self.cfg.iso_dir);
        if &after != before {
            return Err(Error::Protocol {
                op: "compact".into(),
                detail: format!(
                    "the compacted image lists {} object(s), the original {}; keeping the original",
                    after.len(),
                    before.len()
                ),
            });
        }
        std::fs::metadata(tmp)
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("compact: cannot stat {tmp:?}"), e))
    }
}

impl Drop for XorrisoBackend {
    /// An unclosed backend still commits its pending changes (duplicity's pool workers never
    /// close; losing their deletes was a defect of its xorriso backend).
    fn drop(&mut self) {
        let closed = self.inner.lock().map(|g| g.closed).unwrap_or(true);
        if !closed {
            if let Err(e) = self.close() {
                log::error!("closing {} on drop failed: {e}", self.cfg.target.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loud_skip(what: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
    }
    use crate::ErrorKind;

    #[test]
    fn names() {
        assert!(validate_name("a*").is_ok());
        assert!(validate_name(&"x".repeat(255)).is_ok());
        assert_eq!(
            validate_name(&"x".repeat(256)).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        for n in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(
                validate_name(n).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
        }
    }

    fn have_xorriso() -> bool {
        let ok = std::process::Command::new("xorriso")
            .arg("-version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
                panic!("xorriso is required (STOWAGE_REQUIRE_TOOLS is set) but not installed");
            }
            loud_skip("xorriso is not installed");
        }
        ok
    }

    /// A staged copy that vanishes before the commit must not become a zero-filled file:
    /// xorriso's MISHAP ("Filling with 0s") cancels the write and the image keeps its last
    /// good session.
    #[test]
    fn mishap_is_an_error_and_rolls_back() {
        if !have_xorriso() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("m.iso");
        let url = format!("xorriso://{}", img.display());
        let cfg = Config::parse(&url, &Default::default(), Path::new("/")).unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"first").unwrap();
        let b = XorrisoBackend::open_with(cfg.clone()).unwrap();
        b.put(&src, "a").unwrap();
        b.close().unwrap();
        let size_after_first = std::fs::metadata(&img).unwrap().len();

        let b = XorrisoBackend::open_with(cfg.clone()).unwrap();
        std::fs::write(&src, vec![7u8; 100_000]).unwrap();
        b.put(&src, "b").unwrap();
        b.lock_inner().unwrap().vanish_staged_before_write = true;
        let e = b.commit().unwrap_err();
        assert!(e.to_string().contains("MISHAP"), "{e}");
        assert!(e.to_string().contains("Filling with 0s"), "{e}");
        // Still usable, the last good session is loaded.
        assert_eq!(b.query("a").unwrap(), Some(5));
        assert_eq!(std::fs::metadata(&img).unwrap().len(), size_after_first);
        // At close the put is dropped: its staged copy is gone.
        let e = b.close().unwrap_err();
        assert!(e.to_string().contains("NOT stored"), "{e}");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), size_after_first);
        let b = XorrisoBackend::open_with(cfg).unwrap();
        assert_eq!(b.list().unwrap(), vec![("a".to_string(), 5)]);
        assert_eq!(b.info().unwrap().sessions, 1);
        b.close().unwrap();
    }
}
