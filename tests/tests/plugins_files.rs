//! What the file-based plugins (`file`, `local-peer`, through fs-common)
//! promise about the files they create and the errors they report, through
//! the `stowage` command.

mod plugins_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use plugins_support::{as_nobody, chmod, give_to_nobody, require_root, text};
use stowage_tests::{cli_with, plugin_dir_with, tempdir, work_with_file, Cli, EXIT_PERMISSION};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

/// Under `umask 077`, a stored object and a fetched file are 0600 even
/// when the source was 0666: new files get `0666 & !umask`, as `cp` and
/// rclone make them, never the source's mode.
#[test]
fn umask_077_makes_private_objects_and_fetched_files() {
    let (_plugins, cli) = cli_with(&["file", "local-peer"]);
    let (work, src) = work_with_file("shared.txt", b"data");
    chmod(&src, 0o666);
    for (url, objects) in [
        (
            format!("file://{}", work.path().join("store").display()),
            work.path().join("store"),
        ),
        (
            format!("local-peer://Peer{}", work.path().join("collect").display()),
            work.path().join("collect"),
        ),
    ] {
        let run = |args: &[&str]| {
            let mut cmd = cli.command(args);
            // SAFETY: umask is async-signal-safe and touches no memory.
            unsafe {
                cmd.pre_exec(|| {
                    libc::umask(0o077);
                    Ok(())
                });
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", text(&out));
        };
        run(&["put", &url, src.to_str().unwrap()]);
        assert_eq!(mode(&objects.join("shared.txt")), 0o600, "{url}");
        let back = work.path().join(format!(
            "back-{}",
            objects.file_name().unwrap().to_string_lossy()
        ));
        run(&["get", &url, "shared.txt", "-o", back.to_str().unwrap()]);
        assert_eq!(mode(&back), 0o600, "{url}");
        assert_eq!(fs::read(&back).unwrap(), b"data");
    }
}

/// A local file the user cannot read is reported as that file, not as the
/// object in the store: `reading local file /…/secret: Permission denied`.
#[test]
fn an_unreadable_source_is_named_in_the_error() {
    if !require_root("an_unreadable_source_is_named_in_the_error") {
        return;
    }
    let plugins = plugin_dir_with(&["file", "local-peer"]);
    chmod(plugins.path(), 0o755);
    let cache = tempdir();
    give_to_nobody(cache.path());
    let cli = Cli::new(plugins.path()).env("XDG_CACHE_HOME", cache.path());
    let work = tempdir();
    chmod(work.path(), 0o755);
    let secret = work.path().join("secret");
    fs::write(&secret, b"root only").unwrap();
    chmod(&secret, 0o600);
    let store = work.path().join("store");
    let collect = work.path().join("collect");
    for dir in [&store, &collect] {
        fs::create_dir(dir).unwrap();
        give_to_nobody(dir);
    }
    for url in [
        format!("file://{}", store.display()),
        format!("local-peer://Peer{}", collect.display()),
    ] {
        let out = as_nobody(&cli.command(["put", &url, secret.to_str().unwrap()]))
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(EXIT_PERMISSION), "{url}: {all}");
        assert!(
            all.contains(&format!("reading local file {}", secret.display())),
            "{url}: {all}"
        );
        assert!(!all.contains("storing"), "{url}: {all}");
    }
    assert_eq!(fs::read_dir(&store).unwrap().count(), 0);
    assert_eq!(
        fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o755
    );
}
