//! `stowage.descriptor/1` for a [`LocalStore`](crate::LocalStore): a put
//! from a descriptor is a stream writer (the same private temporary file,
//! rename and durability rule) filled by `copy_file_data`, in the kernel
//! where the filesystems allow. An isolated, confined child hands the
//! host's descriptor here instead of copying the bytes through its own
//! memory.

use std::fs::File;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use stowage_backend_api::{BackendError, Progress, Result};
use stowage_descriptor_ext::DescriptorService;
use stowage_stream_ext::{StreamService, StreamWrite};

use crate::stream::StoreStream;

/// The descriptor puts of one store.
pub(crate) struct StoreDescriptor {
    pub(crate) stream: StoreStream,
    /// Told how far each put got, as a path-based put tells it.
    pub(crate) progress: Option<Arc<Progress>>,
}

impl DescriptorService for StoreDescriptor {
    fn put_from(&self, name: &str, source: BorrowedFd<'_>) -> Result<u64> {
        let mut input = source
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| BackendError::from_io(&e, "reading the local file"))?;
        let total = input.metadata().map(|m| m.len()).unwrap_or(0);
        let report = |done| {
            if let Some(p) = &self.progress {
                p.report(done, total);
            }
        };
        // A writer dropped before its commit removes its temporary file.
        let mut writer = self.stream.open_writer(name)?;
        report(0);
        writer.copy_from(&mut input, &report)?;
        writer.commit()
    }
}
