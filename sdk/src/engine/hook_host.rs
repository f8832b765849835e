//! [`HookHost`]: the host as one hook sees it, with header maps and the
//! clock read once per hook.
//!
//! Why: in Envoy's V8 every host call that returns data costs a call into
//! the VM's allocator on top of the call itself, and the edge chain read
//! single headers eight times and the clock twice per request (jwt,
//! ratelimit and headers each asking for what they need). Here a hook's
//! first single-header read of a map goes to the host as itself; the next
//! (or any read of the whole map) fetches the map whole with one call.
//! Later reads in the same hook are answered from that copy, and the
//! filter's own writes are applied to the copy as Envoy applies them to the map (`header_copy.rs`:
//! the map is read in place, the writes kept per name, so a fetch costs no
//! allocation per header).
//!
//! Nothing else can change a header map while the VM runs one hook (Envoy
//! runs one filter at a time on a worker), so the copy stays true until the
//! hook returns, with these exceptions, where it is dropped instead:
//! a switch to another stream's context, a local reply, a resumed or
//! closed stream, a foreign function, a write the host refused, and writes
//! whose effect on the map this file does not model (an `add` to a name
//! already there, pseudo-headers, `host`, which Envoy keeps as `:authority`).
//!
//! The wasm adapter and the test host wrap every hook in one, so the test
//! host counts the host calls a `.wasm` makes. The dynamic module does not:
//! its header reads are plain memory reads through the ABI.

use super::header_copy::HeaderCopy;
use crate::host::{
    BufferType, Direction, GrpcCall, HeaderBuf, Host, HostResult, LogLevel, MapType, MetricKind,
    Pairs,
};
use std::cell::{Cell, RefCell};
use std::time::{Duration, SystemTime};

/// The maps a hook can read, in [`slot`] order.
const MAPS: usize = 6;

fn slot(map: MapType) -> usize {
    match map {
        MapType::RequestHeaders => 0,
        MapType::RequestTrailers => 1,
        MapType::ResponseHeaders => 2,
        MapType::ResponseTrailers => 3,
        MapType::HttpCallResponseHeaders => 4,
        MapType::HttpCallResponseTrailers => 5,
    }
}

/// A [`Host`] for the length of one hook (see the module's documentation).
pub(crate) struct HookHost<'a> {
    inner: &'a dyn Host,
    maps: RefCell<[Option<HeaderCopy>; MAPS]>,
    /// Single-header reads of each map made straight to the host.
    lookups: Cell<[u8; MAPS]>,
    now: Cell<Option<SystemTime>>,
}

/// Single-header reads of a map that go straight to the host before the
/// hook fetches the whole map. Measured in Envoy (`cargo xtask bench`,
/// interleaved A/B against the build without a copy): fetching the map on
/// the first read made `hello` 7% and `headers` 11% slower, since Envoy
/// copies every header out for it; fetching on the second left them 2%
/// and 4% faster and the edge chain, whose members read several headers,
/// 9% faster.
const LOOKUPS_BEFORE_FETCH: u8 = 1;

// Writes go to the host one call each, even when the hook holds a copy
// with several of them applied. Tried and measured (interleaved A/B in
// Envoy, 5 and 7 rounds): holding a hook's writes back and sending the
// copy as the whole map in one `proxy_set_header_map_pairs` took the edge
// chain from 22 host calls to 13, yet its Envoy CPU per request went up
// 18-23% (three-module chain 15-22%, headers 2-3%). The likely reason, read
// from Envoy's source and not profiled: `setHeaderMapPairs` removes every
// header and copies each one back in, more work than the edits it replaces.

impl<'a> HookHost<'a> {
    pub(crate) fn new(inner: &'a dyn Host) -> Self {
        HookHost {
            inner,
            maps: RefCell::new(Default::default()),
            lookups: Cell::new([0; MAPS]),
            now: Cell::new(None),
        }
    }

    /// Runs `f` on the copy of `map`, fetching it first. `None` when the
    /// host would not give the whole map (a map this phase does not have),
    /// or, for a read of one header (`whole` false), when the hook has not
    /// yet read enough single headers of it to make the fetch pay: the
    /// caller then asks the host itself, which answers as it would have.
    fn with_map<T>(
        &self,
        map: MapType,
        whole: bool,
        f: impl FnOnce(&mut HeaderCopy) -> T,
    ) -> Option<T> {
        let mut maps = self.maps.try_borrow_mut().ok()?;
        let at = slot(map);
        let entry = maps.get_mut(at)?;
        if entry.is_none() {
            if !whole {
                let mut lookups = self.lookups.get();
                let seen = lookups.get_mut(at)?;
                if *seen < LOOKUPS_BEFORE_FETCH {
                    *seen += 1;
                    self.lookups.set(lookups);
                    return None;
                }
            }
            *entry = Some(HeaderCopy::new(self.inner.header_map(map).ok()?));
        }
        entry.as_mut().map(f)
    }

    /// Applies a write the host accepted to the copy of `map`, if there is one.
    fn edit(&self, map: MapType, f: impl FnOnce(&mut HeaderCopy)) {
        if let Ok(mut maps) = self.maps.try_borrow_mut() {
            if let Some(Some(copy)) = maps.get_mut(slot(map)) {
                f(copy);
            }
        }
    }

    fn forget(&self, map: MapType) {
        if let Ok(mut maps) = self.maps.try_borrow_mut() {
            if let Some(entry) = maps.get_mut(slot(map)) {
                *entry = None;
            }
        }
    }

    fn forget_all(&self) {
        if let Ok(mut maps) = self.maps.try_borrow_mut() {
            *maps = Default::default();
        }
    }
}

/// Names whose writes Envoy does not apply as a plain entry of that name.
fn unmodelled(name: &str) -> bool {
    name.starts_with(':') || name == "host"
}

impl Host for HookHost<'_> {
    fn log(&self, level: LogLevel, message: &str) {
        self.inner.log(level, message);
    }

    fn log_level(&self) -> LogLevel {
        self.inner.log_level()
    }

    /// One reading per hook: the members of a chain and the parts of one
    /// filter see the same instant, as they would within one native call.
    fn now(&self) -> SystemTime {
        if let Some(now) = self.now.get() {
            return now;
        }
        let now = self.inner.now();
        self.now.set(Some(now));
        now
    }

    fn header_pairs(&self, map: MapType) -> HostResult<Pairs> {
        match self.with_map(map, true, |copy| copy.to_pairs()) {
            Some(pairs) => Ok(pairs),
            None => self.inner.header_pairs(map),
        }
    }

    fn header_map(&self, map: MapType) -> HostResult<HeaderBuf> {
        match self.with_map(map, true, |copy| HeaderBuf::from_pairs(&copy.to_pairs())) {
            Some(buf) => Ok(buf),
            None => self.inner.header_map(map),
        }
    }

    fn each_header(&self, map: MapType, f: &mut dyn FnMut(&str, &[u8])) -> HostResult<()> {
        match self.with_map(map, true, |copy| copy.each(f)) {
            Some(()) => Ok(()),
            None => self.inner.each_header(map, f),
        }
    }

    fn prefetch_headers(&self, map: MapType) {
        let _ = self.with_map(map, true, |_| ());
    }

    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>> {
        if name == "host" {
            // Envoy answers `host` from `:authority` in request maps.
            return self.inner.header(map, name);
        }
        // Envoy's map returns the first value of a repeated header.
        match self.with_map(map, false, |copy| copy.first(name).map(<[u8]>::to_vec)) {
            Some(value) => Ok(value),
            None => self.inner.header(map, name),
        }
    }

    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        let result = self.inner.set_header(map, name, value);
        if result.is_err() || unmodelled(name) {
            self.forget(map);
        } else {
            self.edit(map, |copy| copy.set(name, value));
        }
        result
    }

    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        let result = self.inner.add_header(map, name, value);
        if result.is_err() || unmodelled(name) {
            self.forget(map);
            return result;
        }
        // A new name is appended. To a name already there, Envoy joins the
        // value into the existing entry for its inline headers and appends
        // for the others; which is which is not modelled here.
        let mut joined = false;
        self.edit(map, |copy| {
            if copy.has(name) {
                joined = true;
            } else {
                copy.set(name, value);
            }
        });
        if joined {
            self.forget(map);
        }
        result
    }

    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()> {
        // Removing what is not there changes nothing in Envoy either. Once
        // the copy is there (or the hook's reads say it is worth fetching,
        // see `with_map`), it says whether the name is there; before that
        // the removal goes to the host as itself.
        if !unmodelled(name) && self.with_map(map, false, |copy| copy.has(name)) == Some(false) {
            return Ok(());
        }
        let result = self.inner.remove_header(map, name);
        if result.is_err() || unmodelled(name) {
            self.forget(map);
        } else {
            self.edit(map, |copy| copy.remove(name));
        }
        result
    }

    fn buffer(&self, buffer: BufferType, start: usize, max: usize) -> HostResult<Option<Vec<u8>>> {
        self.inner.buffer(buffer, start, max)
    }

    fn set_buffer(
        &self,
        buffer: BufferType,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        self.inner.set_buffer(buffer, start, size, data)
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        self.inner.property(path)
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        self.inner.set_property(path, value)
    }

    fn send_local_response(
        &self,
        status: u16,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HostResult<()> {
        self.forget_all();
        self.inner
            .send_local_response(status, details, headers, body)
    }

    fn resume(&self, direction: Direction) -> HostResult<()> {
        self.forget_all();
        self.inner.resume(direction)
    }

    fn close_stream(&self, direction: Direction) -> HostResult<()> {
        self.forget_all();
        self.inner.close_stream(direction)
    }

    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Vec<u8>> {
        self.forget_all();
        self.inner.call_foreign_function(name, args)
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        // Every map read after this is another stream's.
        self.forget_all();
        self.inner.set_effective_context(context_id)
    }

    fn http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> HostResult<u32> {
        self.inner.http_call(cluster, headers, body, timeout)
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        self.inner.grpc_call(call)
    }

    fn grpc_status(&self) -> HostResult<(u32, Option<String>)> {
        self.inner.grpc_status()
    }

    fn shared_data(&self, key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
        self.inner.shared_data(key)
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()> {
        self.inner.set_shared_data(key, value, cas)
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        self.inner.define_metric(kind, name)
    }

    fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()> {
        self.inner.increment_metric(id, delta)
    }

    fn record_metric(&self, id: u32, value: u64) -> HostResult<()> {
        self.inner.record_metric(id, value)
    }

    fn metric(&self, id: u32) -> HostResult<u64> {
        self.inner.metric(id)
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        self.inner.set_tick_period(period)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.inner.env_var(name)
    }

    fn monotonic_nanos(&self) -> Option<u64> {
        self.inner.monotonic_nanos()
    }

    fn reaches(&self, context_id: u32) -> bool {
        self.inner.reaches(context_id)
    }

    fn schedule(&self, context_id: u32) -> HostResult<()> {
        self.inner.schedule(context_id)
    }
}
