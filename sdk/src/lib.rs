#![doc = include_str!("../README.md")]

mod abi_pairs;
mod action;
pub mod config;
mod env;
mod filter;
mod headers;
pub mod host;
mod http_call;
mod metrics;
pub mod query;
mod root;
#[doc(hidden)]
pub mod runtime;
mod stream;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use action::{Action, LocalResponse};
pub use config::ConfigError;
pub use config::RouteMatch;
pub use config::StringMatcher;
pub use env::{strip_port, Env, MAX_CAS_ATTEMPTS};
pub use filter::{HttpFilter, Plugin};
pub use headers::Headers;
pub use http_call::{CallError, CallId, HttpRequest, HttpResponse, DEFAULT_MAX_RESPONSE_BYTES};
pub use metrics::{Counter, Gauge, Histogram};
pub use root::{Root, TimerId};
pub use stream::{Phase, Stream, StreamId};

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
