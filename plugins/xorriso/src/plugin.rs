//! ABI glue: the `xorriso` scheme as a stowage plugin.
//!
//! Maps [`XorrisoBackend`] onto the host's [`Backend`] trait and its [`Error`] kinds onto
//! ABI error codes. Everything else lives in the library modules; this file only translates.
//! `info` and `compact` cross as the `stowage.xorriso/1` extension (`extension.rs`).

use std::path::Path;
use std::sync::Arc;

use stowage_backend_api::{
    export_plugin, Backend, BackendError, Descriptor, Extension, Host, OpenRequest, Plugin, Result,
};

use crate::backend::XorrisoBackend;
use crate::error::to_abi;

/// The plugin's registration.
pub struct XorrisoPlugin;

impl Plugin for XorrisoPlugin {
    fn descriptor() -> Descriptor {
        Descriptor::new(
            "xorriso",
            env!("CARGO_PKG_VERSION"),
            "ISO 9660 image files and optical discs, written in sessions through xorriso",
        )
        .scheme(
            "xorriso",
            "xorriso:///abs/image.iso[:/dir/in/iso] or xorriso:///dev/sr0[:/dir] \
             [?volid=ID&commit=each|batch&batch=N&batch_bytes=SIZE]; \
             env XORRISO_PATH, XORRISO_WRITE_SPEED, XORRISO_ASSERT_VOLID, XORRISO_ARGS",
        )
    }

    fn open(request: OpenRequest<'_>, _host: &Host) -> Result<Box<dyn Backend>> {
        if request.as_prefix {
            return Err(BackendError::invalid_input(
                "xorriso is a scheme, not a prefix",
            ));
        }
        let backend = XorrisoBackend::open(request.url).map_err(to_abi)?;
        Ok(Box::new(AbiBackend(Arc::new(backend))))
    }
}

export_plugin!(XorrisoPlugin);

/// The backend as the host sees it; shared with the extension object.
struct AbiBackend(Arc<XorrisoBackend>);

impl Backend for AbiBackend {
    fn put(&self, local: &Path, name: &str) -> Result<()> {
        self.0.put(local, name).map_err(to_abi)
    }

    fn get(&self, name: &str, local: &Path) -> Result<()> {
        self.0.get(name, local).map_err(to_abi)
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        self.0.list().map_err(to_abi)
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.0.delete(name).map_err(to_abi)
    }

    fn delete_list(&self, names: &[&str]) -> Result<()> {
        self.0.delete_list(names).map_err(to_abi)
    }

    fn query(&self, name: &str) -> Result<Option<u64>> {
        self.0.query(name).map_err(to_abi)
    }

    fn query_list(&self, names: &[&str]) -> Result<Vec<Option<u64>>> {
        self.0
            .query_list(names)
            .map(|v| v.into_iter().map(|(_, size)| size).collect())
            .map_err(to_abi)
    }

    fn move_in(&self, local: &Path, name: &str) -> Result<()> {
        self.0.move_in(local, name).map_err(to_abi)
    }

    fn retry_cleanup(&self) -> Result<()> {
        self.0.retry_cleanup().map_err(to_abi)
    }

    fn close(&self) -> Result<()> {
        self.0.close().map_err(to_abi)
    }

    fn extension(&self, id: &str) -> Option<Extension> {
        let backend = Arc::downgrade(&self.0);
        match id {
            stowage_xorriso_ext::ID => Some(crate::extension::xorriso_extension(backend)),
            stowage_location_ext::ID => Some(crate::extension::location_extension(backend)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use stowage_backend_api::ErrorCode;

    fn loud_skip(what: &str) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
    }

    #[test]
    fn codes_and_retry_flags_cross() {
        let e = to_abi(Error::InUse {
            path: "/x.iso".into(),
        });
        assert_eq!(e.code(), ErrorCode::IN_USE);
        assert!(!e.is_retryable());
        assert!(e.message().contains("/x.iso"));
        let e = to_abi(Error::XorrisoDied {
            target: "stdio:/x.iso".into(),
            during: "list".into(),
            status: "killed by signal 9".into(),
            last: String::new(),
        });
        assert_eq!(e.code(), ErrorCode::TRANSIENT);
        assert!(e.is_retryable());
        let e = to_abi(Error::io(
            "put: cannot read the local file \"/s\"",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        ));
        assert_eq!(e.code(), ErrorCode::NOT_FOUND);
        assert_eq!(e.os_error(), libc::ENOENT);
        assert!(e.message().contains("/s"), "{}", e.message());
    }

    /// The trait methods and the extension, in-process (the host's loader tests the FFI).
    #[test]
    fn backend_trait_and_extension() {
        let have = std::process::Command::new("xorriso")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !have {
            assert!(
                std::env::var_os("STOWAGE_REQUIRE_TOOLS").is_none(),
                "xorriso is required (STOWAGE_REQUIRE_TOOLS is set)"
            );
            loud_skip("xorriso is not installed");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("abi.iso");
        let cfg = crate::Config::parse(
            &format!("xorriso://{}", img.display()),
            &Default::default(),
            Path::new("/"),
        )
        .unwrap();
        let b = AbiBackend(Arc::new(XorrisoBackend::open_with(cfg).unwrap()));
        let src = d.path().join("s");
        std::fs::write(&src, b"abc").unwrap();
        Backend::put(&b, &src, "x").unwrap();
        assert_eq!(
            Backend::query_list(&b, &["x", "y"]).unwrap(),
            vec![Some(3), None]
        );
        let e = Backend::get(&b, "y", &d.path().join("o")).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NOT_FOUND);
        let ops = stowage_xorriso_ext::Xorriso::lookup(|id| {
            Backend::extension(&b, id).map(|e| e.downcast()).transpose()
        })
        .unwrap()
        .unwrap();
        let info = ops.info().unwrap();
        assert_eq!(info.pending_changes, 1);
        assert_eq!(info.sessions, 0);
        Backend::close(&b).unwrap();
        let e = ops.info().unwrap_err();
        assert!(e.message().contains("closed"), "{}", e.message());
        assert!(Backend::extension(&b, "stowage.other/1").is_none());
    }
}
