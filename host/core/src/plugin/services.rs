//! The host services handed to every plugin: logging and opening inner
//! backends.

use std::sync::Weak;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROption, RResult, RStr};
use stowage_backend_api::abi::{BackendObject, HostObject, RawHost, RawHost_TO};
use stowage_backend_api::{BackendError, Extension};

use crate::error::{Error, Result};

/// What the host services need from the registry: opening a URL (a
/// prefix plugin's inner URL) to a raw backend object.
pub(crate) trait OpenInner: Send + Sync {
    /// Opens `url` as the registry does, without the host's layers.
    fn open_object(&self, url: &str) -> Result<BackendObject>;
}

/// Invariant: holds the registry weakly, so plugins keeping a host handle
/// do not keep the registry alive (and there is no reference cycle).
#[derive(Clone)]
pub(crate) struct HostServices {
    registry: Weak<dyn OpenInner>,
}

/// Stands for the registry where there is none (the probe child): every
/// upgrade of its `Weak` fails.
struct NoRegistry;

impl OpenInner for NoRegistry {
    fn open_object(&self, _: &str) -> Result<BackendObject> {
        Err(Error::InvalidInput("no plugin registry".into()))
    }
}

impl HostServices {
    /// The host object handed to plugins loaded by `registry`.
    pub(crate) fn object(registry: Weak<dyn OpenInner>) -> HostObject {
        RawHost_TO::from_ptr(RArc::new(HostServices { registry }), TD_Opaque)
    }

    /// The host object of a process without a registry (the probe child):
    /// a plugin asking it to open an inner backend gets an error.
    pub(crate) fn without_registry() -> HostObject {
        Self::object(Weak::<NoRegistry>::new() as Weak<dyn OpenInner>)
    }
}

impl RawHost for HostServices {
    fn log(&self, lvl: u8, target: RStr<'_>, message: RStr<'_>) {
        let lvl = stowage_backend_api::levels::level_from_abi(lvl);
        if lvl <= log::max_level() {
            log::logger().log(
                &log::Record::builder()
                    .level(lvl)
                    .target(target.as_str())
                    .args(format_args!("{}", message.as_str()))
                    .build(),
            );
        }
    }

    fn max_log_level(&self) -> u8 {
        log::max_level() as u8
    }

    fn open_backend(&self, url: RStr<'_>) -> RResult<BackendObject, BackendError> {
        let Some(registry) = self.registry.upgrade() else {
            return RResult::RErr(BackendError::generic(
                "the plugin registry is gone; cannot open an inner backend",
            ));
        };
        match registry.open_object(url.as_str()) {
            Ok(object) => RResult::ROk(object),
            Err(e) => {
                let code = e.code();
                let retryable = e.backend_error().is_some_and(BackendError::is_retryable);
                RResult::RErr(BackendError::new(code, e.to_string()).with_retryable(retryable))
            }
        }
    }

    fn extension(&self, id: RStr<'_>) -> ROption<Extension> {
        if id.as_str() == stowage_backend_api::ext::progress::ID {
            ROption::RSome(crate::progress::extension())
        } else {
            ROption::RNone
        }
    }
}
