//! The functions behind the `extern "C"` hooks that [`crate::dynamic_module!`]
//! exports: raw pointers in, typed calls out. Nothing here unwinds: the
//! release profile aborts on panic, and no code on these paths panics on
//! Envoy's input (the workspace lints).

use super::abi::{self, EnvoyBuffer, EnvoyHeader, Ptr};
use super::glue::{self, AnyConfig, AnyFilter, CallEvent, Hook};
use crate::api::Plugin;
use crate::engine::Flow;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

pub use super::abi::EnvoyBuffer as Buffer;
pub use super::abi::EnvoyHeader as Header;
pub type EnvoyPtr = *mut c_void;
pub type ModulePtr = *const c_void;

/// A filter of the module: its `filter_name` and how to make its config.
pub type NewConfig = fn(Ptr, &str, &[u8]) -> Option<Arc<dyn AnyConfig>>;

/// The typed constructor of `P`'s configuration, for the module's table.
pub fn new_config<P: Plugin>(config: Ptr, name: &str, raw: &[u8]) -> Option<Arc<dyn AnyConfig>> {
    glue::new_config::<P>(config, name, raw)
}

struct EnvoyLogger;

impl log::Log for EnvoyLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => 4,
            log::Level::Warn => 3,
            log::Level::Info => 2,
            log::Level::Debug => 1,
            log::Level::Trace => 0,
        };
        if let Some(api) = abi::api() {
            let message = record.args().to_string();
            // SAFETY: a module buffer valid for the call.
            unsafe { (api.log)(level, abi::ModuleBuffer::of(message.as_bytes())) };
        }
    }

    fn flush(&self) {}
}

static LOGGER: EnvoyLogger = EnvoyLogger;

/// `envoy_dynamic_module_on_program_init`: resolves Envoy's callbacks and
/// returns the ABI version, or null (Envoy then refuses the module) if this
/// Envoy lacks one.
pub fn program_init() -> *const c_char {
    if let Err(missing) = abi::init() {
        eprintln!("portico: this Envoy has no dynamic-module callback {missing}; the module is not loaded");
        return std::ptr::null();
    }
    let _ = log::set_logger(&LOGGER);
    let level = match abi::api() {
        // SAFETY: plain queries.
        Some(api) if unsafe { (api.log_enabled)(0) } => log::LevelFilter::Trace,
        Some(api) if unsafe { (api.log_enabled)(1) } => log::LevelFilter::Debug,
        Some(api) if unsafe { (api.log_enabled)(2) } => log::LevelFilter::Info,
        Some(api) if unsafe { (api.log_enabled)(3) } => log::LevelFilter::Warn,
        _ => log::LevelFilter::Error,
    };
    log::set_max_level(level);
    abi::ABI_VERSION.as_ptr()
}

fn bytes(b: EnvoyBuffer) -> Vec<u8> {
    // SAFETY: Envoy's buffer for the current hook.
    unsafe { b.to_vec() }
}

/// `envoy_dynamic_module_on_http_filter_config_new`.
///
/// # Safety
/// Called by Envoy with its own config pointer and buffers.
pub unsafe fn config_new(
    filters: &[(&str, NewConfig)],
    config: EnvoyPtr,
    name: EnvoyBuffer,
    raw: EnvoyBuffer,
) -> ModulePtr {
    let name = String::from_utf8_lossy(&bytes(name)).into_owned();
    let raw = bytes(raw);
    let Some((_, make)) = filters.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = filters.iter().map(|(n, _)| *n).collect();
        log::error!(
            "invalid filter configuration: filter_name: unknown filter {name:?}; this module has {}",
            known.join(", ")
        );
        return std::ptr::null();
    };
    match make(config, &name, &raw) {
        Some(state) => Box::into_raw(Box::new(state)) as ModulePtr,
        None => std::ptr::null(),
    }
}

/// # Safety
/// `ptr` must be a pointer [`config_new`] returned, not yet destroyed.
unsafe fn config_ref<'a>(ptr: ModulePtr) -> Option<&'a Arc<dyn AnyConfig>> {
    // SAFETY: the caller's contract.
    unsafe { (ptr as *const Arc<dyn AnyConfig>).as_ref() }
}

/// # Safety
/// `ptr` must be a pointer [`config_new`] returned; Envoy destroys it once.
pub unsafe fn config_destroy(ptr: ModulePtr) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `config_new`.
    let state = unsafe { Box::from_raw(ptr as *mut Arc<dyn AnyConfig>) };
    state.destroy();
}

/// # Safety
/// `config` must be a live config pointer; `filter` Envoy's new stream.
pub unsafe fn filter_new(config: ModulePtr, filter: EnvoyPtr) -> ModulePtr {
    // SAFETY: the caller's contract.
    let Some(state) = (unsafe { config_ref(config) }) else {
        return std::ptr::null();
    };
    let f: Box<dyn AnyFilter> = Arc::clone(state).new_filter(filter);
    Box::into_raw(Box::new(f)) as ModulePtr
}

/// # Safety
/// `ptr` must be a pointer [`filter_new`] returned, not yet destroyed.
unsafe fn filter_ref<'a>(ptr: ModulePtr) -> Option<&'a dyn AnyFilter> {
    // SAFETY: the caller's contract.
    unsafe { (ptr as *const Box<dyn AnyFilter>).as_ref() }.map(|b| &**b)
}

/// # Safety
/// `ptr` must be a pointer [`filter_new`] returned; Envoy destroys it once.
pub unsafe fn filter_destroy(ptr: ModulePtr) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: made by `Box::into_raw` in `filter_new`.
    let f = unsafe { Box::from_raw(ptr as *mut Box<dyn AnyFilter>) };
    f.destroy();
}

fn status(hook: Hook, flow: Flow) -> u32 {
    match (hook, flow) {
        (_, Flow::Continue) => 0,
        (Hook::RequestHeaders | Hook::ResponseHeaders, Flow::Pause) => abi::HEADERS_STOP_ITERATION,
        (Hook::RequestBody | Hook::ResponseBody, Flow::Pause) => abi::BODY_STOP_AND_BUFFER,
        (Hook::RequestTrailers | Hook::ResponseTrailers, Flow::Pause) => abi::TRAILERS_STOP,
    }
}

/// A header, body or trailer hook.
///
/// # Safety
/// `module` must be a live filter pointer; `filter` its Envoy stream.
pub unsafe fn phase(filter: EnvoyPtr, module: ModulePtr, hook: Hook, end_of_stream: bool) -> u32 {
    // SAFETY: the caller's contract.
    match unsafe { filter_ref(module) } {
        Some(f) => status(hook, f.phase(filter, hook, end_of_stream)),
        None => 0,
    }
}

/// # Safety
/// As [`phase`].
pub unsafe fn stream_complete(filter: EnvoyPtr, module: ModulePtr) {
    // SAFETY: the caller's contract.
    if let Some(f) = unsafe { filter_ref(module) } {
        f.complete(filter);
    }
}

/// # Safety
/// As [`phase`].
pub unsafe fn scheduled(filter: EnvoyPtr, module: ModulePtr) {
    // SAFETY: the caller's contract.
    if let Some(f) = unsafe { filter_ref(module) } {
        f.scheduled(filter);
    }
}

/// # Safety
/// `ptr`/`n` must describe Envoy's array for the current hook, or be null.
pub unsafe fn slice<'a, T>(ptr: *const T, n: usize) -> &'a [T] {
    if ptr.is_null() || n == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, n) }
    }
}

/// A stream's callout event.
///
/// # Safety
/// As [`phase`]; the event's arrays valid for the hook.
pub unsafe fn filter_call(filter: EnvoyPtr, module: ModulePtr, id: u64, event: CallEvent<'_>) {
    // SAFETY: the caller's contract.
    if let Some(f) = unsafe { filter_ref(module) } {
        f.call_event(filter, id, event);
    }
}

/// A configuration's callout event.
///
/// # Safety
/// `module` must be a live config pointer; the event's arrays valid.
pub unsafe fn config_call(module: ModulePtr, id: u64, event: CallEvent<'_>) {
    // SAFETY: the caller's contract.
    if let Some(state) = unsafe { config_ref(module) } {
        state.call_event(id, event);
    }
}

/// # Safety
/// `module` must be a live config pointer.
pub unsafe fn config_scheduled(module: ModulePtr, event: u64) {
    // SAFETY: the caller's contract.
    if let Some(state) = unsafe { config_ref(module) } {
        state.scheduled(event);
    }
}

/// Builds a callout's "done" event.
///
/// # Safety
/// The arrays must be Envoy's for the current hook, or null.
pub unsafe fn done<'a>(
    result: u32,
    headers: *const EnvoyHeader,
    headers_size: usize,
    chunks: *const EnvoyBuffer,
    chunks_size: usize,
) -> CallEvent<'a> {
    CallEvent::Done {
        ok: result == abi::CALLOUT_RESULT_SUCCESS,
        // SAFETY: the caller's contract.
        headers: unsafe { slice(headers, headers_size) },
        // SAFETY: the caller's contract.
        chunks: unsafe { slice(chunks, chunks_size) },
    }
}

pub use super::glue::CallEvent as Event;
pub use super::glue::Hook as Phase;
