#![doc = include_str!("../README.md")]
// Without an adapter (a native build without `testing`) nothing drives the
// engine; it is still compiled, so the layers type-check on every target.
#![cfg_attr(
    not(any(
        target_arch = "wasm32",
        feature = "testing",
        feature = "dynamic-module"
    )),
    allow(dead_code)
)]

// Layers, each importing only those below it (sdk/ARCHITECTURE.md; checked
// by tests/layers.rs): adapters (`wasm`, `testing`) → `engine` → `api` →
// Envoy's vocabulary (`config`, `query`, `net`) and the host seam (`host`).
mod api;
pub mod config;
mod engine;
pub mod host;
pub mod net;
pub mod query;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(target_arch = "wasm32", test))]
#[doc(hidden)]
pub mod wasm;

#[cfg(all(feature = "dynamic-module", not(target_arch = "wasm32")))]
#[doc(hidden)]
pub mod dynmod;

pub use api::chain;
pub use api::chain::Chain;
pub use api::labels;
pub use api::{
    Action, CallError, CallId, Counter, CounterFamily, Env, Gauge, GrpcError, GrpcRequest,
    GrpcStatus, Headers, Histogram, HistogramFamily, HttpFilter, HttpRequest, HttpResponse,
    IntoVerdict, LocalResponse, Phase, Plugin, Root, Stream, StreamId, TimerId, Verdict,
};
pub use config::ConfigError;
pub use config::{RouteMatch, StringMatcher};
pub use host::HostError;
/// The `log` crate, routed to Envoy's log in a `.wasm` (and captured by the
/// test host): `portico::log::info!("...")` or `log::warn!` with `log` as a
/// dependency of your own.
pub use log;

/// Exports a [`Plugin`] as the filter of this `.wasm`. Write it once, at the
/// crate root of a `cdylib`. On native targets it expands to nothing, so the
/// same crate builds its unit tests.
#[macro_export]
macro_rules! main {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        $crate::wasm::proxy_wasm::main! {{
            $crate::wasm::start::<$plugin>();
        }}
    };
}

/// Exports [`Plugin`]s as the filters of an Envoy dynamic module (a
/// `cdylib` built for the host, feature `dynamic-module` of `portico`),
/// each under its `filter_name`:
///
/// ```ignore
/// portico::dynamic_module! {
///     "hello" => portico_hello::Hello,
///     "mine" => my_filter::Mine,
/// }
/// ```
///
/// Envoy's `DynamicModuleFilter` then selects one with `filter_name` and
/// hands it the same JSON as the `.wasm`'s `configuration`, as a
/// `google.protobuf.StringValue` `filter_config`. Write it once, at the crate
/// root of the module's crate.
#[macro_export]
macro_rules! dynamic_module {
    ($($name:literal => $plugin:ty),+ $(,)?) => {
        const _: () = {
            use $crate::dynmod::export as x;
            use x::{Buffer, EnvoyPtr, Event, Header, ModulePtr, Phase};

            static FILTERS: &[(&str, x::NewConfig)] = &[$(($name, x::new_config::<$plugin>)),+];

            #[no_mangle]
            pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const ::std::ffi::c_char {
                x::program_init()
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
                c: EnvoyPtr, name: Buffer, config: Buffer,
            ) -> ModulePtr {
                unsafe { x::config_new(FILTERS, c, name, config) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(m: ModulePtr) {
                unsafe { x::config_destroy(m) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(m: ModulePtr, f: EnvoyPtr) -> ModulePtr {
                unsafe { x::filter_new(m, f) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(m: ModulePtr) {
                unsafe { x::filter_destroy(m) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(f: EnvoyPtr, m: ModulePtr, end: bool) -> u32 {
                unsafe { x::phase(f, m, Phase::RequestHeaders, end) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_body(f: EnvoyPtr, m: ModulePtr, end: bool) -> u32 {
                unsafe { x::phase(f, m, Phase::RequestBody, end) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(f: EnvoyPtr, m: ModulePtr) -> u32 {
                unsafe { x::phase(f, m, Phase::RequestTrailers, true) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(f: EnvoyPtr, m: ModulePtr, end: bool) -> u32 {
                unsafe { x::phase(f, m, Phase::ResponseHeaders, end) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_body(f: EnvoyPtr, m: ModulePtr, end: bool) -> u32 {
                unsafe { x::phase(f, m, Phase::ResponseBody, end) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(f: EnvoyPtr, m: ModulePtr) -> u32 {
                unsafe { x::phase(f, m, Phase::ResponseTrailers, true) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(f: EnvoyPtr, m: ModulePtr) {
                unsafe { x::stream_complete(f, m) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
                f: EnvoyPtr, m: ModulePtr, id: u64, result: u32,
                h: *const Header, hn: usize, b: *const Buffer, bn: usize,
            ) {
                unsafe { x::filter_call(f, m, id, x::done(result, h, hn, b, bn)) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
                f: EnvoyPtr, m: ModulePtr, id: u64, h: *const Header, hn: usize, _end: bool,
            ) {
                unsafe { x::filter_call(f, m, id, Event::Headers(x::slice(h, hn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
                f: EnvoyPtr, m: ModulePtr, id: u64, d: *const Buffer, dn: usize, _end: bool,
            ) {
                unsafe { x::filter_call(f, m, id, Event::Data(x::slice(d, dn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
                f: EnvoyPtr, m: ModulePtr, id: u64, t: *const Header, tn: usize,
            ) {
                unsafe { x::filter_call(f, m, id, Event::Trailers(x::slice(t, tn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(f: EnvoyPtr, m: ModulePtr, id: u64) {
                unsafe { x::filter_call(f, m, id, Event::Complete) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(f: EnvoyPtr, m: ModulePtr, id: u64, _reason: u32) {
                unsafe { x::filter_call(f, m, id, Event::Reset) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(f: EnvoyPtr, m: ModulePtr, _event: u64) {
                unsafe { x::scheduled(f, m) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(_c: EnvoyPtr, m: ModulePtr, event: u64) {
                unsafe { x::config_scheduled(m, event) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
                _c: EnvoyPtr, m: ModulePtr, id: u64, result: u32,
                h: *const Header, hn: usize, b: *const Buffer, bn: usize,
            ) {
                unsafe { x::config_call(m, id, x::done(result, h, hn, b, bn)) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_headers(
                _c: EnvoyPtr, m: ModulePtr, id: u64, h: *const Header, hn: usize, _end: bool,
            ) {
                unsafe { x::config_call(m, id, Event::Headers(x::slice(h, hn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_data(
                _c: EnvoyPtr, m: ModulePtr, id: u64, d: *const Buffer, dn: usize, _end: bool,
            ) {
                unsafe { x::config_call(m, id, Event::Data(x::slice(d, dn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_trailers(
                _c: EnvoyPtr, m: ModulePtr, id: u64, t: *const Header, tn: usize,
            ) {
                unsafe { x::config_call(m, id, Event::Trailers(x::slice(t, tn))) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_complete(_c: EnvoyPtr, m: ModulePtr, id: u64) {
                unsafe { x::config_call(m, id, Event::Complete) }
            }
            #[no_mangle]
            pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_reset(_c: EnvoyPtr, m: ModulePtr, id: u64, _reason: u32) {
                unsafe { x::config_call(m, id, Event::Reset) }
            }
            #[no_mangle]
            pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(_f: EnvoyPtr, _m: ModulePtr) {}
            #[no_mangle]
            pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(_f: EnvoyPtr, _m: ModulePtr) {}
        };
    };
}
