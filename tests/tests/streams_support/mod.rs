//! What the stream tests share: test data, a run with standard input,
//! a directory's entries.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use stowage_tests::{Cli, Output};

/// Deterministic, not repeating within a chunk: catches shifted or
/// duplicated chunks.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Runs `stowage ARGS` with `data` written to its standard input.
pub fn run_with_stdin(cli: &Cli, args: &[&str], data: &[u8]) -> Output {
    let mut cmd = cli.command(args);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning stowage");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = data.to_vec();
    // A failing command may stop reading; the write error is expected then.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("waiting for stowage");
    feeder.join().expect("feeder");
    Output {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
