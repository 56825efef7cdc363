#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod credentials;
mod errors;
mod read;
mod signed;
mod stale;
mod store;
mod stream;
mod xml;

use stowage_backend_api::{export_plugin, Backend, Descriptor, Host, OpenRequest, Plugin, Result};

/// The plugin's registration.
pub struct S3Plugin;

impl Plugin for S3Plugin {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "s3",
            env!("CARGO_PKG_VERSION"),
            "objects as keys under a prefix of an S3 bucket (AWS or compatible)",
        )
        .scheme(
            "s3",
            "s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true&chunk=8MiB\
             &concurrency=4&profile=NAME&timeout=60s]; credentials from AWS_ACCESS_KEY_ID/\
             AWS_SECRET_ACCESS_KEY or ~/.aws/credentials",
        )
    }

    fn open(request: OpenRequest<'_>, host: &Host) -> Result<Box<dyn Backend>> {
        let config = config::S3Config::from_url(request.url)?;
        Ok(Box::new(store::S3Store::new(config, host.progress())?))
    }
}

export_plugin!(S3Plugin);
