//! Crash safety: `kill -9` of a `stowage put` or `stowage get` of a 512 MiB
//! file at random moments never leaves a partial file under the final name.
//! The name is absent, or keeps its previous complete content, or has the
//! complete new content. `ls` shows only final names (never a temporary),
//! and the next `put`/`get` of the same name succeeds.
//!
//! The kill moments are drawn from a seeded generator between 5 ms and the
//! measured duration of the latest uninterrupted run, stratified: round `i`
//! of `n` draws uniformly within the `i`-th `1/n` of that range, so early,
//! middle and late moments are all covered (copying, renaming, syncing at
//! close). The seed is printed; set `STOWAGE_CRASH_SEED` to replay a
//! sequence (the moments scale with the measured durations). Run with
//! `--nocapture` to see the numbers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use stowage_tests::files::{same_content, write_data};
use stowage_tests::{file_url, ls_entries, plugin_dir_with, tempdir, Cli};

const SIZE: u64 = 512 << 20;
/// The previous content of the name in odd rounds: small, and different.
const OLD_SIZE: u64 = 1 << 20;
const ROUNDS: u32 = 5;
const MIN_DELAY: Duration = Duration::from_millis(5);
const DEFAULT_SEED: u64 = 0x5eed_0512;
/// The file plugin's temporary names (fs-common's `TEMP_PREFIX`).
const TEMP_PREFIX: &str = ".stowage-partial-";

/// The two tests take turns: each measures how long an uninterrupted run
/// takes, and the other one's I/O would distort that.
static SERIAL: Mutex<()> = Mutex::new(());

/// xorshift64*: enough to spread kill moments, and reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform within the `round`-th of `ROUNDS` equal slices of
    /// `[MIN_DELAY, full]`, at millisecond resolution.
    fn delay(&mut self, round: u32, full: Duration) -> Duration {
        let lo = MIN_DELAY.as_millis() as u64;
        let span = (full.as_millis() as u64).max(lo) - lo;
        let (r, n) = (u64::from(round), u64::from(ROUNDS));
        let (from, to) = (lo + span * (r - 1) / n, lo + span * r / n);
        Duration::from_millis(from + self.next() % (to - from + 1))
    }
}

fn seed() -> u64 {
    match std::env::var("STOWAGE_CRASH_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("STOWAGE_CRASH_SEED={s:?}: {e}"))
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// What a started command came to.
enum Fate {
    /// Killed with SIGKILL after this long.
    Killed(Duration),
    /// It finished by itself first, with this exit status.
    Finished(Duration, i32),
}

impl std::fmt::Display for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fate::Killed(t) => write!(f, "killed -9 at {} ms", t.as_millis()),
            Fate::Finished(t, code) => {
                write!(f, "finished first (exit {code} at {} ms)", t.as_millis())
            }
        }
    }
}

/// Runs `args` and sends it SIGKILL after `delay` unless it ended first.
fn kill_after(cli: &Cli, args: &[&str], delay: Duration) -> Fate {
    let mut child: Child = cli
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting stowage");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for stowage") {
            let code = status.code().expect("not killed by us, so it has a code");
            return Fate::Finished(started.elapsed(), code);
        }
        if started.elapsed() >= delay {
            // Child::kill sends SIGKILL: no handler, no cleanup, like a crash.
            child.kill().expect("kill -9");
            let at = started.elapsed();
            let status = child.wait().expect("reaping stowage");
            return match status.code() {
                // It won the race by a hair.
                Some(code) => Fate::Finished(at, code),
                None => Fate::Killed(at),
            };
        }
        thread::sleep(Duration::from_micros(200));
    }
}

/// Round `round` of a test: runs `args` and kills it after a delay drawn
/// from `rng` within `full` (see [`Rng::delay`]). A run that finished
/// first must have succeeded. Returns the delay and what happened.
fn kill_in_round(
    cli: &Cli,
    args: &[&str],
    rng: &mut Rng,
    round: u32,
    full: Duration,
) -> (Duration, Fate) {
    let delay = rng.delay(round, full);
    let fate = kill_after(cli, args, delay);
    if let Fate::Finished(_, code) = fate {
        assert_eq!(code, 0, "round {round}: {} failed on its own", args[0]);
    }
    (delay, fate)
}

/// The [`state`] of `path` after round `round` killed a run that would
/// have replaced its content `before` by `new`: `before` or `"new"`,
/// nothing else.
fn state_after_kill(path: &Path, old: &Path, new: &Path, before: &str, round: u32) -> &'static str {
    let after = state(path, old, new);
    assert!(
        after == before || after == "new",
        "round {round}: was {before}, is {after}"
    );
    after
}

/// Which complete content `path` has: `"absent"`, `"old"` or `"new"`.
/// Anything else fails the test: a partial file under a final name.
fn state(path: &Path, old: &Path, new: &Path) -> &'static str {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "absent",
        Err(e) => panic!("{}: {e}", path.display()),
        Ok(m) if m.len() == OLD_SIZE && same_content(path, old) => "old",
        Ok(m) if m.len() == SIZE && same_content(path, new) => "new",
        Ok(m) => panic!(
            "PARTIAL FILE under the final name {}: {} bytes (old is {OLD_SIZE}, new is {SIZE})",
            path.display(),
            m.len()
        ),
    }
}

/// Temporaries left in `dir` (by killed processes); removes them so the
/// next round starts clean, and returns how many there were.
fn sweep_temporaries(dir: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            fs::remove_file(e.path()).unwrap();
            n += 1;
        }
    }
    n
}

/// `ls --json` of `url`: only final names, never a temporary or dotfile.
fn listed(cli: &Cli, url: &str) -> Vec<(String, u64)> {
    let (out, doc) = cli.run_json(["ls", url]);
    out.ok();
    let entries = ls_entries(&doc);
    for (name, _) in &entries {
        assert!(
            !name.starts_with('.') && !name.starts_with(TEMP_PREFIX),
            "ls shows a temporary name {name:?}\n{out}"
        );
    }
    entries
}

/// The data files, a `file://` store beside them (not created) and a CLI
/// with only the file plugin, its probe verdict already cached (so no run
/// spends its first milliseconds probing).
struct Setup {
    /// This test's turn (see [`SERIAL`]), held until it ends.
    _turn: MutexGuard<'static, ()>,
    /// When the test started, before its data was written.
    started: Instant,
    work: tempfile::TempDir,
    /// Bound, not dropped: the plugin directory must outlive the runs.
    _plugins: tempfile::TempDir,
    cli: Cli,
    new: PathBuf,
    old: PathBuf,
    /// `<work>/store` and its URL.
    store: PathBuf,
    url: String,
}

/// The [`Setup`] of test `what`, and the generator of its kill moments.
fn setup(what: &str) -> (Setup, Rng) {
    let turn = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let test_started = Instant::now();
    let plugins = plugin_dir_with(&["file"]);
    let cli = Cli::new(plugins.path());
    cli.run(["plugins"]).ok();
    let work = tempdir();
    let store = work.path().join("store");
    let url = file_url(&store);
    let new = work.path().join("data-512MiB");
    let old = work.path().join("data-old");
    let started = Instant::now();
    write_data(&new, SIZE, 512);
    write_data(&old, OLD_SIZE, 1);
    let seed = seed();
    eprintln!(
        "[{what}] seed {seed:#x} (STOWAGE_CRASH_SEED to replay); {ROUNDS} rounds; \
         {SIZE} bytes of test data written in {:.2?}",
        started.elapsed()
    );
    let setup = Setup {
        _turn: turn,
        started: test_started,
        work,
        _plugins: plugins,
        cli,
        new,
        old,
        store,
        url,
    };
    (setup, Rng::new(seed))
}

/// Runs `args` to completion and returns how long it took.
fn timed(cli: &Cli, args: &[&str]) -> Duration {
    let started = Instant::now();
    cli.run(args).ok();
    started.elapsed()
}

#[test]
fn kill_9_during_put_never_leaves_a_partial_object() {
    let (setup, mut rng) = setup("put");
    let (new, old, store) = (&setup.new, &setup.old, &setup.store);
    // This test is about the file plugin's atomicity (copy to a temporary,
    // then rename), not about isolation. An isolated plugin runs in a child
    // that can still finish its last rename after the host is killed, so a
    // "killed" put could complete behind the test's back; run in process so
    // that the kill stops the plugin itself.
    let cli = setup.cli.clone().global(["--isolate=never"]);
    let url = setup.url.as_str();
    let object = store.join("big");
    let put_new = ["put", url, new.to_str().unwrap(), "--name", "big"];
    let put_old = ["put", url, old.to_str().unwrap(), "--name", "big"];

    // One uninterrupted put (copy + rename + syncfs at close) sets the
    // range of the kill moments.
    let mut full = timed(&cli, &put_new);
    assert_eq!(state(&object, old, new), "new");
    eprintln!("[put] one uninterrupted put: {} ms", full.as_millis());

    let mut outcomes = Vec::new();
    for round in 1..=ROUNDS {
        // Odd rounds replace an existing object, even ones create it.
        let before = if round % 2 == 1 {
            cli.run(put_old).ok();
            "old"
        } else {
            fs::remove_file(&object).unwrap();
            "absent"
        };
        let (delay, fate) = kill_in_round(&cli, &put_new, &mut rng, round, full);
        let after = state_after_kill(&object, old, new, before, round);
        let expected_ls: Vec<(String, u64)> = match after {
            "absent" => vec![],
            "old" => vec![("big".into(), OLD_SIZE)],
            _ => vec![("big".into(), SIZE)],
        };
        assert_eq!(listed(&cli, url), expected_ls, "round {round}");
        let leftovers = sweep_temporaries(store);

        // The next put of the same name succeeds, with the right bytes.
        let next = timed(&cli, &put_new);
        assert_eq!(state(&object, old, new), "new", "round {round}");
        assert_eq!(listed(&cli, url), vec![("big".to_string(), SIZE)]);

        eprintln!(
            "[put] round {round}: drawn {} ms of {} ms, {fate}; big was {before}, is {after}; \
             {leftovers} leftover temporary file(s); next put ok in {} ms",
            delay.as_millis(),
            full.as_millis(),
            next.as_millis()
        );
        full = next;
        outcomes.push((fate, after));
    }
    let killed = outcomes
        .iter()
        .filter(|(f, _)| matches!(f, Fate::Killed(_)))
        .count();
    eprintln!(
        "[put] {ROUNDS} rounds, {killed} killed mid-run, no partial object; {:.1?} in all",
        setup.started.elapsed()
    );
}

#[test]
fn kill_9_during_get_never_leaves_a_partial_local_file() {
    let (setup, mut rng) = setup("get");
    let (work, cli, url) = (&setup.work, &setup.cli, setup.url.as_str());
    let (new, old) = (&setup.new, &setup.old);
    cli.run(["put", url, new.to_str().unwrap(), "--name", "big"])
        .ok();
    let out_dir = work.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let dest = out_dir.join("big");
    let get = ["get", url, "big", "-o", dest.to_str().unwrap()];

    let mut full = timed(cli, &get);
    assert_eq!(state(&dest, old, new), "new");
    eprintln!("[get] one uninterrupted get: {} ms", full.as_millis());

    let mut outcomes = Vec::new();
    for round in 1..=ROUNDS {
        // Odd rounds overwrite an existing local file, even ones create it.
        let before = if round % 2 == 1 {
            fs::copy(old, &dest).unwrap();
            "old"
        } else {
            fs::remove_file(&dest).unwrap();
            "absent"
        };
        let (delay, fate) = kill_in_round(cli, &get, &mut rng, round, full);
        let after = state_after_kill(&dest, old, new, before, round);
        let leftovers = sweep_temporaries(&out_dir);
        let names: Vec<String> = stowage_tests::files::dir_names(&out_dir);
        let expected: Vec<String> = if after == "absent" {
            vec![]
        } else {
            vec!["big".into()]
        };
        assert_eq!(names, expected, "round {round}");

        // The next get of the same name succeeds, with the right bytes.
        let next = timed(cli, &get);
        assert_eq!(state(&dest, old, new), "new", "round {round}");

        eprintln!(
            "[get] round {round}: drawn {} ms of {} ms, {fate}; local file was {before}, \
             is {after}; {leftovers} leftover temporary file(s); next get ok in {} ms",
            delay.as_millis(),
            full.as_millis(),
            next.as_millis()
        );
        full = next;
        outcomes.push((fate, after));
    }
    // The store itself is untouched by killed gets.
    assert_eq!(listed(cli, url), vec![("big".to_string(), SIZE)]);
    let killed = outcomes
        .iter()
        .filter(|(f, _)| matches!(f, Fate::Killed(_)))
        .count();
    eprintln!(
        "[get] {ROUNDS} rounds, {killed} killed mid-run, no partial local file; {:.1?} in all",
        setup.started.elapsed()
    );
}
