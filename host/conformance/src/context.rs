//! What one check works with: the backend under test, names under its own
//! prefix, local scratch files, and helpers for the usual round trips.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stowage_backend_api::BackendHandle;

use crate::data::Content;
use crate::describe::error_text;
use crate::expect::host_failed;
use crate::listing::{compare_listing, unique};
use crate::options::Options;
use crate::run::Run;
use crate::stop::{fail, OrFail, Stop};
use stowage::{Backend, BackendError, Error, ErrorCode, Registry};

/// What one check sees.
pub(crate) struct Ctx<'r, 'a> {
    run: &'r Run<'a>,
    scope: String,
    dir: PathBuf,
}

impl<'r, 'a> Ctx<'r, 'a> {
    /// The context of one check of `run`: its names start with
    /// `<token><check id>_`, its local files live in `dir`.
    pub(crate) fn new(run: &'r Run<'a>, id: &str, dir: PathBuf) -> Self {
        Self {
            scope: format!("{}{id}_", run.token),
            run,
            dir,
        }
    }

    /// The backend under test, with the host's layers.
    pub(crate) fn backend(&self) -> &Backend {
        &self.run.backend
    }

    /// The same backend without the host's layers.
    pub(crate) fn raw(&self) -> &BackendHandle {
        self.run.backend.raw()
    }

    /// The registry the run opens URLs through.
    pub(crate) fn registry(&self) -> &Registry {
        self.run.registry
    }

    /// The URL under test, as given.
    pub(crate) fn url(&self) -> &str {
        self.run.url
    }

    /// The run's options.
    pub(crate) fn options(&self) -> &Options {
        self.run.options
    }

    /// The state shared with the other checks of the run.
    pub(crate) fn run(&self) -> &Run<'a> {
        self.run
    }

    /// The run's token, contained in every name the run creates.
    pub(crate) fn token(&self) -> &str {
        &self.run.token
    }

    /// The check's name prefix: `<token><id>_`.
    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    /// A name of this check: `<scope><suffix>`, recorded for cleanup.
    pub(crate) fn name(&self, suffix: &str) -> String {
        self.lead_name("", suffix)
    }

    /// `<lead><scope><suffix>`, for names that must start with something
    /// other than the prefix (a leading `-` or `.`), recorded for cleanup.
    pub(crate) fn lead_name(&self, lead: &str, suffix: &str) -> String {
        let name = format!("{lead}{}{suffix}", self.scope);
        self.run.record(&name);
        name
    }

    /// Records a name built by hand (it must contain the scope).
    pub(crate) fn record(&self, name: &str) {
        debug_assert!(name.contains(&self.scope));
        self.run.record(name);
    }

    /// Fresh content of `size` bytes, different from every other content
    /// of the run.
    pub(crate) fn content(&self, size: u64) -> Content {
        Content::new(
            self.run.seed_base() ^ self.run.next().wrapping_mul(0x2545_F491_4F6C_DD1D),
            size,
        )
    }

    /// A path in the scratch directory that does not exist yet.
    pub(crate) fn path(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{what}-{}", self.run.next()))
    }

    /// A new empty local directory.
    pub(crate) fn dir(&self, what: &str) -> Result<PathBuf, Stop> {
        let dir = self.path(what);
        std::fs::create_dir_all(&dir).or_fail(format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// A new local file holding `content`.
    pub(crate) fn file(&self, content: Content) -> Result<PathBuf, Stop> {
        let path = self.path("src");
        content
            .write_to(&path)
            .or_fail(format!("writing local file {}", path.display()))?;
        Ok(path)
    }

    /// Puts `content` as `name` through the host, from a local file that is
    /// removed afterwards.
    pub(crate) fn put(&self, name: &str, content: Content) -> Result<(), Stop> {
        let file = self.file(content)?;
        let result = self.backend().put(&file, name);
        let _ = std::fs::remove_file(&file);
        match result {
            Ok(_) => Ok(()),
            Err(e) => fail!("{} ({} bytes)", error_text(&e), content.size),
        }
    }

    /// Gets `name` through `backend` into a fresh local file and checks it
    /// holds exactly `content`.
    pub(crate) fn get_verify_with(
        &self,
        backend: &Backend,
        name: &str,
        content: Content,
    ) -> Result<(), Stop> {
        let local = self.path("got");
        let result = backend.get(name, &local);
        let verdict = match result {
            Ok(_) => content
                .verify(&local)
                .map_err(|e| Stop::Fail(format!("get of {name:?}: {e}"))),
            Err(e) => Err(Stop::Fail(error_text(&e))),
        };
        let _ = std::fs::remove_file(&local);
        verdict
    }

    /// [`Ctx::get_verify_with`] on the backend under test.
    pub(crate) fn get_verify(&self, name: &str, content: Content) -> Result<(), Stop> {
        self.get_verify_with(self.backend(), name, content)
    }

    /// This check's objects as listed by the backend (names containing the
    /// scope), failing on duplicates.
    pub(crate) fn ours(&self) -> Result<BTreeMap<String, u64>, Stop> {
        self.ours_in(self.backend())
    }

    /// [`Ctx::ours`] through another backend.
    pub(crate) fn ours_in(&self, backend: &Backend) -> Result<BTreeMap<String, u64>, Stop> {
        let entries = backend.list().map_err(host_failed("list"))?;
        unique(
            entries
                .iter()
                .filter(|(n, _)| n.contains(&self.scope))
                .map(|(n, s)| (n.as_str(), *s)),
        )
    }

    /// Checks that list shows exactly `want` of this check's names.
    pub(crate) fn expect_listing(&self, want: &BTreeMap<String, u64>) -> Result<(), Stop> {
        compare_listing(&self.ours()?, want)
    }

    /// A newly opened backend on the same URL, with the run's retry policy.
    /// A location that admits one open backend at a time (`in use`) gets
    /// the backend under test closed first.
    pub(crate) fn fresh_backend(&self) -> Result<Backend, Stop> {
        match self.open_releasing(|| self.registry().open(self.url())) {
            Ok(b) => Ok(b.with_retry(self.options().retry)),
            Err(e) => fail!("opening the URL again: {}", error_text(&e)),
        }
    }

    /// Runs `open`; when it answers `in use`, closes the backend under test
    /// (reopened after the check) and runs it again.
    pub(crate) fn open_releasing<T>(
        &self,
        open: impl Fn() -> Result<T, Error>,
    ) -> Result<T, Error> {
        match open() {
            Err(e) if e.code() == ErrorCode::IN_USE && !self.released() => {
                self.run.release();
                open()
            }
            other => other,
        }
    }

    /// Whether this check had to close the backend under test.
    pub(crate) fn released(&self) -> bool {
        self.run.released()
    }

    /// Whether the raw handle answers "unsupported" for an operation.
    pub(crate) fn unsupported<T>(result: &Result<T, BackendError>) -> bool {
        matches!(result, Err(e) if e.is_unsupported())
    }
}
