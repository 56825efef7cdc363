//! The three peer operations as methods of a [`PeerConfig`], with Cedar's
//! default indicator names.

use std::path::Path;

use crate::config::PeerConfig;
use crate::error::PeerError;
use crate::indicator::{
    check_collect_indicator, write_stage_indicator, DEFAULT_COLLECT_INDICATOR, DEFAULT_INDICATORS,
    DEFAULT_STAGE_INDICATOR,
};
use crate::ownership::Ownership;
use crate::report::StageReport;
use crate::stage::{stage_with_options, StageOptions};

impl PeerConfig {
    /// [`stage()`] from this peer's collect directory, skipping the default
    /// indicators (`cback.collect`, `cback.stage`), with hard-linked files
    /// allowed and changing files skipped when the configuration says so.
    pub fn stage(
        &self,
        target_dir: &Path,
        ownership: Option<Ownership>,
        mode: Option<u32>,
    ) -> Result<StageReport, PeerError> {
        stage_with_options(
            &self.collect_dir,
            target_dir,
            ownership,
            mode,
            DEFAULT_INDICATORS,
            StageOptions {
                allow_hardlinks: self.allow_hardlinks,
                skip_changed: self.skip_changed,
            },
        )
    }

    /// [`check_collect_indicator()`] with `name` or `cback.collect`.
    pub fn check_collect_indicator(&self, name: Option<&str>) -> Result<bool, PeerError> {
        check_collect_indicator(&self.collect_dir, name.unwrap_or(DEFAULT_COLLECT_INDICATOR))
    }

    /// [`write_stage_indicator()`] with `name` or `cback.stage`.
    pub fn write_stage_indicator(
        &self,
        name: Option<&str>,
        ownership: Option<Ownership>,
        mode: Option<u32>,
    ) -> Result<(), PeerError> {
        write_stage_indicator(
            &self.collect_dir,
            name.unwrap_or(DEFAULT_STAGE_INDICATOR),
            ownership,
            mode,
        )
    }
}
