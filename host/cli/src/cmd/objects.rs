//! The arguments shared by commands that act on named objects of one
//! store (`rm`, `stat`).

use clap::Args as ClapArgs;

use super::select::Selection;
use crate::parallel::Jobs;

/// A store and objects in it.
#[derive(ClapArgs, Debug)]
pub struct Objects {
    /// Backend URL.
    pub url: String,
    /// The objects.
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub jobs: Jobs,
}
