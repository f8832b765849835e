//! [`HookHost`]: the host as one hook sees it, with each header map read
//! once, its writes made once, and the clock read once per hook.
//!
//! Why: in Envoy's V8 every host call costs about a microsecond, and the
//! edge chain made 32 per request: jwt, ratelimit and headers each reading
//! the single headers they need (8), the clock (2), and writing headers
//! one call at a time (11). Here:
//! - the first read of a map fetches it whole with one call; later reads
//!   in the same hook, by any filter of a chain, are answered from that copy
//!   (`header_copy.rs`: read in place, no allocation per header);
//! - writes to a map the hook holds change the copy, as Envoy would change
//!   the map, and are made on the host when the hook returns (or earlier,
//!   see below): one write as itself, several as one
//!   `proxy_set_header_map_pairs` with the map they add up to;
//! - removing a header the copy does not have makes no call at all.
//!
//! Nothing else can change a header map while the VM runs one hook (Envoy
//! runs one filter at a time on a worker), so the copy stays true until the
//! hook returns. The held writes are made first, and the copy dropped,
//! before anything that could see or change the maps otherwise: a switch to
//! another stream's context, a local reply, a resumed or closed stream, a
//! foreign function; and the writes are made before a `request.*` or
//! `response.*` attribute is read (Envoy computes some from the headers).
//! Writes this file does not model go straight to the host and drop the
//! copy: an `add` to a name already there (Envoy joins some into one
//! entry), pseudo-headers, and `host` (Envoy keeps it as `:authority`).
//!
//! The wasm adapter and the test host wrap every hook in one, so the test
//! host counts the host calls a `.wasm` makes. The dynamic module does not:
//! its header reads are plain memory reads through the ABI.

use super::header_copy::{HeaderCopy, Write};
use crate::host::{
    BufferType, Direction, GrpcCall, HeaderBuf, Host, HostError, HostResult, LogLevel, MapType,
    MetricKind, Pairs,
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
    now: Cell<Option<SystemTime>>,
}

impl<'a> HookHost<'a> {
    pub(crate) fn new(inner: &'a dyn Host) -> Self {
        HookHost {
            inner,
            maps: RefCell::new(Default::default()),
            now: Cell::new(None),
        }
    }

    /// The copy of `map`, fetched if need be. `None` when the host would
    /// not give the whole map (a map this phase does not have).
    fn fetch<'s>(
        &self,
        slot: &'s mut Option<HeaderCopy>,
        map: MapType,
    ) -> Option<&'s mut HeaderCopy> {
        if slot.is_none() {
            *slot = Some(HeaderCopy::new(self.inner.header_map(map).ok()?));
        }
        slot.as_mut()
    }

    /// Runs `f` on the copy of `map` (see [`Self::fetch`]); `None` when there
    /// is none: the caller then asks the host itself, which answers as it
    /// would have.
    fn with_map<T>(&self, map: MapType, f: impl FnOnce(&mut HeaderCopy) -> T) -> Option<T> {
        let mut maps = self.maps.try_borrow_mut().ok()?;
        let slot = maps.get_mut(slot(map))?;
        self.fetch(slot, map).map(f)
    }

    /// Holds `write` for the host on the copy of `map`, if the hook has one.
    /// False when it must be made now: there is no copy (whether the phase
    /// has the map at all, only the host can say), or the copy cannot model
    /// it (see [`HeaderCopy::apply`]).
    fn hold(&self, map: MapType, write: Write) -> bool {
        let Ok(mut maps) = self.maps.try_borrow_mut() else {
            return false;
        };
        match maps.get_mut(slot(map)) {
            Some(Some(copy)) => copy.apply(write),
            _ => false,
        }
    }

    /// Makes the writes held for `map` on the host: one write as itself,
    /// several as one replacement of the whole map with what they add up to
    /// (one host call). The copy stays: it is what the host now has.
    fn flush(&self, map: MapType) {
        let (writes, pairs) = {
            let Ok(mut maps) = self.maps.try_borrow_mut() else {
                return;
            };
            let Some(Some(copy)) = maps.get_mut(slot(map)) else {
                return;
            };
            let writes = std::mem::take(&mut copy.pending);
            let pairs = (writes.len() > 1).then(|| copy.to_pairs());
            (writes, pairs)
        };
        if writes.is_empty() {
            return;
        }
        let result = match pairs {
            Some(pairs) => match self.inner.set_header_map(map, &pairs) {
                Err(HostError::Unimplemented) => self.replay(map, &writes),
                other => other,
            },
            None => self.replay(map, &writes),
        };
        if let Err(err) = result {
            self.refused(map, writes.len(), err);
            self.drop_copy(map);
        }
    }

    fn replay(&self, map: MapType, writes: &[Write]) -> HostResult<()> {
        for write in writes {
            match write {
                Write::Set(name, value) => self.inner.set_header(map, name, value)?,
                Write::Add(name, value) => self.inner.add_header(map, name, value)?,
                Write::Remove(name) => self.inner.remove_header(map, name)?,
            }
        }
        Ok(())
    }

    fn refused(&self, map: MapType, count: usize, err: HostError) {
        self.inner.log(
            LogLevel::Warn,
            &format!("portico: {count} header change(s) to {map:?} refused: {err}"),
        );
    }

    fn drop_copy(&self, map: MapType) {
        if let Ok(mut maps) = self.maps.try_borrow_mut() {
            if let Some(entry) = maps.get_mut(slot(map)) {
                *entry = None;
            }
        }
    }

    /// Makes the held writes and drops the copy: what follows may change
    /// the map in ways the copy does not model.
    fn forget(&self, map: MapType) {
        self.flush(map);
        self.drop_copy(map);
    }

    fn flush_all(&self) {
        for map in ALL_MAPS {
            self.flush(map);
        }
    }

    fn forget_all(&self) {
        for map in ALL_MAPS {
            self.forget(map);
        }
    }
}

impl Drop for HookHost<'_> {
    /// The hook is returning to the host: its writes are made now, before
    /// Envoy goes on with the stream.
    fn drop(&mut self) {
        self.flush_all();
    }
}

const ALL_MAPS: [MapType; MAPS] = [
    MapType::RequestHeaders,
    MapType::RequestTrailers,
    MapType::ResponseHeaders,
    MapType::ResponseTrailers,
    MapType::HttpCallResponseHeaders,
    MapType::HttpCallResponseTrailers,
];

/// Attributes Envoy reads from the stream's header maps (`request.path`,
/// `request.headers`, `response.code`, ...): the held writes are made
/// before one is read or written.
fn reads_headers(path: &[&str]) -> bool {
    matches!(path.first(), Some(&("request" | "response")))
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
        match self.with_map(map, |copy| copy.to_pairs()) {
            Some(pairs) => Ok(pairs),
            None => self.inner.header_pairs(map),
        }
    }

    fn header_map(&self, map: MapType) -> HostResult<HeaderBuf> {
        match self.with_map(map, |copy| HeaderBuf::from_pairs(&copy.to_pairs())) {
            Some(buf) => Ok(buf),
            None => self.inner.header_map(map),
        }
    }

    fn each_header(&self, map: MapType, f: &mut dyn FnMut(&str, &[u8])) -> HostResult<()> {
        match self.with_map(map, |copy| copy.each(f)) {
            Some(()) => Ok(()),
            None => self.inner.each_header(map, f),
        }
    }

    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>> {
        if name == "host" {
            // Envoy answers `host` from `:authority` in request maps.
            return self.inner.header(map, name);
        }
        // Envoy's map returns the first value of a repeated header.
        match self.with_map(map, |copy| copy.first(name).map(<[u8]>::to_vec)) {
            Some(value) => Ok(value),
            None => self.inner.header(map, name),
        }
    }

    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        let write = Write::Set(name.to_string(), value.to_vec());
        if !unmodelled(name) && self.hold(map, write) {
            return Ok(());
        }
        self.forget(map);
        self.inner.set_header(map, name, value)
    }

    fn set_header_map(&self, map: MapType, pairs: &Pairs) -> HostResult<()> {
        self.forget(map);
        self.inner.set_header_map(map, pairs)
    }

    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        let write = Write::Add(name.to_string(), value.to_vec());
        if !unmodelled(name) && self.hold(map, write) {
            return Ok(());
        }
        self.forget(map);
        self.inner.add_header(map, name, value)
    }

    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()> {
        // Removing what is not there changes nothing in Envoy either. The
        // map is fetched to know: one call, as the removal would have been,
        // and the copy then answers the reads that usually follow.
        if !unmodelled(name)
            && self.with_map(map, |_| ()).is_some()
            && self.hold(map, Write::Remove(name.to_string()))
        {
            return Ok(());
        }
        self.forget(map);
        self.inner.remove_header(map, name)
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
        if reads_headers(path) {
            self.flush_all();
        }
        self.inner.property(path)
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        if reads_headers(path) {
            self.flush_all();
        }
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
