//! The root module an [`export_plugin!`](crate::export_plugin) plugin
//! exports, and the log forwarder its `init` installs.

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{ROption, RResult, RStr};

use crate::abi::{BackendObject, HostObject, PluginModule, PluginModule_Ref, ABI_VERSION};
use crate::adapter::Adapter;
use crate::author::{Host, OpenRequest, Plugin};
use crate::descriptor::Descriptor;
use crate::error::BackendError;
use crate::extension::Extension;
use crate::guard::{guard_ffi, install_panic_hook};

/// Builds the root module for plugin `P`. Called by the code
/// [`export_plugin!`](crate::export_plugin) generates.
#[doc(hidden)]
pub fn root_module<P: Plugin>() -> PluginModule_Ref {
    PluginModule {
        abi_version: ABI_VERSION,
        panic_unwind: cfg!(panic = "unwind"),
        init,
        descriptor: descriptor::<P>,
        open: open::<P>,
        extension: extension::<P>,
    }
    .leak_into_prefix()
}

extern "C" fn init(host: HostObject) -> RResult<(), BackendError> {
    guard_ffi("init", || {
        install_panic_hook();
        let max = host.max_log_level();
        // A plugin has its own copy of `log` and of its global logger. The
        // first host to call init wins; a second init (a second registry in
        // the same process) keeps the forwarder, which reaches the same host
        // logger anyway.
        if log::set_boxed_logger(Box::new(Forward { host })).is_ok() {
            log::set_max_level(crate::levels::max_level_from_abi(max));
        }
        Ok(())
    })
}

extern "C" fn descriptor<P: Plugin>() -> RResult<Descriptor, BackendError> {
    guard_ffi("descriptor", || Ok(P::descriptor()))
}

extern "C" fn open<P: Plugin>(
    handler: RStr<'_>,
    as_prefix: bool,
    url: RStr<'_>,
    host: HostObject,
) -> RResult<BackendObject, BackendError> {
    guard_ffi("open", || {
        let request = OpenRequest {
            handler: handler.as_str(),
            as_prefix,
            url: url.as_str(),
        };
        let backend = P::open(request, &Host::from_raw(host))?;
        Ok(Adapter::into_object(backend))
    })
}

extern "C" fn extension<P: Plugin>(id: RStr<'_>) -> ROption<Extension> {
    guard_ffi("extension", || Ok(P::extension(id.as_str())))
        .into_result()
        .ok()
        .flatten()
        .into()
}

/// Sends the plugin's `log` records to the host.
struct Forward {
    host: HostObject,
}

impl log::Log for Forward {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let message = record.args().to_string();
            self.host.log(
                record.level() as u8,
                RStr::from_str(record.target()),
                RStr::from_str(&message),
            );
        }
    }

    fn flush(&self) {}
}

/// Exports a [`Plugin`](crate::Plugin) implementation as this library's
/// root module. Use it exactly once per plugin crate (a `cdylib`).
///
/// ```ignore
/// stowage_backend_api::export_plugin!(MyPlugin);
/// ```
///
/// The plugin crate needs no direct dependency on `abi_stable`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The abi_stable library header: the symbol the host looks up.
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader:
            $crate::__private::abi_stable::library::LibHeader = {
            extern "C" fn __stowage_root_module(
            ) -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader(
                    $crate::__private::root_module::<$plugin>,
                )
            }
            // SAFETY: the constructor returns the module type named here,
            // and the layout check stays enabled.
            unsafe {
                $crate::__private::abi_stable::library::LibHeader::from_constructor::<
                    $crate::abi::PluginModule_Ref,
                >(
                    __stowage_root_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}
