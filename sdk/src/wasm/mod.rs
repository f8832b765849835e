//! The `.wasm` adapter: proxy-wasm's dispatcher calls in (`glue.rs`),
//! [`host::WasmHost`] calls out over the ABI's imports (`host.rs`), header
//! pairs in the ABI's encoding (`pairs.rs`).
//!
//! Entry points, memory allocation and callout routing come from the upstream
//! `proxy-wasm` crate. Calls out of the VM use Portico's own declarations of
//! the same `env.proxy_*` imports, because the upstream wrappers abort the VM
//! on any status they do not expect (a header map missing in the current
//! phase, for one), and an aborted VM fails every request of its worker.

mod pairs;

#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
mod host;

#[cfg(target_arch = "wasm32")]
pub use glue::start;
#[cfg(target_arch = "wasm32")]
pub use proxy_wasm;
