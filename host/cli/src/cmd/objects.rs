//! The arguments shared by commands that act on named objects of one
//! store (`rm`, `stat`).

use clap::Args as ClapArgs;

/// A store and object names in it.
#[derive(ClapArgs, Debug)]
pub struct Objects {
    /// Backend URL.
    pub url: String,
    /// Object names.
    #[arg(required = true)]
    pub names: Vec<String>,
}
