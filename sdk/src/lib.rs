#![doc = include_str!("../README.md")]
// Without an adapter (a native build without `testing`) nothing drives the
// engine; it is still compiled, so the layers type-check on every target.
#![cfg_attr(
    not(any(target_arch = "wasm32", feature = "testing")),
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
