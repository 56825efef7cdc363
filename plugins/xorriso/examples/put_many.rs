//! Put many local files into one store and close it (used by `benches/bench.sh`).
//!
//! Usage: `put_many URL FILE...` — each file is stored under its file name; prints the
//! time from open to the end of close on stderr.

use std::path::Path;
use std::time::Instant;

use stowage_xorriso::XorrisoBackend;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: put_many URL FILE...");
        std::process::exit(2);
    };
    let files: Vec<String> = args.collect();
    let t = Instant::now();
    let run = || -> stowage_xorriso::Result<()> {
        let b = XorrisoBackend::open(&url)?;
        let t_open = t.elapsed();
        for f in &files {
            let p = Path::new(f);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            b.put(p, &name)?;
        }
        let t_put = t.elapsed();
        b.close()?;
        if std::env::var_os("PUT_MANY_PHASES").is_some() {
            eprintln!(
                "put_many: open {:.3} s, puts {:.3} s, close {:.3} s",
                t_open.as_secs_f64(),
                (t_put - t_open).as_secs_f64(),
                (t.elapsed() - t_put).as_secs_f64()
            );
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("put_many: {e} (kind {:?})", e.kind());
        std::process::exit(1);
    }
    eprintln!(
        "put_many: {} file(s) in {:.3} s",
        files.len(),
        t.elapsed().as_secs_f64()
    );
}
