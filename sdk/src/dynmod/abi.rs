//! The part of Envoy's dynamic-module ABI (`abi.h`, version v0.2.0 in
//! Envoy 1.40) that Portico uses, written by hand.
//!
//! Envoy's callbacks are looked up once, by name, in the running Envoy
//! (`dlsym` on the process) when the module loads, not linked: a module that
//! needs a callback this Envoy lacks then refuses to load with the
//! callback's name, instead of crashing at its first call, and test binaries
//! that link the SDK with this adapter compiled in need no Envoy symbols.
//! `tests/dynmod_abi.rs` checks every name below against the Envoy binary's
//! exports.

use std::ffi::{c_char, c_void, CString};
use std::sync::OnceLock;

/// The ABI version this adapter is written against.
pub const ABI_VERSION: &std::ffi::CStr = c"v0.2.0";

/// Bytes Envoy owns, valid until the end of the current hook.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const u8,
    pub len: usize,
}

impl EnvoyBuffer {
    pub const NULL: EnvoyBuffer = EnvoyBuffer {
        ptr: std::ptr::null(),
        len: 0,
    };

    /// The bytes, copied.
    ///
    /// # Safety
    /// `ptr` must be null or valid for `len` bytes, as Envoy guarantees for
    /// the hook that handed the buffer over.
    pub unsafe fn to_vec(self) -> Vec<u8> {
        if self.ptr.is_null() || self.len == 0 {
            return Vec::new();
        }
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

/// Bytes the module owns, for the duration of one callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const u8,
    pub len: usize,
}

impl ModuleBuffer {
    pub fn of(bytes: &[u8]) -> ModuleBuffer {
        ModuleBuffer {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// A null buffer: `http_set_header` then removes the header.
    pub const NULL: ModuleBuffer = ModuleBuffer {
        ptr: std::ptr::null(),
        len: 0,
    };
}

/// A header Envoy owns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyHeader {
    pub key: EnvoyBuffer,
    pub value: EnvoyBuffer,
}

/// A header the module owns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleHeader {
    pub key: ModuleBuffer,
    pub value: ModuleBuffer,
}

impl ModuleHeader {
    pub fn of(key: &str, value: &[u8]) -> ModuleHeader {
        ModuleHeader {
            key: ModuleBuffer::of(key.as_bytes()),
            value: ModuleBuffer::of(value),
        }
    }
}

pub type Ptr = *mut c_void;

// `envoy_dynamic_module_type_http_header_type`.
pub const REQUEST_HEADER: u32 = 0;
pub const REQUEST_TRAILER: u32 = 1;
pub const RESPONSE_HEADER: u32 = 2;
pub const RESPONSE_TRAILER: u32 = 3;

// `envoy_dynamic_module_type_http_body_type`.
pub const RECEIVED_REQUEST_BODY: u32 = 0;
pub const BUFFERED_REQUEST_BODY: u32 = 1;
pub const RECEIVED_RESPONSE_BODY: u32 = 2;
pub const BUFFERED_RESPONSE_BODY: u32 = 3;

// Statuses returned by the header, body and trailer hooks.
pub const HEADERS_CONTINUE: u32 = 0;
pub const HEADERS_STOP_ITERATION: u32 = 1;
pub const BODY_CONTINUE: u32 = 0;
pub const BODY_STOP_AND_BUFFER: u32 = 1;
pub const TRAILERS_CONTINUE: u32 = 0;
pub const TRAILERS_STOP: u32 = 1;

// `envoy_dynamic_module_type_http_callout_init_result`.
pub const CALLOUT_SUCCESS: u32 = 0;
pub const CALLOUT_CLUSTER_NOT_FOUND: u32 = 2;

// `envoy_dynamic_module_type_http_callout_result`.
pub const CALLOUT_RESULT_SUCCESS: u32 = 0;

// `envoy_dynamic_module_type_metrics_result`.
pub const METRICS_SUCCESS: u32 = 0;

// `envoy_dynamic_module_type_http_filter_stream_reset_reason`.
pub const RESET_LOCAL: u32 = 0;

/// `envoy_dynamic_module_type_attribute_id` values Portico reads.
pub mod attribute {
    pub const REQUEST_TIME: u32 = 8;
    pub const REQUEST_ID: u32 = 9;
    pub const REQUEST_PROTOCOL: u32 = 10;
    pub const SOURCE_ADDRESS: u32 = 24;
    pub const SOURCE_PORT: u32 = 25;
    pub const DESTINATION_ADDRESS: u32 = 26;
    pub const DESTINATION_PORT: u32 = 27;
    pub const CONNECTION_ID: u32 = 28;
    pub const XDS_CLUSTER_NAME: u32 = 57;
    pub const XDS_ROUTE_NAME: u32 = 61;
}

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

macro_rules! callbacks {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// Envoy's callbacks, resolved at load.
        #[allow(non_snake_case)]
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        /// Every callback Portico calls, by its full symbol name.
        pub const NAMES: &[&str] = &[$(concat!("envoy_dynamic_module_callback_", stringify!($name)),)*];

        impl Api {
            fn resolve() -> Result<Api, String> {
                Ok(Api {
                    $($name: {
                        let name = concat!("envoy_dynamic_module_callback_", stringify!($name));
                        let c = CString::new(name).map_err(|_| name.to_string())?;
                        // SAFETY: RTLD_DEFAULT (null) searches the process's
                        // global symbols; `c` is NUL-terminated.
                        let f = unsafe { dlsym(std::ptr::null_mut(), c.as_ptr()) };
                        if f.is_null() {
                            return Err(name.to_string());
                        }
                        // SAFETY: the symbol is Envoy's callback of this name,
                        // whose C signature the declaration above copies.
                        unsafe { std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(f) }
                    },)*
                })
            }
        }
    };
}

callbacks! {
    log: fn(u32, ModuleBuffer);
    log_enabled: fn(u32) -> bool;
    http_get_header: fn(Ptr, u32, ModuleBuffer, *mut EnvoyBuffer, usize, *mut usize) -> bool;
    http_get_headers_size: fn(Ptr, u32) -> usize;
    http_get_headers: fn(Ptr, u32, *mut EnvoyHeader) -> bool;
    http_add_header: fn(Ptr, u32, ModuleBuffer, ModuleBuffer) -> bool;
    http_set_header: fn(Ptr, u32, ModuleBuffer, ModuleBuffer) -> bool;
    http_send_response: fn(Ptr, u32, *mut ModuleHeader, usize, ModuleBuffer, ModuleBuffer);
    http_get_body_size: fn(Ptr, u32) -> usize;
    http_get_body_chunks_size: fn(Ptr, u32) -> usize;
    http_get_body_chunks: fn(Ptr, u32, *mut EnvoyBuffer) -> bool;
    http_append_body: fn(Ptr, u32, ModuleBuffer) -> bool;
    http_drain_body: fn(Ptr, u32, usize) -> bool;
    http_set_filter_state_bytes: fn(Ptr, ModuleBuffer, ModuleBuffer) -> bool;
    http_get_filter_state_bytes: fn(Ptr, ModuleBuffer, *mut EnvoyBuffer) -> bool;
    http_filter_scheduler_new: fn(Ptr) -> Ptr;
    http_filter_scheduler_commit: fn(Ptr, u64);
    http_filter_scheduler_delete: fn(Ptr);
    http_filter_config_scheduler_new: fn(Ptr) -> Ptr;
    http_filter_config_scheduler_commit: fn(Ptr, u64);
    http_filter_config_scheduler_delete: fn(Ptr);
    http_clear_route_cache: fn(Ptr);
    http_filter_get_attribute_string: fn(Ptr, u32, *mut EnvoyBuffer) -> bool;
    http_filter_get_attribute_int: fn(Ptr, u32, *mut u64) -> bool;
    http_get_cluster_name: fn(Ptr, *mut EnvoyBuffer) -> bool;
    http_filter_http_callout: fn(Ptr, *mut u64, ModuleBuffer, *mut ModuleHeader, usize, ModuleBuffer, u64) -> u32;
    http_filter_start_http_stream: fn(Ptr, *mut u64, ModuleBuffer, *mut ModuleHeader, usize, ModuleBuffer, bool, u64) -> u32;
    http_filter_config_http_callout: fn(Ptr, *mut u64, ModuleBuffer, *mut ModuleHeader, usize, ModuleBuffer, u64) -> u32;
    http_filter_config_start_http_stream: fn(Ptr, *mut u64, ModuleBuffer, *mut ModuleHeader, usize, ModuleBuffer, bool, u64) -> u32;
    http_filter_continue_decoding: fn(Ptr);
    http_filter_continue_encoding: fn(Ptr);
    http_filter_reset_stream: fn(Ptr, u32, ModuleBuffer);
    http_filter_config_define_counter: fn(Ptr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;
    http_filter_config_define_gauge: fn(Ptr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;
    http_filter_config_define_histogram: fn(Ptr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;
    http_filter_config_increment_counter: fn(Ptr, usize, *mut ModuleBuffer, usize, u64) -> u32;
    http_filter_config_increment_gauge: fn(Ptr, usize, *mut ModuleBuffer, usize, u64) -> u32;
    http_filter_config_decrement_gauge: fn(Ptr, usize, *mut ModuleBuffer, usize, u64) -> u32;
    http_filter_config_set_gauge: fn(Ptr, usize, *mut ModuleBuffer, usize, u64) -> u32;
    http_filter_config_record_histogram_value: fn(Ptr, usize, *mut ModuleBuffer, usize, u64) -> u32;
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// Resolves the callbacks; the name of the first one missing otherwise.
pub fn init() -> Result<(), String> {
    match API.get_or_init(Api::resolve) {
        Ok(_) => Ok(()),
        Err(name) => Err(name.clone()),
    }
}

/// The callbacks, once [`init`] succeeded (Envoy calls no other hook of a
/// module whose `on_program_init` failed).
pub fn api() -> Option<&'static Api> {
    API.get().and_then(|r| r.as_ref().ok())
}
