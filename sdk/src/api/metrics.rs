//! Typed metric handles. Define them once per VM (in `Plugin::configure`),
//! keep the handle in the plugin, and update through any context.
//!
//! Envoy shows them in its stats with a `wasmcustom.` prefix; the same name
//! defined by several worker VMs is one metric.

use super::env::Env;

/// A monotonically increasing count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter(pub(crate) u32);

/// A value that goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauge(pub(crate) u32);

/// A distribution of recorded values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram(pub(crate) u32);

// Metric updates never fail a request: a host that refuses one is logged at
// debug level and ignored.
fn ignore(result: Result<(), crate::host::HostError>) {
    if let Err(err) = result {
        log::debug!("portico: metric update refused: {err}");
    }
}

impl Counter {
    pub fn inc(self, env: &Env<'_>) {
        self.add(env, 1);
    }

    pub fn add(self, env: &Env<'_>, n: u64) {
        let delta = i64::try_from(n).unwrap_or(i64::MAX);
        ignore(env.host.increment_metric(self.0, delta));
    }

    pub fn value(self, env: &Env<'_>) -> u64 {
        env.host.metric(self.0).unwrap_or(0)
    }
}

impl Gauge {
    pub fn set(self, env: &Env<'_>, value: u64) {
        ignore(env.host.record_metric(self.0, value));
    }

    pub fn add(self, env: &Env<'_>, delta: i64) {
        ignore(env.host.increment_metric(self.0, delta));
    }

    pub fn value(self, env: &Env<'_>) -> u64 {
        env.host.metric(self.0).unwrap_or(0)
    }
}

impl Histogram {
    pub fn record(self, env: &Env<'_>, value: u64) {
        ignore(env.host.record_metric(self.0, value));
    }
}
