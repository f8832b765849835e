//! What every context can reach: the clock, properties, shared data, metrics.

use super::metrics::{Counter, Gauge, Histogram};
use crate::host::{Host, HostError, MetricKind};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The proxy as seen from any context: root, stream or callback.
/// [`crate::Stream`] and [`crate::Root`] dereference to it.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub(crate) host: &'a dyn Host,
}

impl<'a> Env<'a> {
    /// Attempts of [`Env::shared_update`] before it reports contention.
    pub const MAX_CAS_ATTEMPTS: u32 = 64;

    pub(crate) fn new(host: &'a dyn Host) -> Self {
        Env { host }
    }

    /// Wall-clock time from the proxy (a fake clock under the test host).
    pub fn now(&self) -> SystemTime {
        self.host.now()
    }

    /// Seconds since the Unix epoch, saturating at 0 for a clock before 1970.
    pub fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> u128 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos()
    }

    /// Nanoseconds on the host's monotonic clock (one per process, never
    /// stepped back), where the host offers it through the SDK: a dynamic
    /// module does; a `.wasm` reads WASI's `clock_time_get` instead.
    pub fn monotonic_nanos(&self) -> Option<u64> {
        self.host.monotonic_nanos()
    }

    /// A raw Envoy attribute (`["source", "address"]`, `["request", "id"]`, ...).
    /// See Envoy's "attributes" documentation for the list.
    pub fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.host.property(path).ok().flatten()
    }

    /// Sets a value in the current stream's filter state, for later phases,
    /// later filters and access logs. Envoy keeps it under `wasm.<name>`:
    /// [`Env::filter_state`] reads it back, another wasm filter reads it
    /// with `property(&[name])`, an access log prints it with
    /// `%FILTER_STATE(wasm.<name>:PLAIN)%`. A name that is also an
    /// attribute (`request.path`) changes nothing but the filter state.
    /// Outside a stream (the root context) Envoy refuses it.
    pub fn set_filter_state(&self, name: &str, value: &[u8]) -> Result<(), HostError> {
        self.host.set_property(&[name], value)
    }

    /// A value of the stream's filter state set with [`Env::set_filter_state`]
    /// (by this filter or another wasm filter of the stream).
    pub fn filter_state(&self, name: &str) -> Option<Vec<u8>> {
        self.property(&[name])
    }

    /// A string attribute; `None` when absent or not UTF-8.
    pub fn property_str(&self, path: &[&str]) -> Option<String> {
        self.property(path).and_then(|b| String::from_utf8(b).ok())
    }

    /// An integer attribute (Envoy encodes them as 8 little-endian bytes).
    pub fn property_i64(&self, path: &[&str]) -> Option<i64> {
        let bytes: [u8; 8] = self.property(path)?.try_into().ok()?;
        Some(i64::from_le_bytes(bytes))
    }

    /// Downstream peer address as `ip:port` (`source.address`).
    pub fn source_address(&self) -> Option<String> {
        self.property_str(&["source", "address"])
    }

    /// Downstream peer IP without the port.
    pub fn source_ip(&self) -> Option<String> {
        let addr = self.source_address()?;
        Some(crate::net::strip_port(&addr).to_string())
    }

    /// `x-request-id` as Envoy tracks it (`request.id`).
    pub fn request_id(&self) -> Option<String> {
        self.property_str(&["request", "id"])
    }

    /// Name of the route the request matched (`xds.route_name`).
    pub fn route_name(&self) -> Option<String> {
        self.property_str(&["xds", "route_name"])
    }

    /// The request's protocol as Envoy names it (`HTTP/1.1`, `HTTP/2`, `HTTP/3`).
    pub fn request_protocol(&self) -> Option<String> {
        self.property_str(&["request", "protocol"])
    }

    /// When the first byte of the request arrived (`request.time`); the
    /// current time where the host does not say.
    pub fn request_start(&self) -> SystemTime {
        match self.property_i64(&["request", "time"]) {
            Some(nanos) if nanos > 0 => UNIX_EPOCH + Duration::from_nanos(nanos.unsigned_abs()),
            _ => self.now(),
        }
    }

    /// An environment variable of the VM. Envoy passes a VM only what
    /// `vm_config.environment_variables` lists (`host_env_keys`, `key_values`).
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.host.env_var(name)
    }

    /// `config.name` of this wasm filter in the Envoy config (`plugin_name`).
    pub fn plugin_name(&self) -> Option<String> {
        self.property_str(&["plugin_name"])
    }

    /// The current value and CAS token of a shared-data key (visible to every
    /// worker's VM of this plugin's `vm_id`).
    pub fn shared_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        match self.host.shared_data(key) {
            Err(HostError::NotFound) => Ok(None),
            other => other,
        }
    }

    /// Writes a shared-data key. With `cas`, fails with [`HostError::CasMismatch`]
    /// if another VM wrote it since it was read.
    pub fn shared_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.host.set_shared_data(key, value, cas)
    }

    /// Read-modify-write of a shared-data key, retried on CAS conflicts.
    ///
    /// `f` gets the current value (`None` if absent) and returns the value to
    /// store (`None`: store nothing) and a result for the caller. It may run
    /// several times, so it must not have side effects. After
    /// [`Env::MAX_CAS_ATTEMPTS`] conflicts, gives up with `CasMismatch`.
    ///
    /// Envoy creates a missing key whatever the CAS says, so two workers that
    /// both find a key missing both create it and the later write wins. When
    /// every update counts, create keys once (for instance at configure time)
    /// before updating them concurrently.
    pub fn shared_update<T>(
        &self,
        key: &str,
        mut f: impl FnMut(Option<&[u8]>) -> (Option<Vec<u8>>, T),
    ) -> Result<T, HostError> {
        for _ in 0..Self::MAX_CAS_ATTEMPTS {
            let current = self.shared_get(key)?;
            let (value, cas) = match &current {
                Some((v, cas)) => (Some(v.as_slice()), Some(*cas)),
                None => (None, None),
            };
            let (next, out) = f(value);
            let Some(next) = next else { return Ok(out) };
            match self.host.set_shared_data(key, &next, cas) {
                Ok(()) => return Ok(out),
                Err(HostError::CasMismatch) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(HostError::CasMismatch)
    }

    pub(crate) fn define(&self, kind: MetricKind, name: &str) -> Result<u32, HostError> {
        self.host.define_metric(kind, name)
    }

    /// Defines (or finds) a counter. Do this once, at configure time.
    pub fn counter(&self, name: &str) -> Result<Counter, HostError> {
        self.define(MetricKind::Counter, name).map(Counter)
    }

    pub fn gauge(&self, name: &str) -> Result<Gauge, HostError> {
        self.define(MetricKind::Gauge, name).map(Gauge)
    }

    pub fn histogram(&self, name: &str) -> Result<Histogram, HostError> {
        self.define(MetricKind::Histogram, name).map(Histogram)
    }
}
