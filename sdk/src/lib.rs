//! Portico: Envoy HTTP filters in Rust, as proxy-wasm modules.
//!
//! A filter is two types: a [`Plugin`] built once per VM from its JSON
//! configuration, and an [`HttpFilter`] created per request, with one method
//! per phase returning an [`Action`]. [`main!`] exports them to Envoy.
//! Enable the `testing` feature to run filters natively on
//! [`testing::TestHost`], a fake Envoy.
//!
//! ```
//! use portico::{Action, ConfigError, Env, HttpFilter, Plugin, Root, Stream};
//! use serde::Deserialize;
//! use std::rc::Rc;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// Requests whose path starts with this are refused.
//!     blocked_prefix: String,
//! }
//!
//! struct Blocker {
//!     prefix: String,
//!     blocked: portico::Counter,
//! }
//!
//! impl Plugin for Blocker {
//!     type Config = Config;
//!     type Filter = BlockerFilter;
//!
//!     fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
//!         if !config.blocked_prefix.starts_with('/') {
//!             return Err(ConfigError::at("blocked_prefix", "must start with `/`"));
//!         }
//!         Ok(Blocker { prefix: config.blocked_prefix, blocked: root.counter("blocker.blocked")? })
//!     }
//!
//!     fn new_filter(plugin: &Rc<Self>, _: &Env<'_>) -> BlockerFilter {
//!         BlockerFilter { plugin: Rc::clone(plugin) }
//!     }
//! }
//!
//! struct BlockerFilter {
//!     plugin: Rc<Blocker>,
//! }
//!
//! impl HttpFilter for BlockerFilter {
//!     fn on_request_headers(&mut self, s: &mut Stream<'_, Self>) -> Action {
//!         if s.path().starts_with(&self.plugin.prefix) {
//!             self.plugin.blocked.inc(s);
//!             return Action::respond(403).body("blocked\n").into_action();
//!         }
//!         Action::Continue
//!     }
//! }
//!
//! portico::main!(Blocker);
//!
//! // Natively, the same filter runs on the test host:
//! # #[cfg(feature = "testing")] {
//! let host = portico::testing::TestHost::new();
//! let vm = host.vm::<Blocker>(r#"{"blocked_prefix": "/admin"}"#).unwrap();
//! assert_eq!(vm.get("/admin/users").send().status(), 403);
//! assert_eq!(vm.get("/public").send().status(), 200);
//! assert_eq!(host.metric("blocker.blocked"), Some(1));
//! let err = host.vm::<Blocker>(r#"{"blocked_prefix": 7}"#).err().unwrap();
//! assert_eq!(err.path, "blocked_prefix");
//! # }
//! ```

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
pub mod route_match;
#[doc(hidden)]
pub mod runtime;
mod stream;
pub mod string_match;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use action::{Action, LocalResponse};
pub use config::ConfigError;
pub use env::{Env, MAX_CAS_ATTEMPTS};
pub use filter::{HttpFilter, Plugin};
pub use headers::Headers;
pub use http_call::{CallError, CallId, HttpRequest, HttpResponse, DEFAULT_MAX_RESPONSE_BYTES};
pub use metrics::{Counter, Gauge, Histogram};
pub use root::{Root, TimerId};
pub use route_match::RouteMatch;
pub use stream::{Phase, Stream, StreamId};
pub use string_match::StringMatcher;

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
