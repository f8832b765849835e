//! Which Envoy extension runs Portico's filters in a test run.
//!
//! `cargo xtask test` runs the integration tests twice: on the wasm
//! backend (each filter's `.wasm` under `envoy.filters.http.wasm`) and on
//! the dynamic-module backend (`dist/libportico.so` under
//! `envoy.filters.http.dynamic_modules`), chosen by `PORTICO_BACKEND`
//! (`wasm`, the default, or `native`). Tests build their Envoy configs with
//! [`crate::bootstrap::wasm_filter`], which follows the backend, so one
//! test body proves both.

use std::path::Path;

/// The filters `libportico.so` holds, by `filter_name`.
pub const MODULE_FILTERS: &[&str] = &["jwt", "headers", "ratelimit", "hello", "edge"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `portico_<name>.wasm` in `envoy.filters.http.wasm`.
    Wasm,
    /// `libportico.so` in `envoy.filters.http.dynamic_modules`.
    Native,
}

impl Backend {
    /// The backend of this run, from `PORTICO_BACKEND`. Anything but `wasm`,
    /// `native` or unset stops the run: a typo must not silently test wasm.
    pub fn current() -> Backend {
        match std::env::var("PORTICO_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("wasm") => Backend::Wasm,
            Ok("native") => Backend::Native,
            Ok(other) => panic!("PORTICO_BACKEND={other:?}: use `wasm` or `native`"),
        }
    }

    /// Whether a metric a filter first names after its configuration
    /// loaded (the global rate limiter's per-route-cluster counters) shows
    /// in Envoy's stats. Envoy 1.40 freezes a dynamic module's stats at
    /// load; such a metric is then counted in the module only.
    pub fn shows_late_metrics(self) -> bool {
        self == Backend::Wasm
    }

    /// Whether a header the filter sets to an empty value reaches the
    /// message. Envoy 1.40's dynamic-module ABI removes a header set to ""
    /// and refuses to add one.
    pub fn writes_empty_headers(self) -> bool {
        self == Backend::Wasm
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Wasm => "wasm",
            Backend::Native => "native",
        }
    }
}

/// The `filter_name` in `libportico.so` of a Portico `.wasm`
/// (`…/portico_jwt.wasm` → `jwt`); `None` for any other module (test
/// probes run as wasm on both backends).
pub fn module_filter(wasm: &Path) -> Option<&'static str> {
    let stem = wasm.file_stem()?.to_str()?;
    let name = stem.strip_prefix("portico_")?;
    MODULE_FILTERS.iter().copied().find(|f| *f == name)
}
