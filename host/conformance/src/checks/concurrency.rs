//! Concurrency: many threads through one backend, on distinct names and
//! on one name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::context::Ctx;
use crate::data::Content;
use crate::describe::{error_text, raw_error_text, Said};
use crate::expect::host_failed;
use crate::run::lock;
use crate::stop::{ensure, fail, Checked, Stop};
use stowage::ErrorCode;

const THREADS: usize = 8;

/// One thread's objects: name, content, local source, local destination.
struct Job {
    name: String,
    content: Content,
    source: PathBuf,
    dest: PathBuf,
}

pub(crate) fn distinct_names(ctx: &Ctx<'_, '_>) -> Checked {
    const PER_THREAD: usize = 6;
    let mut work: Vec<Vec<Job>> = Vec::new();
    for t in 0..THREADS {
        let mut jobs = Vec::new();
        for i in 0..PER_THREAD {
            let content = ctx.content(((t * PER_THREAD + i) as u64 * 7919) % 200_000);
            jobs.push(Job {
                name: ctx.name(&format!("t{t}-{i}")),
                content,
                source: ctx.file(content)?,
                dest: ctx.path("dest"),
            });
        }
        work.push(jobs);
    }
    let backend = ctx.backend();
    let errors = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for jobs in &work {
            let errors = &errors;
            s.spawn(move || {
                let run = || -> Result<(), String> {
                    for j in jobs {
                        backend
                            .put(&j.source, &j.name)
                            .map_err(|e| format!("put of {:?}: {}", j.name, error_text(&e)))?;
                    }
                    for j in jobs {
                        backend
                            .get(&j.name, &j.dest)
                            .map_err(|e| format!("get of {:?}: {}", j.name, error_text(&e)))?;
                        j.content
                            .verify(&j.dest)
                            .map_err(|m| format!("get of {:?}: {m}", j.name))?;
                        match backend.query(&j.name) {
                            Ok(Some(s)) if s == j.content.size => {}
                            other => {
                                return Err(format!("query of {:?} says {}", j.name, other.said()))
                            }
                        }
                    }
                    for j in &jobs[..PER_THREAD / 2] {
                        backend
                            .delete(&j.name)
                            .map_err(|e| format!("delete of {:?}: {}", j.name, error_text(&e)))?;
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    lock(errors).push(e);
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(first) = errors.first() {
        fail!(
            "{} of {THREADS} threads failed; first: {first}",
            errors.len()
        );
    }
    let want: BTreeMap<String, u64> = work
        .iter()
        .flat_map(|jobs| &jobs[PER_THREAD / 2..])
        .map(|j| (j.name.clone(), j.content.size))
        .collect();
    ctx.expect_listing(&want)?;
    Ok(format!(
        "{} puts, gets and queries, {} deletes from {THREADS} threads",
        THREADS * PER_THREAD,
        THREADS * PER_THREAD / 2
    ))
}

pub(crate) fn same_name(ctx: &Ctx<'_, '_>) -> Checked {
    const ROUNDS: usize = 3;
    let name = ctx.name("obj");
    let versions: Vec<Content> = (0..THREADS as u64)
        .map(|t| ctx.content(512 * 1024 + t * 4099))
        .collect();
    let files: Vec<PathBuf> = versions
        .iter()
        .map(|v| ctx.file(*v))
        .collect::<Result<_, Stop>>()?;
    // The raw handle: the host's size check after each put would race with
    // the other threads' puts and report a mismatch of its own.
    let raw = ctx.raw();
    let errors = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for file in &files {
            let errors = &errors;
            let name = &name;
            s.spawn(move || {
                for _ in 0..ROUNDS {
                    match raw.put(file, name) {
                        Ok(()) => {}
                        // Refusing a concurrent writer is allowed if it
                        // says so retryably or as "in use".
                        Err(e) if e.is_retryable() || e.code() == ErrorCode::IN_USE => {}
                        Err(e) => lock(errors).push(raw_error_text(&e)),
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(first) = errors.first() {
        fail!(
            "{} concurrent puts to one name failed; first: {first}",
            errors.len()
        );
    }
    let dest = ctx.path("dest");
    let size = ctx
        .backend()
        .get(&name, &dest)
        .map_err(host_failed("get after the concurrent puts"))?;
    let Some(version) = versions.iter().find(|v| v.size == size) else {
        fail!("after concurrent puts the object has {size} bytes, the size of no version");
    };
    version.verify(&dest).map_err(|m| {
        Stop::Fail(format!(
            "after concurrent puts the object is not one complete version: {m}"
        ))
    })?;
    let listed = ctx.ours()?;
    ensure!(
        listed.len() == 1 && listed.get(&name) == Some(&size),
        "after concurrent puts list shows {listed:?}, expected only {name:?} with {size} bytes"
    );
    Ok(format!("{} puts of {THREADS} versions", THREADS * ROUNDS))
}
