//! One module per command: its clap arguments (`Args`) and
//! `run(ctx, &Args) -> u8`, the exit status.

mod between;
pub mod check;
pub mod copy;
pub mod get;
pub mod iso;
pub mod ls;
mod objects;
pub mod peer;
pub mod plugins;
pub mod put;
pub mod remote;
pub mod rm;
mod select;
pub mod space;
pub mod stat;
mod stream;
pub mod test;
