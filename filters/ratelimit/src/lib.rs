//! `portico_ratelimit.wasm`: rate limiting in two modes, chosen by the
//! configuration.
//!
//! - the local mode (Envoy's `local_ratelimit`): token buckets shared by
//!   all of Envoy's workers, one per distinct key a request carries;
//! - the global mode (Envoy's `ratelimit`, with `rate_limit_service`): a
//!   Rate Limit Service decides for every Envoy that asks it.
//!
//! Files:
//! - `config.rs`, `global_config.rs`: the JSON, checked at load;
//! - `actions.rs`: descriptor actions and the entries they build;
//! - `local.rs`, with `bucket.rs` (token-bucket arithmetic), `clock.rs`
//!   (Envoy's monotonic clock), `table.rs` (buckets in shared data, with
//!   compare-and-swap), `secret.rs` and `siphash.rs` (where a key's bucket
//!   lives, unguessably);
//! - `global.rs`, with `rls_proto.rs` (the service's messages) and
//!   `draft03.rs` (the `x-ratelimit-*` headers from its answer);
//! - this file: which mode a phase goes to.

pub mod actions;
pub mod bucket;
pub mod clock;
pub mod config;
mod draft03;
mod global;
pub mod global_config;
mod local;
pub mod rls_proto;
pub mod secret;
pub mod siphash;
pub mod table;

use bucket::Decision;
use config::Config;
use portico::{ConfigError, Env, HttpFilter, Plugin, Root, Stream, Verdict};

/// Per VM: the mode and its state.
pub struct RateLimiter {
    mode: Mode,
}

enum Mode {
    Local(local::Local),
    Global(global::Global),
}

impl RateLimiter {
    fn local(&self) -> Option<&local::Local> {
        match &self.mode {
            Mode::Local(l) => Some(l),
            Mode::Global(_) => None,
        }
    }

    fn global(&self) -> Option<&global::Global> {
        match &self.mode {
            Mode::Global(g) => Some(g),
            Mode::Local(_) => None,
        }
    }
}

impl Plugin for RateLimiter {
    type Config = Config;
    type Filter = RateLimitFilter;

    fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let mode = match config {
            Config::Local(c) => Mode::Local(local::Local::configure(c, root)?),
            Config::Global(c) => Mode::Global(global::Global::configure(c, root)?),
        };
        Ok(RateLimiter { mode })
    }

    fn new_filter(&self, _: &Env<'_>) -> RateLimitFilter {
        RateLimitFilter::default()
    }
}

/// Per request: what the response phase adds.
#[derive(Default)]
pub struct RateLimitFilter {
    /// The local mode's decision and its bucket's size.
    outcome: Option<(Decision, u64)>,
    /// The global mode's headers for the upstream's response.
    response_headers: Vec<(String, String)>,
}

impl HttpFilter for RateLimitFilter {
    type Plugin = RateLimiter;

    fn on_request_headers(&mut self, plugin: &RateLimiter, s: &mut Stream<'_, Self>) -> Verdict {
        match &plugin.mode {
            Mode::Local(l) => l.on_request_headers(self, s),
            Mode::Global(g) => g.on_request_headers(self, s),
        }
    }

    fn on_response_headers(&mut self, plugin: &RateLimiter, s: &mut Stream<'_, Self>) -> Verdict {
        match &plugin.mode {
            Mode::Local(l) => l.on_response_headers(self, s),
            Mode::Global(g) => g.on_response_headers(self, s),
        }
    }
}

// Exports the plugin from this crate's own .wasm; off (no `module`
// feature) when another module links the crate as a member of a chain
// (filters/edge), which exports its own.
#[cfg(feature = "module")]
portico::main!(RateLimiter);

// The name of this filter in a `portico::Chain`'s `filters` list.
portico::member!(RateLimiter, "ratelimit");
