//! Shared helpers of the integration tests: tool checks, backends on temporary images,
//! independent readers (isoinfo, xorriso one-shot runs), mounts for failure tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use stowage_xorriso::{Config, EnvSettings, XorrisoBackend};

/// Print a skip notice straight to the process's stderr: the test harness captures
/// `eprintln!` of passing tests, and a skip must not go unnoticed.
pub fn loud_skip(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// Whether `tool` can be run. Missing: skip loudly, or panic when `STOWAGE_REQUIRE_TOOLS`
/// is set (CI).
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg(if tool == "7z" { "i" } else { "-version" })
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_some() {
            panic!("{tool} is required (STOWAGE_REQUIRE_TOOLS is set) but cannot be run");
        }
        loud_skip(&format!("{tool} is not installed; this test needs it"));
    }
    ok
}

pub fn url(img: &Path) -> String {
    format!("xorriso://{}", img.display())
}

/// Parse a URL with explicit (empty unless given) environment settings.
pub fn config(url: &str, env: EnvSettings) -> Config {
    Config::parse(url, &env, Path::new("/")).expect("config")
}

pub fn open(url: &str) -> XorrisoBackend {
    XorrisoBackend::open_with(config(url, EnvSettings::default())).expect("open")
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Deterministic pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `cmd` to completion; panics, with its stderr, unless it succeeded.
pub fn output_of_success(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    out
}

/// `isoinfo -R -x <path> -i <img>`: the bytes an independent reader sees.
pub fn isoinfo_extract(img: &Path, iso_path: &str) -> Vec<u8> {
    output_of_success(
        Command::new("isoinfo")
            .args(["-R", "-x", iso_path, "-i"])
            .arg(img),
    )
    .stdout
}

/// `isoinfo -R -l`: (directory, name, size) of the regular files (names without newlines).
pub fn isoinfo_files(img: &Path) -> Vec<(String, String, u64)> {
    let o = Command::new("isoinfo")
        .args(["-R", "-l", "-i"])
        .arg(img)
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let mut dir = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("Directory listing of ") {
            dir = d.trim().to_string();
        } else if line.starts_with('-') {
            let size: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
            let name = line.split_once("]  ").unwrap().1;
            let name = name.strip_suffix(' ').unwrap_or(name);
            out.push((dir.clone(), name.to_string(), size));
        }
    }
    out
}

/// Number of sessions according to a separate xorriso run.
pub fn sessions(img: &Path) -> usize {
    let o = Command::new("xorriso")
        .arg("-indev")
        .arg(format!("stdio:{}", img.display()))
        .arg("-toc")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    all.lines().filter(|l| l.starts_with("ISO session")).count()
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop. `None` (with a loud
/// message) if mounting is not possible here.
pub struct Mount {
    pub dir: tempfile::TempDir,
    extra: Vec<PathBuf>,
}

impl Mount {
    pub fn tmpfs(size: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        match st {
            Ok(s) if s.success() => Some(Mount { dir, extra: vec![] }),
            _ => {
                if std::env::var_os("STOWAGE_REQUIRE_MOUNT").is_some() {
                    panic!("cannot mount a tmpfs (STOWAGE_REQUIRE_MOUNT is set)");
                }
                loud_skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
                None
            }
        }
    }

    /// A read-only bind mount of this mount's directory.
    pub fn read_only_view(&mut self) -> Option<PathBuf> {
        let view = tempfile::tempdir().unwrap().keep();
        let ok = Command::new("mount")
            .arg("--bind")
            .arg(self.dir.path())
            .arg(&view)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
            && Command::new("mount")
                .args(["-o", "remount,ro,bind"])
                .arg(&view)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
        self.extra.push(view.clone());
        if ok {
            Some(view)
        } else {
            if std::env::var_os("STOWAGE_REQUIRE_MOUNT").is_some() {
                panic!("cannot make a read-only bind mount (STOWAGE_REQUIRE_MOUNT is set)");
            }
            loud_skip("cannot make a read-only bind mount here");
            None
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        for v in self.extra.drain(..).rev() {
            let _ = Command::new("umount").arg(&v).status();
            let _ = std::fs::remove_dir(&v);
        }
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A fresh temporary directory for one test's images and files, or `None`
/// (after a loud skip, see [`have`]) unless every one of `tools` can be run.
pub fn workdir_with(tools: &[&str]) -> Option<tempfile::TempDir> {
    if !tools.iter().all(|tool| have(tool)) {
        return None;
    }
    Some(tempfile::tempdir().unwrap())
}

/// [`workdir_with`] and the path of the image `name` in it (not created).
pub fn image_in(tools: &[&str], name: &str) -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = workdir_with(tools)?;
    let img = dir.path().join(name);
    Some((dir, img))
}

/// [`image_in`], opened at its root with the default settings (see
/// [`open`]).
pub fn image_opened_in(
    tools: &[&str],
    name: &str,
) -> Option<(tempfile::TempDir, PathBuf, XorrisoBackend)> {
    let (dir, img) = image_in(tools, name)?;
    let backend = open(&url(&img));
    Some((dir, img, backend))
}
