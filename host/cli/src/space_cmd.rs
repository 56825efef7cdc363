//! `stowage space ...`: backup spaces from the command line.
//!
//! Every command opens the store, does its work and closes the store (the
//! backend's durability barrier). Spaces created here are persistent: a
//! command ends by closing its space, and a space that is not persistent
//! would vanish with it. `--persistent` is accepted for compatibility.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{json, Value};
use stowage_space::{iso8601, BackupStore, Data, Space, SpaceError, SpaceInfo};

use crate::commands::Context;
use crate::output::{display_name, exit_status, line, print_json};
use crate::progress_bar::SharedBar;

/// `stowage space ...`.
#[derive(Subcommand, Debug)]
pub enum SpaceCommand {
    /// List the spaces of a store: persistence, entries, objects, size, dates.
    List {
        /// Backend URL of the store.
        url: String,
    },

    /// Back up files, directories (recursively; symlinks kept as links) or
    /// symlinks into SPACE, which is created (persistent) when absent.
    Backup {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// What to back up.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Entry name (only with one PATH; default: the absolute path).
        #[arg(long)]
        name: Option<String>,
        /// Accepted for compatibility: spaces created by the CLI are always
        /// persistent.
        #[arg(long)]
        persistent: bool,
    },

    /// Store bytes from FILE or standard input as a value entry.
    BackupValue {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
        /// Where the bytes come from: a file, or `-` for standard input
        /// (the default).
        #[arg(long, value_name = "FILE|-")]
        from: Option<PathBuf>,
    },

    /// Restore an entry to where it came from, or to --to PATH.
    Restore {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
        /// Restore here instead.
        #[arg(long, value_name = "PATH")]
        to: Option<PathBuf>,
    },

    /// Write a value entry's bytes to standard output.
    RestoreValue {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry name.
        name: String,
    },

    /// Restore every filesystem entry of SPACE to where it came from.
    Revert {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// List the entries of SPACE.
    Show {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Fetch every object of SPACE and check its SHA-256 (exit 56 on damage).
    Verify {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Remove entries from SPACE.
    Rm {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
        /// Entry names.
        #[arg(required = true)]
        names: Vec<String>,
    },

    /// Remove SPACE and everything in it.
    #[command(name = "drop")]
    DropSpace {
        /// Backend URL of the store.
        url: String,
        /// Space name.
        space: String,
    },

    /// Remove objects no space refers to, and old manifests.
    Gc {
        /// Backend URL of the store.
        url: String,
    },
}

impl SpaceCommand {
    fn url(&self) -> &str {
        match self {
            SpaceCommand::List { url }
            | SpaceCommand::Backup { url, .. }
            | SpaceCommand::BackupValue { url, .. }
            | SpaceCommand::Restore { url, .. }
            | SpaceCommand::RestoreValue { url, .. }
            | SpaceCommand::Revert { url, .. }
            | SpaceCommand::Show { url, .. }
            | SpaceCommand::Verify { url, .. }
            | SpaceCommand::Rm { url, .. }
            | SpaceCommand::DropSpace { url, .. }
            | SpaceCommand::Gc { url } => url,
        }
    }
}

/// The result document and exit status of one command.
struct Out {
    json: bool,
    doc: Value,
    status: u8,
}

fn error_json(e: &SpaceError) -> Value {
    json!({
        "code": exit_status(e.code()),
        "kind": e.code().name(),
        "message": e.to_string(),
    })
}

impl Out {
    fn text(&self, text: &str) {
        if !self.json {
            line(text);
        }
    }

    /// A per-item failure: reported, status kept if it is the first.
    fn item_failed(&mut self, e: &SpaceError) -> Value {
        eprintln!("stowage: error: {e}");
        if self.status == 0 {
            self.status = exit_status(e.code());
        }
        error_json(e)
    }

    /// A whole-command failure.
    fn failed(&mut self, e: &SpaceError) {
        let err = self.item_failed(e);
        match &mut self.doc {
            Value::Object(map) => {
                map.insert("error".into(), err);
            }
            Value::Null => self.doc = json!({ "error": err }),
            other => *other = json!({ "results": other.take(), "error": err }),
        }
    }

    fn finish(self) -> u8 {
        if self.json && !self.doc.is_null() {
            print_json(&self.doc);
        }
        self.status
    }
}

/// Runs one `stowage space` command; returns the exit status.
pub fn run(ctx: &Context, cmd: &SpaceCommand) -> u8 {
    let mut out = Out {
        json: ctx.json,
        doc: Value::Null,
        status: 0,
    };
    if let SpaceCommand::Backup { paths, name, .. } = cmd {
        if name.is_some() && paths.len() != 1 {
            eprintln!("stowage: error: --name can only be used with exactly one PATH");
            return 2;
        }
    }
    let store = match ctx
        .registry
        .open(cmd.url())
        .map_err(SpaceError::from)
        .and_then(|b| BackupStore::with_backend(b.with_retry(ctx.policy)))
    {
        Ok(store) => store,
        Err(e) => {
            out.failed(&e);
            return out.finish();
        }
    };
    if let Err(e) = dispatch(&store, cmd, &mut out, ctx.progress) {
        out.failed(&e);
    }
    if let Err(e) = store.close() {
        out.failed(&e);
    }
    out.finish()
}

fn dispatch(
    store: &BackupStore,
    cmd: &SpaceCommand,
    out: &mut Out,
    progress: bool,
) -> Result<(), SpaceError> {
    match cmd {
        SpaceCommand::List { .. } => list(store, out),
        SpaceCommand::Backup {
            space, paths, name, ..
        } => {
            let s = store.space(space, true)?;
            backup(&s, paths, name.as_deref(), out, progress);
            s.close()
        }
        SpaceCommand::BackupValue {
            space, name, from, ..
        } => {
            // The space is held before the input is read.
            let s = store.space(space, true)?;
            let bytes = read_input(from.as_deref())?;
            s.backup_value(&bytes, name)?;
            out.doc = json!({ "space": space, "name": name, "size": bytes.len() });
            out.text(&format!(
                "stored value {} ({} bytes) in space {space}",
                display_name(name),
                bytes.len()
            ));
            s.close()
        }
        SpaceCommand::Restore {
            space, name, to, ..
        } => {
            let s = store.open_space_read_only(space)?;
            let r = s.restore_name(name, to.as_deref())?;
            out.text(&format!(
                "restored {} to {}: {} files, {} directories, {} symlinks, {} bytes",
                display_name(name),
                r.path.display(),
                r.files,
                r.dirs,
                r.symlinks,
                r.bytes
            ));
            out.doc = json!({ "space": space, "name": name, "restored": r });
            s.close()
        }
        SpaceCommand::RestoreValue { space, name, .. } => {
            let s = store.open_space_read_only(space)?;
            let bytes = s.restore_value(name)?;
            if out.json {
                out.doc = match String::from_utf8(bytes) {
                    Ok(text) => json!({ "name": name, "size": text.len(), "text": text }),
                    Err(e) => {
                        let b = e.into_bytes();
                        json!({ "name": name, "size": b.len(), "hex": hex(&b) })
                    }
                };
            } else {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(&bytes)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| SpaceError::local("<stdout>", e))?;
            }
            s.close()
        }
        SpaceCommand::Revert { space, .. } => {
            let s = store.open_space_read_only(space)?;
            revert(&s, out)?;
            s.close()
        }
        SpaceCommand::Show { space, .. } => {
            let s = store.open_space_read_only(space)?;
            show(&s, out);
            s.close()
        }
        SpaceCommand::Verify { space, .. } => {
            let s = store.open_space_read_only(space)?;
            verify(&s, out)?;
            s.close()
        }
        SpaceCommand::Rm { space, names, .. } => {
            let s = store.open_space(space)?;
            let mut items = Vec::new();
            for name in names {
                match s.delete(name) {
                    Ok(()) => {
                        out.text(&format!("removed {}", display_name(name)));
                        items.push(json!({ "name": name, "deleted": true }));
                    }
                    Err(e) => {
                        let err = out.item_failed(&e);
                        items.push(json!({ "name": name, "deleted": false, "error": err }));
                    }
                }
            }
            out.doc = Value::Array(items);
            // Keep a non-persistent space (left by a crashed program) as is.
            s.close_keep()
        }
        SpaceCommand::DropSpace { space, .. } => {
            store.drop_space(space)?;
            out.text(&format!("dropped space {space}"));
            out.doc = json!({ "space": space, "dropped": true });
            Ok(())
        }
        SpaceCommand::Gc { .. } => {
            let r = store.gc()?;
            out.text(&format!(
                "removed {} objects ({} bytes) and {} old manifests; {} objects kept",
                r.objects_removed, r.bytes_removed, r.manifests_removed, r.objects_kept
            ));
            for s in &r.unreadable_spaces {
                out.text(&format!(
                    "space {s} is unreadable: no object was removed while it is"
                ));
            }
            out.doc = serde_json::to_value(&r).unwrap_or(Value::Null);
            Ok(())
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_input(from: Option<&Path>) -> Result<Vec<u8>, SpaceError> {
    match from {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p).map_err(|e| SpaceError::local(p, e)),
    }
}

fn read_stdin() -> Result<Vec<u8>, SpaceError> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| SpaceError::local("<stdin>", e))?;
    Ok(bytes)
}

fn info_json(i: &SpaceInfo) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    v["created_iso"] = json!(iso8601(i.created));
    v["modified_iso"] = json!(iso8601(i.modified));
    v
}

fn list(store: &BackupStore, out: &mut Out) -> Result<(), SpaceError> {
    let spaces = store.spaces()?;
    if spaces.is_empty() {
        out.text("no spaces");
    }
    for i in &spaces {
        out.text(&format!(
            "{}  {}  {} entries  {} objects  {} bytes  created {}  modified {}",
            i.name,
            if i.persistent {
                "persistent"
            } else {
                "temporary"
            },
            i.entries,
            i.objects,
            i.size,
            iso8601(i.created),
            iso8601(i.modified)
        ));
    }
    out.doc = Value::Array(spaces.iter().map(info_json).collect());
    Ok(())
}

fn backup(s: &Space, paths: &[PathBuf], name: Option<&str>, out: &mut Out, progress: bool) {
    let mut items = Vec::new();
    for path in paths {
        let bar = SharedBar::new(progress, &path.display().to_string());
        let result = s.backup_path_reporting(path, name, &|done, total| bar.set(done, total));
        bar.finish();
        match result {
            Ok(r) => {
                out.text(&format!(
                    "backed up {} as {}: {} files, {} directories, {} symlinks, {} bytes",
                    r.origin.display(),
                    display_name(&r.name),
                    r.files,
                    r.dirs,
                    r.symlinks,
                    r.bytes
                ));
                for skipped in &r.skipped {
                    eprintln!(
                        "stowage: warning: {} skipped: {}",
                        skipped.path.display(),
                        skipped.reason
                    );
                }
                items.push(serde_json::to_value(&r).unwrap_or(Value::Null));
            }
            Err(e) => {
                let err = out.item_failed(&e);
                items.push(json!({ "path": path, "error": err }));
            }
        }
    }
    out.doc = json!({ "space": s.name(), "results": items });
}

fn revert(s: &Space, out: &mut Out) -> Result<(), SpaceError> {
    let mut items = Vec::new();
    for item in s.revert()? {
        match &item.result {
            Ok(r) => {
                out.text(&format!(
                    "restored {} to {}",
                    display_name(&item.name),
                    r.path.display()
                ));
                items.push(json!({ "name": item.name, "origin": item.origin, "restored": r }));
            }
            Err(e) => {
                let err = out.item_failed(e);
                items.push(json!({ "name": item.name, "origin": item.origin, "error": err }));
            }
        }
    }
    if items.is_empty() {
        out.text("nothing to revert");
    }
    out.doc = json!({ "space": s.name(), "results": items });
    Ok(())
}

fn show(s: &Space, out: &mut Out) {
    let info = s.info();
    out.text(&format!(
        "space {}: {}, generation {}, {} entries, {} objects, {} bytes",
        info.name,
        if info.persistent {
            "persistent"
        } else {
            "temporary"
        },
        info.generation,
        info.entries,
        info.objects,
        info.size
    ));
    let mut entries = Vec::new();
    for (name, e) in s.entries() {
        let size: u64 = std::iter::once(&e.root)
            .chain(&e.tree)
            .filter_map(|n| n.data.content().map(|(_, len)| len))
            .sum();
        let origin = e.origin.as_ref().map(|o| o.0.display().to_string());
        let detail = match &e.root.data {
            Data::Symlink { target } => format!(" -> {}", target.0.display()),
            Data::Dir => format!(" ({} entries below)", e.tree.len()),
            _ => String::new(),
        };
        out.text(&format!(
            "{:<7} {:>12}  {}{}{}",
            e.root.data.kind(),
            size,
            display_name(&name),
            origin.map(|o| format!("  from {o}")).unwrap_or_default(),
            detail
        ));
        let mut v = serde_json::to_value(&e).unwrap_or(Value::Null);
        v["name"] = json!(name);
        v["total_size"] = json!(size);
        entries.push(v);
    }
    out.doc = json!({ "space": info_json(&info), "entries": entries });
}

fn verify(s: &Space, out: &mut Out) -> Result<(), SpaceError> {
    let problems = s.verify()?;
    for p in &problems {
        let inner = if p.path.as_os_str().is_empty() {
            String::new()
        } else {
            format!(" ({})", p.path.display())
        };
        eprintln!(
            "stowage: damaged: {}{inner}: object {} {}",
            display_name(&p.name),
            p.object,
            p.problem
        );
    }
    let info = s.info();
    if problems.is_empty() {
        out.text(&format!(
            "space {}: {} entries, {} objects verified",
            info.name, info.entries, info.objects
        ));
    } else {
        out.text(&format!(
            "space {}: {} damaged object references",
            info.name,
            problems.len()
        ));
        out.status = exit_status(stowage::ErrorCode::VALIDATION_FAILED);
    }
    out.doc = json!({
        "space": info.name,
        "entries": info.entries,
        "objects": info.objects,
        "ok": problems.is_empty(),
        "problems": problems,
    });
    Ok(())
}
