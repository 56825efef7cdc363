//! The persistent xorriso process and its packet protocol (reference §5).
//!
//! One `xorriso … -dialog on` child per backend. Every batch of commands is followed by
//! `-print_mark @@END-<n>@@`, and the reply is everything up to that mark, so each reply is
//! read whole and never mixed with the next one. With `-pkt_output on` every stdout line is a
//! `C:F: payload` packet: `R` results, `I` info (problem events, prompts), `M` marks. Problem
//! events are parsed into [`Message`]s with their severity; judging them is the caller's job
//! because what is acceptable depends on the command (a SORRY for removing a missing name is
//! fine, any SORRY during a commit is not).
//!
//! stdout is read by a thread that feeds a channel, so we can write thousands of commands
//! without both pipes filling up and deadlocking; stderr (only the banner, normally) is
//! drained by another thread and its last lines kept for error messages. The child runs in
//! its own process group so a Ctrl-C at the terminal does not kill it in the middle of a
//! commit; the host's orderly shutdown (or our `Drop`) ends it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Severity of a problem event, ordered from harmless to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Debug,
    Update,
    Note,
    Hint,
    Warning,
    Sorry,
    Mishap,
    Failure,
    Fatal,
    Abort,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Debug => "DEBUG",
            Severity::Update => "UPDATE",
            Severity::Note => "NOTE",
            Severity::Hint => "HINT",
            Severity::Warning => "WARNING",
            Severity::Sorry => "SORRY",
            Severity::Mishap => "MISHAP",
            Severity::Failure => "FAILURE",
            Severity::Fatal => "FATAL",
            Severity::Abort => "ABORT",
        })
    }
}

impl Severity {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "DEBUG" => Severity::Debug,
            "UPDATE" => Severity::Update,
            "NOTE" => Severity::Note,
            "HINT" => Severity::Hint,
            "WARNING" => Severity::Warning,
            "SORRY" => Severity::Sorry,
            "MISHAP" => Severity::Mishap,
            "FAILURE" => Severity::Failure,
            "FATAL" => Severity::Fatal,
            "ABORT" => Severity::Abort,
            _ => return None,
        })
    }
}

/// One problem event from the info channel, e.g. `libisofs: MISHAP : File … Filling with 0s.`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub source: String,
    pub severity: Severity,
    pub text: String,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.source, self.severity, self.text)
    }
}

/// Parse an info payload as a problem event
/// (`^(xorriso|libisofs|libburn|libisoburn)\s*: SEVERITY : text`).
pub fn parse_message(payload: &str) -> Option<Message> {
    let (source, rest) = payload.split_once(':')?;
    let source = source.trim_end();
    if !["xorriso", "libisofs", "libburn", "libisoburn"].contains(&source) {
        return None;
    }
    let rest = rest.strip_prefix(' ')?;
    let (sev, text) = rest.split_once(" : ")?;
    let severity = Severity::parse(sev)?;
    // The message text may end in an encoded newline ("\n" as two characters).
    let text = text.trim_end().trim_end_matches("\\n").trim().to_string();
    Some(Message {
        source: source.to_string(),
        severity,
        text,
    })
}

/// Everything xorriso printed for one batch of commands.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Complete result lines (`R` channel).
    pub results: Vec<String>,
    /// Problem events (`I` lines with a severity).
    pub messages: Vec<Message>,
    /// Other info lines (drive and media status), prompts removed.
    pub info: Vec<String>,
    /// Set if the process ended before the mark arrived: how it ended.
    pub exited: Option<String>,
}

impl Reply {
    /// The worst severity among the messages.
    pub fn worst(&self) -> Option<Severity> {
        self.messages.iter().map(|m| m.severity).max()
    }

    /// Messages at or above `min`.
    pub fn at_least(&self, min: Severity) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.severity >= min)
    }

    /// The worst message, the last one among equals (for error texts).
    pub fn worst_message(&self) -> Option<&Message> {
        self.messages.iter().rev().max_by_key(|m| m.severity)
    }

    /// All messages at or above `min`, joined for an error text.
    pub fn problem_text(&self, min: Severity) -> String {
        let v: Vec<String> = self.at_least(min).map(|m| m.to_string()).collect();
        v.join("; ")
    }
}

#[derive(Debug)]
struct Packet {
    channel: u8,
    newline: bool,
    payload: String,
}

fn parse_packet(line: &[u8]) -> Option<Packet> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if line.len() < 4 || line[1] != b':' {
        return None;
    }
    let channel = line[0];
    let rest = &line[2..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let flags: u32 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
    let payload = &rest[colon + 1..];
    let payload = payload.strip_prefix(b" ").unwrap_or(payload);
    Some(Packet {
        channel,
        newline: flags & 1 == 1,
        payload: String::from_utf8_lossy(payload).into_owned(),
    })
}

fn is_prompt_noise(p: &str) -> bool {
    let t = p.trim();
    t.is_empty() || t.starts_with("====") || t == "enter option and arguments :"
}

/// Find the xorriso executable: `XORRISO_PATH` (checked, named in errors) or `xorriso` in `PATH`.
pub fn resolve_executable(exe: &Path, from_env: bool) -> Result<PathBuf> {
    let bad = |reason: &str| Error::BadXorrisoPath {
        path: exe.to_path_buf(),
        reason: reason.to_string(),
    };
    if exe.components().count() > 1 || exe.is_absolute() {
        let m = std::fs::metadata(exe).map_err(|e| {
            if from_env {
                bad(&e.to_string())
            } else {
                Error::XorrisoNotInstalled
            }
        })?;
        if m.is_dir() {
            return Err(bad("it is a directory"));
        }
        if m.permissions().mode() & 0o111 == 0 {
            return Err(bad("it is not executable"));
        }
        return Ok(exe.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(exe);
        if let Ok(m) = std::fs::metadata(&cand) {
            if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    if from_env {
        Err(bad("no such program in PATH"))
    } else {
        Err(Error::XorrisoNotInstalled)
    }
}

/// A running `xorriso -dialog on` process.
pub struct Dialog {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Packet>,
    reader: Option<JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_thread: Option<JoinHandle<()>>,
    counter: u64,
    /// The drive, for messages.
    target: String,
}

impl Dialog {
    /// Start xorriso with `args` (ending in `-dialog on`) and return the reply to the start
    /// arguments (their problem events: a bad `XORRISO_ARGS` shows up here).
    pub fn spawn(exe: &Path, args: &[String], target: &str) -> Result<(Self, Reply)> {
        log::debug!("starting {} {}", exe.display(), args.join(" "));
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| Error::Spawn {
            path: exe.to_path_buf(),
            source: e,
        })?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::Protocol {
                        op: "start".into(),
                        detail: "no pipes to the xorriso process".into(),
                    });
                }
            };
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("xorriso-stdout".into())
            .spawn(move || {
                let mut r = BufReader::new(stdout);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match r.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if let Some(p) = parse_packet(&line) {
                                if tx.send(p).is_err() {
                                    break;
                                }
                            } else {
                                log::debug!(
                                    "xorriso: unparsed output {:?}",
                                    String::from_utf8_lossy(&line)
                                );
                            }
                        }
                    }
                }
            })
            .map_err(|e| Error::io("cannot start the xorriso reader thread", e))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail2 = Arc::clone(&tail);
        let stderr_thread = std::thread::Builder::new()
            .name("xorriso-stderr".into())
            .spawn(move || drain_stderr(stderr, tail2))
            .map_err(|e| Error::io("cannot start the xorriso stderr thread", e))?;
        let mut d = Dialog {
            child,
            stdin: Some(stdin),
            rx,
            reader: Some(reader),
            stderr_tail: tail,
            stderr_thread: Some(stderr_thread),
            counter: 0,
            target: target.to_string(),
        };
        let reply = d.run(&[], "start")?;
        Ok((d, reply))
    }

    /// The process id (diagnostics and tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send `cmds` (one per line, already quoted) and read the reply up to our mark. If the
    /// process dies, the reply holds what it printed before and [`Reply::exited`] is set.
    /// Only a failure to even talk to it is an `Err`.
    pub fn run(&mut self, cmds: &[String], during: &str) -> Result<Reply> {
        self.counter += 1;
        let mark = format!("@@END-{}@@", self.counter);
        let mut text = String::new();
        for c in cmds {
            debug_assert!(!c.contains('\n'), "a command must be one line: {c:?}");
            log::trace!("xorriso <- {c}");
            text.push_str(c);
            text.push('\n');
        }
        text.push_str("-print_mark ");
        text.push_str(&mark);
        text.push('\n');
        let wrote = match self.stdin.as_mut() {
            Some(w) => w.write_all(text.as_bytes()).and_then(|_| w.flush()),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        if let Err(e) = &wrote {
            log::debug!("writing to xorriso failed: {e}");
        }
        let mut reply = Reply::default();
        let mut partial = String::new();
        loop {
            let p = match self.rx.recv() {
                Ok(p) => p,
                Err(_) => {
                    reply.exited = Some(self.exit_status());
                    log::warn!(
                        "xorriso for {} ended during {during}: {}",
                        self.target,
                        reply.exited.as_deref().unwrap_or("")
                    );
                    return Ok(reply);
                }
            };
            match p.channel {
                b'M' => {
                    if p.payload.trim_end() == mark {
                        break;
                    }
                }
                b'R' => {
                    partial.push_str(&p.payload);
                    if p.newline {
                        reply.results.push(std::mem::take(&mut partial));
                    }
                }
                _ => {
                    if is_prompt_noise(&p.payload) {
                        continue;
                    }
                    log::trace!("xorriso -> {}", p.payload);
                    match parse_message(&p.payload) {
                        Some(m) => {
                            match m.severity {
                                s if s >= Severity::Sorry => log::debug!("xorriso ({during}): {m}"),
                                _ => log::trace!("xorriso ({during}): {m}"),
                            }
                            reply.messages.push(m)
                        }
                        None => reply.info.push(p.payload.trim_end().to_string()),
                    }
                }
            }
        }
        if !partial.is_empty() {
            reply.results.push(partial);
        }
        Ok(reply)
    }

    /// How the process ended (waits up to 5 s, then kills it).
    fn exit_status(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => return describe(st, &self.stderr_tail),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    return match self.child.wait() {
                        Ok(st) => describe(st, &self.stderr_tail),
                        Err(e) => format!("unknown exit status: {e}"),
                    };
                }
            }
        }
    }

    /// End the process without committing anything it may hold (`-rollback_end`).
    pub fn finish(mut self) {
        if let Some(mut w) = self.stdin.take() {
            let _ = w.write_all(b"-rollback_end\n");
            let _ = w.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    log::warn!("xorriso for {} did not end; killing it", self.target);
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
    }

    /// Kill the process at once (after a failed commit it is poisoned, reference §10).
    pub fn kill(mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dialog {
    fn drop(&mut self) {
        self.stdin.take();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        if let Some(h) = self.stderr_thread.take() {
            let _ = h.join();
        }
    }
}

fn describe(st: ExitStatus, tail: &Arc<Mutex<VecDeque<String>>>) -> String {
    use std::os::unix::process::ExitStatusExt;
    let mut s = match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => st.to_string(),
    };
    if let Ok(t) = tail.lock() {
        let lines: Vec<&str> = t
            .iter()
            .map(|l| l.as_str())
            .filter(|l| !l.starts_with("xorriso 1.") && !l.trim().is_empty())
            .collect();
        if !lines.is_empty() {
            s.push_str(", stderr: ");
            s.push_str(&lines.join(" | "));
        }
    }
    s
}

fn drain_stderr(stderr: impl Read, tail: Arc<Mutex<VecDeque<String>>>) {
    let r = BufReader::new(stderr);
    for line in r.split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        log::debug!("xorriso stderr: {line}");
        if let Ok(mut t) = tail.lock() {
            if t.len() >= 8 {
                t.pop_front();
            }
            t.push_back(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let m = parse_message(
            "libisoburn: WARNING : No ISO 9660 image at LBA 0. Creating blank image.",
        )
        .unwrap();
        assert_eq!(m.source, "libisoburn");
        assert_eq!(m.severity, Severity::Warning);
        assert!(m.text.starts_with("No ISO 9660 image"));
        let m =
            parse_message(r#"libisofs: MISHAP : File "/x" can't be opened. Filling with 0s.\n"#)
                .unwrap();
        assert_eq!(m.severity, Severity::Mishap);
        assert!(m.text.ends_with("0s."), "{}", m.text);
        let m = parse_message("libburn : FAILURE : Premature end of input").unwrap();
        assert_eq!(m.severity, Severity::Failure);
        assert!(
            parse_message("xorriso : aborting : -abort_on 'MISHAP' encountered 'FAILURE'")
                .is_none()
        );
        assert!(parse_message("Added to ISO image: file '/a'='/b'").is_none());
        assert!(Severity::Mishap > Severity::Sorry && Severity::Failure > Severity::Mishap);
    }

    #[test]
    fn missing_executables() {
        let e = resolve_executable(Path::new("no-such-xorriso-4711"), false).unwrap_err();
        assert!(matches!(e, Error::XorrisoNotInstalled), "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        let e = resolve_executable(Path::new("no-such-xorriso-4711"), true).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("no-such-xorriso-4711"), "{e}");
        let e = resolve_executable(Path::new("/etc/passwd"), true).unwrap_err();
        assert!(e.to_string().contains("not executable"), "{e}");
        let e = resolve_executable(Path::new("/tmp"), true).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
    }

    #[test]
    fn packets() {
        let p = parse_packet(b"R:1: File data lba:  0 , 1 , 1 , 6 , '/a'\n").unwrap();
        assert_eq!(p.channel, b'R');
        assert!(p.newline);
        assert_eq!(p.payload, "File data lba:  0 , 1 , 1 , 6 , '/a'");
        let p = parse_packet(b"M:0: @@END-3@@\n").unwrap();
        assert_eq!(p.channel, b'M');
        assert!(!p.newline);
        assert!(parse_packet(b"xorriso 1.5.4 : RockRidge\n").is_none());
    }
}
