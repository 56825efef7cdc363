//! Several threads on one isolated backend: the child serves requests side
//! by side and answers them out of order, and a child that dies or hangs
//! fails every request in flight, each as the retryable error a dead child
//! gives, counted as one death.

mod isolate_support;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

use isolate_support::{attempts, once, options, registry};
use stowage::{Backend, Registry};
use stowage_isolate::Policy;
use stowage_tests::{plugin_dir_with, tempdir};

struct Run {
    _plugins: tempfile::TempDir,
    registry: Registry,
    work: tempfile::TempDir,
}

fn run_with(configure: impl FnOnce(&mut stowage_isolate::Options)) -> Run {
    let plugins = plugin_dir_with(&["extended"]);
    let mut o = options(Policy::Always, &[]);
    configure(&mut o);
    let registry = registry(&[plugins.path()], o);
    Run {
        _plugins: plugins,
        registry,
        work: tempdir(),
    }
}

impl Run {
    fn open(&self, retry: stowage::RetryPolicy) -> Backend {
        let store = self.work.path().join("store");
        self.registry
            .open(&format!("extended://{}", store.display()))
            .unwrap_or_else(|e| panic!("open: {e}"))
            .with_retry(retry)
    }

    fn source(&self, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = self.work.path().join(format!("src-{name}"));
        fs::write(&path, content).unwrap();
        path
    }
}

fn pid_of(backend: &Backend) -> u64 {
    backend
        .raw()
        .query("pid")
        .unwrap_or_else(|e| panic!("pid: {e}"))
        .expect("the fixture answers its pid")
}

#[test]
fn many_threads_share_one_isolated_backend() {
    let run = run_with(|_| {});
    let backend = run.open(once());
    let pid = pid_of(&backend);
    let threads = 12;
    let rounds = 15;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (run, backend) = (&run, &backend);
            s.spawn(move || {
                for r in 0..rounds {
                    let name = format!("t{t}-r{r}");
                    let content = format!("thread {t} round {r} ").repeat(t * 100 + r + 1);
                    let src = run.source(&name, content.as_bytes());
                    backend
                        .put(&src, &name)
                        .unwrap_or_else(|e| panic!("put {name}: {e}"));
                    assert_eq!(
                        backend.query(&name).unwrap(),
                        Some(content.len() as u64),
                        "{name}"
                    );
                    let back = run.work.path().join(format!("back-{name}"));
                    backend
                        .get(&name, &back)
                        .unwrap_or_else(|e| panic!("get {name}: {e}"));
                    assert_eq!(fs::read(&back).unwrap(), content.as_bytes(), "{name}");
                    if r % 3 == 0 {
                        backend.delete(&name).unwrap();
                    }
                    assert_eq!(pid_of(backend), pid, "one child serves every thread");
                }
            });
        }
    });
    let listed: BTreeSet<String> = backend
        .list()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let expected: BTreeSet<String> = (0..threads)
        .flat_map(|t| {
            (0..rounds)
                .filter(|r| r % 3 != 0)
                .map(move |r| format!("t{t}-r{r}"))
        })
        .collect();
    assert_eq!(listed, expected);

    // Requests really run side by side: four 300 ms queries take about
    // 300 ms, not 1.2 s, and the replies come back out of order.
    let started = Instant::now();
    std::thread::scope(|s| {
        for n in 0..4 {
            let backend = &backend;
            s.spawn(move || backend.query(&format!("slow-{n}")).unwrap());
        }
    });
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(900),
        "four slow queries took {took:?}: serialised"
    );
    backend.close().unwrap();
}

#[test]
fn a_child_killed_with_four_operations_in_flight_fails_each_retryably() {
    let run = run_with(|_| {});
    let backend = run.open(once());
    let pid = pid_of(&backend);
    let results = std::thread::scope(|s| {
        let puts: Vec<_> = (0..4)
            .map(|n| {
                let (run, backend) = (&run, &backend);
                s.spawn(move || {
                    let src = run.source(&format!("k{n}"), b"payload");
                    backend.put(&src, &format!("slow-{n}"))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(120));
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        puts.into_iter()
            .map(|p| p.join().unwrap())
            .collect::<Vec<_>>()
    });
    for result in &results {
        let err = result.as_ref().expect_err("the child died under it");
        let text = err.to_string();
        assert!(
            text.contains("SIGKILL") && text.contains("during put"),
            "{text}"
        );
        assert!(err.backend_error().unwrap().is_retryable(), "{text}");
    }
    // One death, not four: the plugin is not broken (three deaths would
    // break it), and the next call starts a new child.
    let new_pid = pid_of(&backend);
    assert_ne!(new_pid, pid);
    // With retries, the same four puts survive another kill.
    let backend = run.open(attempts(3));
    let pid = pid_of(&backend);
    std::thread::scope(|s| {
        let puts: Vec<_> = (0..4)
            .map(|n| {
                let (run, backend) = (&run, &backend);
                s.spawn(move || {
                    let src = run.source(&format!("r{n}"), b"payload");
                    backend.put(&src, &format!("slow-r{n}"))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(120));
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        for p in puts {
            p.join().unwrap().expect("the retry runs in a new child");
        }
    });
    for n in 0..4 {
        assert_eq!(backend.query(&format!("slow-r{n}")).unwrap(), Some(7));
    }
}

#[test]
fn a_timeout_kills_the_child_and_fails_everything_in_flight() {
    let run = run_with(|o| o.op_timeout = Duration::from_millis(150));
    let backend = run.open(once());
    let results = std::thread::scope(|s| {
        let queries: Vec<_> = (0..3)
            .map(|n| {
                let backend = &backend;
                s.spawn(move || backend.query(&format!("slow-{n}")))
            })
            .collect();
        queries
            .into_iter()
            .map(|q| q.join().unwrap())
            .collect::<Vec<_>>()
    });
    for result in results {
        let text = result.expect_err("300 ms > 150 ms").to_string();
        assert!(text.contains("timed out"), "{text}");
    }
    backend.raw().query("pid").expect("a new child answers");
}
