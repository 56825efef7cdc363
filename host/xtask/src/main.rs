//! `cargo xtask`: installing stowage where it belongs.
//!
//! ```text
//! cargo xtask install [--prefix DIR] [--debug]   (default prefix: ~/.local)
//! cargo xtask dist [--debug]                     (target/dist/stowage-VERSION-ARCH-linux.tar.gz)
//! ```

mod build;
mod layout;

use std::path::PathBuf;
use std::process::ExitCode;

use build::Profile;

const USAGE: &str = "\
usage: cargo xtask install [--prefix DIR] [--debug]
       cargo xtask dist [--debug]

install  builds stowage and its plugins (release) and puts them under DIR
         (default ~/.local): bin/stowage, lib/stowage/plugins/*.so,
         share/man/man1/stowage*.1, and bash, zsh and fish completions.
dist     the same layout in target/dist/stowage-VERSION-ARCH-linux.tar.gz.
--debug  use the debug build instead of release (faster; for tests).";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut args = args.into_iter();
    let task = args.next().ok_or_else(|| USAGE.to_string())?;
    let mut prefix: Option<PathBuf> = None;
    let mut profile = Profile::Release;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--prefix" if task == "install" => {
                prefix = Some(args.next().ok_or("--prefix needs a directory")?.into());
            }
            "--debug" => profile = Profile::Debug,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    match task.as_str() {
        "install" => {
            let prefix = match prefix {
                Some(p) => p,
                None => default_prefix()?,
            };
            let built = build::build(profile)?;
            layout::install(&built, &prefix)?;
            println!("installed stowage into {}", prefix.display());
            Ok(())
        }
        "dist" => {
            let built = build::build(profile)?;
            let tarball = layout::dist(&built)?;
            println!("{}", tarball.display());
            Ok(())
        }
        "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task {other:?}\n{USAGE}")),
    }
}

/// `~/.local`.
fn default_prefix() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local"))
        .ok_or_else(|| "HOME is not set; give --prefix DIR".into())
}
