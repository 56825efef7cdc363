//! One entry of the catalogue: a check's id, title and function.

use crate::context::Ctx;
use crate::options::CheckInfo;
use crate::stop::Checked;

/// One check of the catalogue.
pub(crate) struct Check {
    /// Stable id: `area.what`, lower case, no `_`.
    pub(crate) id: &'static str,
    /// One line saying what is verified.
    pub(crate) title: &'static str,
    /// The check.
    pub(crate) run: fn(&Ctx<'_, '_>) -> Checked,
    /// Runs in every run whatever the selection (the final cleanup); it is
    /// reported when selected, or when it fails.
    pub(crate) always: bool,
}

impl Check {
    /// A check that runs when selected.
    pub(crate) const fn new(
        id: &'static str,
        title: &'static str,
        run: fn(&Ctx<'_, '_>) -> Checked,
    ) -> Self {
        Self {
            id,
            title,
            run,
            always: false,
        }
    }

    /// Its id and title.
    pub(crate) fn info(&self) -> CheckInfo {
        CheckInfo {
            id: self.id,
            title: self.title,
        }
    }
}
