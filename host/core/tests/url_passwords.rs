//! Property test: a password in a URL never reaches anything the library
//! shows — the redacted URL, `Display` and `Debug` of a target, the error of
//! a URL that fails to parse or to open, and every log line — whatever the
//! password holds (`/`, `?`, `#`, `:`, `@`, `%`...) and whether or not the
//! rest of the URL is valid.

use std::sync::{Mutex, OnceLock};

use proptest::prelude::*;
use stowage::{redact_url, Registry, SearchPath, Target};

/// Every generated password contains this, so a leak of any of them shows
/// in any output, whichever case produced it.
const MARK: &str = "S3CR3T";

/// Keeps every log line of the process.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::load(&SearchPath::new(Vec::new())))
}

/// Everything the library would show for `url`.
fn shown(url: &str) -> Vec<String> {
    let mut out = vec![redact_url(url)];
    match Target::parse(url) {
        Ok(t) => out.extend([t.redacted(), t.to_string(), format!("{t:?}")]),
        Err(e) => out.extend([e.to_string(), format!("{e:?}")]),
    }
    match registry().open(url) {
        Ok(b) => out.extend([b.url(), format!("{b:?}")]),
        Err(e) => out.extend([e.to_string(), format!("{e:?}")]),
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 3000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn passwords_never_show(
        scheme in "(wrap\\+)?(file|sftp|s3|local-peer|Fi-le)",
        user in "[a-z0-9.%]{0,6}",
        before in "[A-Za-z0-9/?#:%@!$&'()*+,;=. ~\\[\\]-]{0,8}",
        after in "[A-Za-z0-9/?#:%@!$&'()*+,;=. ~\\[\\]-]{0,8}",
        host in "[a-z0-9.-]{0,10}(:[0-9a-z]{0,5})?",
        path in "(/[A-Za-z0-9@?#%:. -]{0,8}){0,3}",
        tail in "(\\?[a-z=&@]{0,8})?(#[a-z@/]{0,6})?",
    ) {
        let password = format!("{before}{MARK}{after}");
        let url = format!("{scheme}://{user}:{password}@{host}{path}{tail}");
        for text in shown(&url) {
            prop_assert!(!text.contains(MARK), "{url:?} showed {text:?}");
            prop_assert!(!text.contains(&password), "{url:?} showed {text:?}");
        }
        let logs = capture().0.lock().unwrap_or_else(|p| p.into_inner());
        let leaked: Vec<&String> = logs.iter().filter(|l| l.contains(MARK)).collect();
        prop_assert!(leaked.is_empty(), "{url:?}: log lines {leaked:?}");
    }
}

/// The two URLs of the report, exactly.
#[test]
fn the_reported_urls_are_redacted() {
    for url in [
        "file://bob:hunter2#x@localhost/tmp",
        "file://bob:hunter2/x@localhost/tmp",
    ] {
        for text in shown(url) {
            assert!(!text.contains("hunter2"), "{url}: {text}");
        }
    }
}
