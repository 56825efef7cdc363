//! Running the `stowage` command.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::build::stowage_bin;

/// A configured `stowage` invocation: plugin directories, global flags and
/// the working directory. Cheap to clone; [`Cli::run`] runs one command.
///
/// Every run gets `--plugin-dir` for each directory, small retry delays
/// (`--retry-delay 1 --retry-max-delay 5`, so no test sleeps for long),
/// the extra global flags, then the command. `RUST_LOG` and every
/// `STOWAGE_*` variable are removed from the child's environment, and
/// `XDG_CACHE_HOME` points at a directory of this `Cli` (shared by its
/// clones), so the host's plugin probe cache is neither the user's nor
/// shared between tests running in parallel; `XDG_DATA_HOME` points at a
/// directory beside it that does not exist, so the per-user plugin
/// directory of a run without `--plugin-dir` is never the user's.
#[derive(Clone, Debug)]
pub struct Cli {
    cache: Arc<tempfile::TempDir>,
    plugin_dirs: Vec<PathBuf>,
    globals: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
}

impl Cli {
    /// `stowage --plugin-dir DIR`.
    pub fn new(plugin_dir: &Path) -> Self {
        Self::with_dirs(&[plugin_dir])
    }

    /// `stowage --plugin-dir D1 --plugin-dir D2 ...` (none at all: the
    /// host's default search path).
    pub fn with_dirs(dirs: &[&Path]) -> Self {
        let cache = tempfile::Builder::new()
            .prefix("stowage-cache-")
            .tempdir()
            .expect("creating a cache directory");
        Self {
            cache: Arc::new(cache),
            plugin_dirs: dirs.iter().map(|d| d.to_path_buf()).collect(),
            globals: vec![
                "--retry-delay".into(),
                "1".into(),
                "--retry-max-delay".into(),
                "5".into(),
            ],
            cwd: None,
            env: Vec::new(),
            timeout: Duration::from_secs(300),
        }
    }

    /// Replaces the small default retry delays (milliseconds): for tests
    /// whose retries must outlast a server's restart.
    pub fn retry_delays(mut self, first_ms: u64, max_ms: u64) -> Self {
        for (flag, value) in [("--retry-delay", first_ms), ("--retry-max-delay", max_ms)] {
            if let Some(at) = self.globals.iter().position(|a| a == flag) {
                self.globals[at + 1] = value.to_string().into();
            }
        }
        self
    }

    /// Adds global flags (placed before the command), e.g.
    /// `.global(["--retries", "5"])`.
    pub fn global<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.globals
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// The directory the child sees as `XDG_CACHE_HOME`.
    pub fn cache_home(&self) -> &Path {
        self.cache.path()
    }

    /// Runs the child in `dir`.
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// The full argument list for `args`.
    fn argv<I, S>(&self, json: bool, args: I) -> Vec<OsString>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut argv = Vec::new();
        for d in &self.plugin_dirs {
            argv.push("--plugin-dir".into());
            argv.push(d.as_os_str().to_os_string());
        }
        argv.extend(self.globals.iter().cloned());
        if json {
            argv.push("--json".into());
        }
        argv.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        argv
    }

    /// Runs `stowage GLOBALS ARGS...` to completion.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_argv(self.argv(false, args))
    }

    /// Runs `stowage GLOBALS --json ARGS...` and parses stdout as JSON.
    ///
    /// # Panics
    /// When stdout is not one JSON document.
    pub fn run_json<I, S>(&self, args: I) -> (Output, serde_json::Value)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.run_argv(self.argv(true, args));
        let json = out.json();
        (out, json)
    }

    /// `stowage GLOBALS ARGS...` as a [`Command`] with this `Cli`'s
    /// environment and working directory, stdin from `/dev/null`, stdout and
    /// stderr piped, not started: for tests that must signal the process
    /// while it runs (e.g. `kill -9` in the middle of a `put`).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command_argv(&self.argv(false, args))
    }

    fn command_argv(&self, argv: &[OsString]) -> Command {
        let mut cmd = Command::new(stowage_bin());
        cmd.args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.env_remove("RUST_LOG");
        cmd.env("XDG_CACHE_HOME", self.cache.path());
        cmd.env("XDG_DATA_HOME", self.cache.path().join("no-data-home"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("STOWAGE_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn run_argv(&self, argv: Vec<OsString>) -> Output {
        let bin = stowage_bin();
        let mut cmd = self.command_argv(&argv);
        let shown: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {} {shown:?}: {e}", bin.display()));
        let mut so = child.stdout.take().expect("piped stdout");
        let mut se = child.stderr.take().expect("piped stderr");
        let t_out = thread::spawn(move || {
            let mut v = Vec::new();
            let _ = so.read_to_end(&mut v);
            v
        });
        let t_err = thread::spawn(move || {
            let mut v = Vec::new();
            let _ = se.read_to_end(&mut v);
            v
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for stowage") {
                break status;
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("stowage {shown:?} did not finish within {:?}", self.timeout);
            }
            thread::sleep(Duration::from_millis(5));
        };
        let stdout = t_out.join().expect("stdout reader");
        let stderr = t_err.join().expect("stderr reader");
        let (code, signal) = match (status.code(), status.signal()) {
            (Some(c), _) => (c, None),
            (None, Some(s)) => (128 + s, Some(s)),
            (None, None) => (-1, None),
        };
        Output {
            args: shown,
            code,
            signal,
            out: String::from_utf8_lossy(&stdout).into_owned(),
            err: String::from_utf8_lossy(&stderr).into_owned(),
            stdout,
            stderr,
        }
    }
}

/// What one `stowage` run produced.
#[derive(Clone)]
pub struct Output {
    /// The arguments (after the binary) as passed.
    pub args: Vec<String>,
    /// The exit status; 128 + N when killed by signal N.
    pub code: i32,
    /// The signal that killed the process, if any.
    pub signal: Option<i32>,
    /// Raw stdout.
    pub stdout: Vec<u8>,
    /// Raw stderr.
    pub stderr: Vec<u8>,
    /// Stdout, lossily decoded.
    pub out: String,
    /// Stderr, lossily decoded.
    pub err: String,
}

impl Output {
    /// Asserts the exit status is `code` (printing everything if not).
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit status\n{self}");
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Stdout parsed as JSON.
    ///
    /// # Panics
    /// When stdout is not one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }

    /// Stdout and stderr together, for "appears nowhere" checks.
    pub fn all_text(&self) -> String {
        format!("{}\n{}", self.out, self.err)
    }

    /// Asserts a JSON-mode failure: exit status `code` and a top-level
    /// error object with that code whose message contains `fragment`.
    #[track_caller]
    pub fn expect_json_error(&self, code: i32, fragment: &str) -> &Self {
        self.expect_code(code);
        let error = self
            .json_error()
            .unwrap_or_else(|| panic!("no error object\n{self}"));
        assert_eq!(error["code"], code, "{self}");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains(fragment)),
            "the error message lacks {fragment:?}\n{self}"
        );
        self
    }

    /// The document's `"error"` object on stdout (JSON mode), if any.
    pub fn json_error(&self) -> Option<serde_json::Value> {
        serde_json::from_slice::<serde_json::Value>(&self.stdout)
            .ok()?
            .get("error")
            .filter(|e| !e.is_null())
            .cloned()
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ stowage {:?}", self.args)?;
        match self.signal {
            Some(s) => writeln!(f, "killed by signal {s}")?,
            None => writeln!(f, "exit status {}", self.code)?,
        }
        writeln!(f, "--- stdout ---\n{}", truncate(&self.out))?;
        write!(f, "--- stderr ---\n{}", truncate(&self.err))
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn truncate(s: &str) -> &str {
    const MAX: usize = 8000;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
