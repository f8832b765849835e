//! The dynamic-module adapter (feature `dynamic-module`, native targets):
//! the same filters as a `.so` that Envoy's
//! `envoy.filters.http.dynamic_modules` loads.
//!
//! - `abi.rs`: the ABI's types and Envoy's callbacks, resolved at load;
//! - `host.rs`: [`crate::host::Host`] over those callbacks;
//! - `shared.rs`: what a configuration keeps for every thread (shared data,
//!   metric ids, callouts, schedulers, the tick thread);
//! - `lock.rs`: the configuration's lock;
//! - `glue.rs`: Envoy's hooks, typed, driving the engine;
//! - `grpc.rs`: unary gRPC replies read from HTTP/2 streams;
//! - `export.rs`: what the exported `extern "C"` hooks call.
//!
//! One engine (one plugin instance) serves a filter configuration on every
//! worker: Envoy calls a module from all its worker threads, and plain
//! memory is shared by all of them. Each hook holds the configuration's
//! lock while the engine runs. Work for a stream that arises on another
//! thread (a root timer or callout waking it) is kept by the engine and
//! runs when Envoy calls the stream back on its own thread.

pub mod abi;
pub mod export;
mod glue;
mod grpc;
mod host;
mod lock;
mod shared;
