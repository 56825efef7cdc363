//! One function per command. Each returns the exit status.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use stowage::{validate_name, Backend, Error, Registry, RetryPolicy};

use crate::output::{display_name, error_json, exit_status, line, print_json, report_error};
use crate::progress_bar::Bar;

/// What every command needs.
pub struct Context {
    pub registry: Registry,
    pub policy: RetryPolicy,
    pub json: bool,
    /// Draw progress bars (stderr is a terminal and no `-q`).
    pub progress: bool,
}

/// Collects per-item results; the exit status is the first failure's.
struct Report {
    json: bool,
    items: Vec<Value>,
    status: u8,
}

impl Report {
    fn new(json: bool) -> Self {
        Self {
            json,
            items: Vec::new(),
            status: 0,
        }
    }

    fn ok(&mut self, item: Value, text: String) {
        if !self.json {
            line(&text);
        }
        self.items.push(item);
    }

    fn failed(&mut self, mut item: Value, e: &Error) {
        report_error(e);
        if self.status == 0 {
            self.status = exit_status(e.code());
        }
        item["error"] = error_json(e);
        self.items.push(item);
    }

    /// Closes the backend (the durability barrier) and prints the result.
    /// JSON output is always the array of items; a failed close adds an
    /// item `{"operation": "close", "error": ...}`.
    fn finish(mut self, backend: Option<&Backend>) -> u8 {
        if let Some(b) = backend {
            if let Err(e) = b.close() {
                // A panicked backend refuses close too; that is not news.
                let after_panic = self.status != 0 && e.code() == stowage::ErrorCode::PANIC;
                if after_panic {
                    log::debug!("close after a panic: {e}");
                } else {
                    report_error(&e);
                    if self.status == 0 {
                        self.status = exit_status(e.code());
                    }
                    self.items
                        .push(json!({ "operation": "close", "error": error_json(&e) }));
                }
            }
        }
        if self.json {
            print_json(&self.items);
        }
        self.status
    }
}

/// A whole-command failure: stderr, and `{"error": ...}` in JSON mode.
pub fn fail(e: &Error, json: bool) -> u8 {
    report_error(e);
    if json {
        print_json(&json!({ "error": error_json(e) }));
    }
    exit_status(e.code())
}

impl Context {
    fn open(&self, url: &str) -> Result<Backend, Error> {
        Ok(self.registry.open(url)?.with_retry(self.policy))
    }

    /// Validates every name first (nothing is opened for a bad one), then
    /// opens `url`.
    fn open_for(&self, url: &str, names: &[String]) -> Result<Backend, Error> {
        for name in names {
            validate_name(name)?;
        }
        self.open(url)
    }

    pub fn ls(&self, url: &str) -> u8 {
        let backend = match self.open(url) {
            Ok(b) => b,
            Err(e) => return fail(&e, self.json),
        };
        let mut entries = match backend.list() {
            Ok(entries) => entries,
            Err(e) => return fail(&e, self.json),
        };
        entries.sort();
        let mut report = Report::new(self.json);
        for (name, size) in entries {
            let text = format!("{size}  {}", display_name(&name));
            report.ok(json!({ "name": name, "size": size }), text);
        }
        report.finish(Some(&backend))
    }

    /// `put` and `mv`: each file under its name (or `--name`).
    pub fn store(&self, url: &str, files: &[PathBuf], name: Option<&str>, moving: bool) -> u8 {
        if name.is_some() && files.len() != 1 {
            // A usage error: exit 2, like clap's own.
            let e = Error::InvalidInput("--name can only be used with exactly one FILE".into());
            fail(&e, self.json);
            return 2;
        }
        let jobs = match names_for_files(files, name) {
            Ok(jobs) => jobs,
            Err(e) => return fail(&e, self.json),
        };
        let backend = match self.open(url) {
            Ok(b) => b,
            Err(e) => return fail(&e, self.json),
        };
        let mut report = Report::new(self.json);
        let sizes: Vec<u64> = jobs
            .iter()
            .map(|(file, _)| std::fs::metadata(file).map(|m| m.len()).unwrap_or(0))
            .collect();
        let bar = Bar::new(sizes.iter().sum(), self.progress);
        for ((file, name), size) in jobs.into_iter().zip(sizes) {
            let item = json!({ "file": file, "name": name });
            let result = bar.transfer(&name, size, || {
                if moving {
                    backend.move_in(&file, &name)
                } else {
                    backend.put(&file, &name)
                }
            });
            match result {
                Ok(size) => {
                    let mut item = item;
                    item["size"] = json!(size);
                    let verb = if moving { "moved" } else { "stored" };
                    let text = format!(
                        "{verb} {} as {} ({size} bytes)",
                        file.display(),
                        display_name(&name)
                    );
                    report.ok(item, text);
                }
                Err(e) => report.failed(item, &e),
            }
        }
        bar.finish();
        report.finish(Some(&backend))
    }

    pub fn get(&self, url: &str, names: &[String], output: Option<&Path>) -> u8 {
        let backend = match self.open_for(url, names) {
            Ok(b) => b,
            Err(e) => return fail(&e, self.json),
        };
        let mut report = Report::new(self.json);
        // Sizes only matter for the bar; a backend that cannot say gets a
        // bar that moves object by object.
        let sizes: Vec<u64> = if self.progress {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            match backend.query_list(&refs) {
                Ok(sizes) => sizes.into_iter().map(Option::unwrap_or_default).collect(),
                Err(_) => vec![0; names.len()],
            }
        } else {
            vec![0; names.len()]
        };
        let bar = Bar::new(sizes.iter().sum(), self.progress);
        for (name, size) in names.iter().zip(sizes) {
            let dest = destination(output, name, names.len() > 1);
            let item = json!({ "name": name, "path": dest });
            match bar.transfer(name, size, || backend.get(name, &dest)) {
                Ok(size) => {
                    let mut item = item;
                    item["size"] = json!(size);
                    let text = format!(
                        "fetched {} to {} ({size} bytes)",
                        display_name(name),
                        dest.display()
                    );
                    report.ok(item, text);
                }
                Err(e) => report.failed(item, &e),
            }
        }
        bar.finish();
        report.finish(Some(&backend))
    }

    pub fn rm(&self, url: &str, names: &[String]) -> u8 {
        let backend = match self.open_for(url, names) {
            Ok(b) => b,
            Err(e) => return fail(&e, self.json),
        };
        let mut report = Report::new(self.json);
        for name in names {
            match backend.delete(name) {
                Ok(()) => report.ok(
                    json!({ "name": name, "deleted": true }),
                    format!("deleted {}", display_name(name)),
                ),
                Err(e) => report.failed(json!({ "name": name, "deleted": false }), &e),
            }
        }
        report.finish(Some(&backend))
    }

    pub fn stat(&self, url: &str, names: &[String]) -> u8 {
        let backend = match self.open_for(url, names) {
            Ok(b) => b,
            Err(e) => return fail(&e, self.json),
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let sizes = match backend.query_list(&refs) {
            Ok(sizes) => sizes,
            Err(e) => return fail(&e, self.json),
        };
        let mut report = Report::new(self.json);
        for (name, size) in names.iter().zip(sizes) {
            let text = match size {
                Some(s) => format!("{s}  {}", display_name(name)),
                None => format!("missing  {}", display_name(name)),
            };
            report.ok(
                json!({ "name": name, "size": size, "missing": size.is_none() }),
                text,
            );
        }
        report.finish(Some(&backend))
    }

    pub fn plugins(&self) -> u8 {
        let plugins = self.registry.plugins();
        if self.json {
            let modes: serde_json::Map<String, serde_json::Value> = plugins
                .iter()
                .filter_map(|p| {
                    let mode = self.registry.mode(&p.file)?;
                    Some((p.file.display().to_string(), json!(mode)))
                })
                .collect();
            print_json(&json!({
                "plugins": plugins,
                "modes": modes,
                "rejected": self.registry.rejected(),
                "conflicts": self.registry.conflicts(),
            }));
            return 0;
        }
        if plugins.is_empty() {
            line("no plugins loaded");
        }
        for p in plugins {
            line(&format!(
                "{} {} (ABI v{}) {}",
                p.name,
                p.version,
                p.abi_version,
                p.file.display()
            ));
            if let Some(mode) = self.registry.mode(&p.file) {
                line(&format!("    runs {mode}"));
            }
            line(&format!("    {}", p.description));
            for s in &p.schemes {
                line(&format!("    scheme {}://  {}", s.name, s.description));
            }
            for s in &p.prefixes {
                line(&format!("    prefix {}+    {}", s.name, s.description));
            }
        }
        for c in self.registry.conflicts() {
            line(&format!(
                "conflict: {} {:?} is declared by {} and {}; {} wins",
                c.kind,
                c.handler,
                c.winner.display(),
                c.loser.display(),
                c.winner.display()
            ));
        }
        for r in self.registry.rejected() {
            line(&format!("rejected: {}: {}", r.file.display(), r.reason));
        }
        0
    }
}

/// Pairs each file with its object name; all names are validated before
/// anything is sent.
fn names_for_files(files: &[PathBuf], name: Option<&str>) -> Result<Vec<(PathBuf, String)>, Error> {
    files
        .iter()
        .map(|file| {
            let name = match name {
                Some(n) => n.to_string(),
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "{}: no UTF-8 file name to use as the object name; give one with --name",
                            file.display()
                        ))
                    })?
                    .to_string(),
            };
            validate_name(&name)?;
            Ok((file.clone(), name))
        })
        .collect()
}

/// Where `get` writes `name`.
fn destination(output: Option<&Path>, name: &str, several: bool) -> PathBuf {
    match output {
        None => PathBuf::from(name),
        Some(dir) if several || dir.is_dir() => dir.join(name),
        Some(file) => file.to_path_buf(),
    }
}
