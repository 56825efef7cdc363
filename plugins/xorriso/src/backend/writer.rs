//! Writing objects (put, move): the source is staged outside the lock, then recorded as a
//! pending change.

use std::path::Path;

use super::change::Change;
use super::{validate_name, XorrisoBackend};
use crate::error::{Error, Result};
use crate::staging::{MoveKind, Staged};

impl XorrisoBackend {
    /// Store `local` as `name` (replacing it). The file is copied into staging at once, so
    /// the caller may change or delete it as soon as this returns.
    pub fn put(&self, local: &Path, name: &str) -> Result<()> {
        validate_name(name)?;
        {
            let inner = self.open_inner()?;
            self.check_writable(&inner)?;
        }
        let staged = self.staging.stage_copy(local)?;
        let mut inner = match self.open_inner() {
            Ok(g) => g,
            Err(e) => {
                self.staging.discard(&staged);
                return Err(e);
            }
        };
        match self.apply(&mut inner, vec![(name.to_string(), Change::Put(staged))]) {
            Ok(()) => Ok(()),
            Err((e, ours)) => {
                for ch in ours {
                    if let Change::Put(s) = ch {
                        self.staging.discard(&s);
                    }
                }
                Err(e)
            }
        }
    }

    /// Store `local` as `name` and consume `local` (renamed into staging when possible). On
    /// error the local file is left in place.
    pub fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        validate_name(name)?;
        {
            let inner = self.open_inner()?;
            self.check_writable(&inner)?;
        }
        let (staged, kind) = self.staging.stage_move(local)?;
        let undo = |s: &Staged| match kind {
            MoveKind::Renamed => {
                if let Err(e) = std::fs::rename(&s.path, local) {
                    log::error!(
                        "move of {name:?} failed and its source could not be put back from {:?} to {local:?}: {e}",
                        s.path
                    );
                }
            }
            MoveKind::Copied => self.staging.discard(s),
        };
        let mut inner = match self.open_inner() {
            Ok(g) => g,
            Err(e) => {
                undo(&staged);
                return Err(e);
            }
        };
        match self.apply(&mut inner, vec![(name.to_string(), Change::Put(staged))]) {
            Ok(()) => {
                drop(inner);
                if kind == MoveKind::Copied {
                    std::fs::remove_file(local).map_err(|e| {
                        Error::io(
                            format!("move: {name:?} is stored but the source {local:?} could not be removed"),
                            e,
                        )
                    })?;
                }
                Ok(())
            }
            Err((e, ours)) => {
                for ch in ours {
                    if let Change::Put(s) = ch {
                        undo(&s);
                    }
                }
                Err(e)
            }
        }
    }
}
