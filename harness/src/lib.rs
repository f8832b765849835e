//! The real-Envoy test harness: Envoy from PyPI, an upstream that echoes each
//! request or answers as a test tells it ([`Answer`]), a client, and
//! [`built_wasm`] to find a crate's module wherever cargo builds it.
//!
//! ```no_run
//! use portico_harness::{bootstrap, Envoy, Upstream};
//!
//! let upstream = Upstream::start();
//! let wasm = portico_harness::wasm_path("hello").unwrap();
//! let config = bootstrap::Bootstrap::new(upstream.port())
//!     .listener("main", vec![bootstrap::wasm_filter("hello", &wasm, r#"{"value": "hi"}"#)])
//!     .render();
//! let envoy = Envoy::start(&config, 1);
//! let reply = envoy.get("main", "/anything").send();
//! assert_eq!(reply.echo().unwrap().header("x-portico-hello"), Some("hi"));
//! ```

// Test code that test binaries call: a failure panics with its reason, as an
// assertion does (and `Envoy` prints Envoy's log). The workspace's no-panic
// lints are for the code that runs in Envoy's VM.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod backend;
pub mod bootstrap;
pub mod client;
#[cfg(feature = "dev")]
pub mod dev;
mod envoy;
pub mod install;
pub mod shipped;
mod upstream;

pub use backend::Backend;
pub use client::{Echo, Reply, RequestBuilder};
pub use envoy::{Envoy, Refusal};
pub use install::{
    built_module, built_wasm, ensure_envoy, find_envoy, probe_wasm_path, target_dir, wasm_path,
    workspace_root,
};
pub use upstream::{Answer, Upstream};

use std::sync::OnceLock;

/// The tokio runtime shared by the upstream servers and the client of a test binary.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build the tokio runtime")
    })
}
