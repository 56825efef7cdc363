//! A password in a URL never reaches the CLI's output, its errors or its
//! debug log, whether the URL parses or not: the two URLs of the report
//! (`#` and `/` inside the password make a URL parser cut the authority
//! short), and URLs generated around them, through the file plugin (so the
//! valid ones reach a plugin and its messages) with `-vv` debug logging.

use stowage_tests::{plugin_dir_with, tempdir, Cli};

/// Every generated password contains this.
const MARK: &str = "hunter2";

/// Runs `args` with debug logs on, in text and in `--json`, and fails when
/// the password shows anywhere in stdout or stderr.
fn never_shows(cli: &Cli, password: &str, args: &[&str]) {
    for json in [false, true] {
        let mut all = vec!["-vv"];
        if json {
            all.push("--json");
        }
        all.extend_from_slice(args);
        let out = cli.run(&all);
        let text = out.all_text();
        assert!(
            !text.contains(MARK) && !text.contains(password),
            "stowage {all:?} showed the password:\n{text}"
        );
    }
}

/// A small deterministic generator (xorshift), so the cases are the same
/// on every run and in CI.
struct Gen(u64);

impl Gen {
    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        choices[(self.0 % choices.len() as u64) as usize]
    }
}

#[test]
fn the_reported_urls_and_their_variants_keep_the_password() {
    let plugins = plugin_dir_with(&["file"]);
    let work = tempdir();
    let cli = Cli::new(plugins.path()).cwd(work.path());
    let dir = work.path().display().to_string();
    for url in [
        "file://bob:hunter2#x@localhost/tmp".to_string(),
        "file://bob:hunter2/x@localhost/tmp".to_string(),
        format!("file://bob:hunter2@localhost{dir}"),
    ] {
        never_shows(&cli, MARK, &["ls", &url]);
        never_shows(&cli, MARK, &["stat", &url, "obj"]);
    }
    let mut gen = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..40 {
        let password = format!(
            "{}{MARK}{}",
            gen.pick(&["", "#", "/", "?", "%2F", ":", "@", "a b"]),
            gen.pick(&["", "#x", "/x", "?q", "%40", "@", ":9", "]["])
        );
        let url = format!(
            "{}://{}:{password}@{}{}",
            gen.pick(&["file", "FILE", "nosuch", "file+nosuch"]),
            gen.pick(&["bob", "", "b%20b"]),
            gen.pick(&["localhost", "", "host:99", "[::1]"]),
            gen.pick(&["/tmp", "", "/a@b", &dir, "/x?y#z"]),
        );
        never_shows(&cli, &password, &["ls", &url]);
    }
}
