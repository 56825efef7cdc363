//! What a child inherits and what crosses back: the environment is an
//! allowlist (a secret meant for some other program stays out of a
//! plugin's reach), an error's OS error number crosses with it, and the
//! configuration file sets the isolation of one plugin by name, which
//! `--isolate` and `STOWAGE_ISOLATE` override.

mod isolate_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use isolate_support::{once, options, registry};
use stowage_isolate::Policy;
use stowage_tests::{plugin_dir_with, tempdir, Cli};

fn stat_text(cli: &Cli, url: &str, names: &[&str]) -> String {
    let mut args = vec!["stat", url];
    args.extend_from_slice(names);
    let out = cli.run(args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_secret_outside_the_allowlist_stays_out_of_the_child() {
    let plugins = plugin_dir_with(&["extended"]);
    let work = tempdir();
    let url = format!("extended://{}", work.path().display());
    let names = [
        "env-MY_API_TOKEN",
        "env-AWS_PROFILE",
        "env-STOWAGE_WEBDAV_USER",
        "env-LC_TIME",
        "env-HOME",
    ];
    let cli = |when: &str| {
        Cli::new(plugins.path())
            .global([format!("--isolate={when}")])
            .env("MY_API_TOKEN", "hunter2")
            .env("AWS_PROFILE", "backup")
            .env("STOWAGE_WEBDAV_USER", "backup")
            .env("LC_TIME", "C")
    };
    let isolated = stat_text(&cli("always"), &url, &names);
    assert!(isolated.contains("missing  env-MY_API_TOKEN"), "{isolated}");
    for kept in &names[1..] {
        assert!(
            isolated.contains(&format!("1  {kept}")),
            "{kept}: {isolated}"
        );
    }
    // In process the plugin sees the host's whole environment: the token
    // really was there to be kept out.
    let in_process = stat_text(&cli("never"), &url, &names);
    assert!(in_process.contains("1  env-MY_API_TOKEN"), "{in_process}");
}

#[test]
fn an_os_error_crosses_whole() {
    let plugins = plugin_dir_with(&["extended"]);
    let work = tempdir();
    let url = format!("extended://{}", work.path().display());
    let isolated = registry(&[plugins.path()], options(Policy::Always, &[]));
    let in_process = registry(&[plugins.path()], options(Policy::Never, &[]));
    for errno in [libc::EACCES, libc::ENOSPC, libc::ECONNREFUSED] {
        let name = format!("errno-{errno}");
        let err = |r: &stowage::Registry| {
            let backend = r.open(&url).unwrap().with_retry(once());
            backend.raw().query(&name).expect_err("asked to fail")
        };
        let (a, b) = (err(&isolated), err(&in_process));
        assert_eq!(a.os_error(), errno, "{a}");
        assert_eq!(a, b, "the same error isolated as in process");
    }
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn mode_of(cli: &Cli) -> String {
    let out = cli.run(["plugins"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("fixture-extended "));
    lines.next().unwrap_or_else(|| panic!("not listed: {text}"));
    lines
        .next()
        .and_then(|l| l.trim().strip_prefix("runs "))
        .unwrap_or_else(|| panic!("no mode: {text}"))
        .to_string()
}

#[test]
fn the_config_file_sets_one_plugins_isolation_and_the_flag_overrides_it() {
    let plugins = plugin_dir_with(&["extended"]);
    let work = tempdir();
    let cli = |config: &Path| Cli::new(plugins.path()).global([Path::new("--config"), config]);

    // From --plugin-dir: isolated by default; the file relaxes it by name.
    let plain = write_config(work.path(), "[plugin.other]\nisolate = \"never\"\n");
    assert_eq!(mode_of(&cli(&plain)), "isolated");
    let relaxed = write_config(
        work.path(),
        "[plugin.fixture-extended]\nisolate = \"never\"\n",
    );
    assert_eq!(mode_of(&cli(&relaxed)), "in-process");
    // The flag and the variable override every plugin's setting.
    assert_eq!(
        mode_of(&cli(&relaxed).global(["--isolate=untrusted"])),
        "isolated"
    );
    assert_eq!(
        mode_of(&cli(&relaxed).env("STOWAGE_ISOLATE", "always")),
        "isolated"
    );
    // And the other way: a system plugin (in process by default) is
    // isolated when the file says so.
    let system = |config: &Path| cli(config).env("STOWAGE_PLUGIN_SYSTEM_PATH", plugins.path());
    assert_eq!(mode_of(&system(&plain)), "in-process");
    let tightened = write_config(
        work.path(),
        "[plugin.fixture-extended]\nisolate = \"always\"\n",
    );
    assert_eq!(mode_of(&system(&tightened)), "isolated");

    // A file that cannot be trusted says nothing: everything is isolated,
    // with a warning, and the command still runs.
    let untrusted = write_config(
        work.path(),
        "[plugin.fixture-extended]\nisolate = \"never\"\n",
    );
    fs::set_permissions(&untrusted, fs::Permissions::from_mode(0o666)).unwrap();
    let out = cli(&untrusted).run(["plugins"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("every plugin runs isolated"), "{stderr}");
    assert_eq!(mode_of(&cli(&untrusted)), "isolated");
}
