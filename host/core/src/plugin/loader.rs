//! Loading one plugin file, with every failure turned into a reason.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibraryError};
use stowage_backend_api::abi::{HostObject, PluginModule_Ref, ABI_VERSION};
use stowage_backend_api::{Descriptor, HandlerInfo};

use super::elf::check_shared_object;
use super::info::{Handler, PluginInfo};
use super::loaded::{LoadedPlugin, Runs};
use super::trust::PluginFile;
use crate::target::check_handler_name;

/// Loads `file` through its descriptor (`/proc/self/fd/N`, so that what
/// was checked when it was opened is what runs): ELF pre-check,
/// `dlopen(RTLD_NOW | RTLD_LOCAL)`, the abi_stable header, version and
/// layout checks, `init`, the descriptor. Any failure is returned as a
/// one-line reason naming the file by its path; nothing panics.
pub(crate) fn load(file: PluginFile, host: &HostObject) -> Result<LoadedPlugin, String> {
    let path = file.path().to_path_buf();
    let loaded = file.proc_path();
    // Messages name the file by its path, not by its descriptor.
    let (fd_name, shown) = (loaded.display().to_string(), path.display().to_string());
    let named = |e: String| e.replace(&fd_name, &shown);
    check_shared_object(&loaded).map_err(&named)?;
    preopen_now(&loaded).map_err(&named)?;
    // The library is known to the loader by its /proc/self/fd name from
    // now on: the descriptor stays open so that the name stays this file's.
    file.keep_open();
    let header = lib_header_from_path(&loaded).map_err(|e| named(library_error_text(&e)))?;
    let module = header
        .init_root_module::<PluginModule_Ref>()
        .map_err(|e| library_error_text(&e))?;
    if module.abi_version() != ABI_VERSION {
        return Err(format!(
            "speaks stowage ABI version {}, this host speaks {ABI_VERSION}",
            module.abi_version()
        ));
    }
    if !module.panic_unwind() {
        return Err(
            "built with panic = \"abort\": a panic in it would abort the host; rebuild with panic = \"unwind\""
                .into(),
        );
    }
    (module.init())(host.clone())
        .into_result()
        .map_err(|e| format!("init failed: {e}"))?;
    let descriptor = (module.descriptor())()
        .into_result()
        .map_err(|e| format!("descriptor failed: {e}"))?;
    let info = check_descriptor(descriptor, path)?;
    Ok(LoadedPlugin {
        info,
        runs: Runs::InProcess(module),
    })
}

/// Opens the library with immediate binding, so a missing symbol is a
/// clean error here instead of a crash at first call, and keeps it open
/// (abi_stable's own `dlopen` of the same name then reuses it).
fn preopen_now(path: &Path) -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading a library runs its constructors; the ELF pre-check has
    // rejected what would crash the loader, and a crashing constructor is
    // what the out-of-process probe is for.
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| format!("dlopen failed: {}", error_chain(&e)))?;
    // Plugins are never unloaded: unloading Rust code is not safe.
    std::mem::forget(library);
    Ok(())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// abi_stable's messages start with a newline and layout reports run to
/// hundreds of lines: keep the lines that say what is wrong.
fn library_error_text(e: &LibraryError) -> String {
    log::debug!("abi_stable report: {e}");
    match e {
        LibraryError::AbiInstability(_) => format!(
            "incompatible ABI layout (built against another stowage ABI): {}",
            summarize_layout_report(&e.to_string())
        ),
        LibraryError::GetSymbolError { .. } => {
            "not a stowage plugin: the shared library exports no stowage root module".into()
        }
        _ => {
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            lines.join(" ")
        }
    }
}

/// abi_stable reports each layout error as an `Error:` line, with the
/// expected and found values on the lines after `Expected:` and `Found:`.
/// Turns that into "what (expected X, found Y); ..." for the first few.
fn summarize_layout_report(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let value_after = |i: usize| -> String {
        lines
            .get(i + 1)
            .filter(|next| !next.starts_with("Error:") && !next.ends_with(':'))
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let mut errors: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(what) = line.strip_prefix("Error:") {
            errors.push(what.trim().to_string());
        } else if let Some(last) = errors.last_mut() {
            let (label, inline) = if let Some(rest) = line.strip_prefix("Expected:") {
                ("expected", rest.trim())
            } else if let Some(rest) = line.strip_prefix("Found:") {
                ("found", rest.trim())
            } else {
                continue;
            };
            let value = if inline.is_empty() {
                value_after(i)
            } else {
                inline.to_string()
            };
            if !value.is_empty() {
                let sep = if last.ends_with(')') { ", " } else { " (" };
                if sep == ", " {
                    last.pop();
                }
                last.push_str(&format!("{sep}{label} {value})"));
            }
        }
    }
    errors.dedup();
    if errors.is_empty() {
        return lines.iter().take(3).copied().collect::<Vec<_>>().join(" ");
    }
    let shown = errors.len().min(3);
    let mut text = errors[..shown].join("; ");
    if errors.len() > shown {
        text.push_str(&format!("; and {} more", errors.len() - shown));
    }
    text
}

fn handler_list(list: &[HandlerInfo], allow_plus: bool) -> Result<Vec<Handler>, String> {
    list.iter()
        .map(|h| {
            let name = h.name.as_str();
            let valid = if allow_plus {
                name.split('+').all(|part| check_handler_name(part).is_ok())
            } else {
                check_handler_name(name).is_ok()
            };
            if !valid || name != name.to_ascii_lowercase() {
                let what = if allow_plus { "scheme" } else { "prefix" };
                return Err(format!(
                    "invalid {what} name {name:?} in its descriptor (lower-case letters, digits, '-', '.'{} only, starting with a letter)",
                    if allow_plus { ", '+'" } else { "" }
                ));
            }
            Ok(Handler {
                name: name.to_string(),
                description: h.description.to_string(),
            })
        })
        .collect()
}

pub(crate) fn check_descriptor(d: Descriptor, file: PathBuf) -> Result<PluginInfo, String> {
    if d.name.trim().is_empty() {
        return Err("its descriptor has an empty plugin name".into());
    }
    let schemes = handler_list(&d.schemes, true)?;
    let prefixes = handler_list(&d.prefixes, false)?;
    if schemes.is_empty() && prefixes.is_empty() {
        return Err("its descriptor declares no scheme and no prefix".into());
    }
    Ok(PluginInfo {
        name: d.name.into_string(),
        version: d.version.into_string(),
        description: d.description.into_string(),
        abi_version: ABI_VERSION,
        file,
        schemes,
        prefixes,
    })
}

#[cfg(test)]
mod tests {
    use super::summarize_layout_report;

    #[test]
    fn layout_reports_keep_expected_and_found_values() {
        let report = "\nError:incompatible type size\nExpected:\n40\nFound:\n32\n\
                      Error:too many fields\nExpected:\n6\nFound:\n5\n";
        assert_eq!(
            summarize_layout_report(report),
            "incompatible type size (expected 40, found 32); too many fields (expected 6, found 5)"
        );
    }
}
