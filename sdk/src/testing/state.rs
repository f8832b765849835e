//! The fake proxy's state and its [`Host`] implementation, one per simulated VM.

use crate::host::*;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

/// One line logged by a filter or by Portico.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// A local response as the client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub details: String,
}

/// An HTTP callout a filter made, waiting for the test to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCall {
    pub id: u32,
    pub vm: u32,
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// When the call was made (the fake clock).
    pub sent: SystemTime,
    /// For a gRPC call: its service and method (`headers` then hold its
    /// metadata, `body` its request message).
    pub grpc: Option<GrpcTarget>,
    pub(crate) owner: u32,
}

/// The service and method of a gRPC call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcTarget {
    pub service: String,
    pub method: String,
}

impl PendingCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.header(":path").unwrap_or("")
    }
}

#[derive(Default)]
pub(crate) struct StreamData {
    pub maps: HashMap<u8, Vec<(String, Vec<u8>)>>,
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub local: Option<LocalReply>,
    pub resumed: Vec<Direction>,
    pub properties: HashMap<String, Vec<u8>>,
    /// Maps Envoy's wasm host no longer shows the filter (by `map_key`): a
    /// headers or trailers map is gone once its phase returned `Continue`
    /// (request headers also once the request is resumed); `on_done` sees
    /// the request and response headers and the response trailers again.
    pub hidden: HashSet<u8>,
    /// During this stream's phase the filter answered another stream
    /// locally (woken with `wake`): Envoy stops this stream too.
    pub stopped_by_reply_to: Option<u32>,
    /// Why this stream was stopped that way, for `Exchange::held`.
    pub stop_note: Option<String>,
    /// What the filter set with `set_property`, by Envoy's filter-state key.
    pub filter_state: HashMap<String, Vec<u8>>,
    /// The filter reset the stream (`Stream::reset`).
    pub reset_by_filter: bool,
    /// Times the filter cleared the route cache.
    pub route_cache_cleared: u32,
}

pub(crate) struct Metric {
    pub kind: MetricKind,
    pub name: String,
    pub value: i64,
}

pub(crate) struct Tick {
    pub period: Duration,
    pub next: SystemTime,
}

/// A callout reply being delivered.
pub(crate) struct CallReply {
    /// With `:status`.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, Vec<u8>)>,
    /// For a gRPC reply: the status code and message it closed with.
    pub grpc_status: (u32, Option<String>),
}

pub(crate) struct HostState {
    pub now: SystemTime,
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    pub next_cas: u32,
    pub metrics: Vec<Metric>,
    pub logs: Vec<LogLine>,
    pub clusters: HashSet<String>,
    pub calls: BTreeMap<u32, PendingCall>,
    /// Every callout made, answered or not, in order.
    pub calls_made: Vec<PendingCall>,
    pub next_token: u32,
    pub next_context: u32,
    pub streams: HashMap<u32, StreamData>,
    pub properties: HashMap<String, Vec<u8>>,
    pub env: HashMap<String, String>,
    pub ticks: HashMap<u32, Tick>,
    /// The callout reply being delivered: headers and body.
    pub call_reply: Option<CallReply>,
    pub plugin_config: HashMap<u32, Vec<u8>>,
    /// Forces the next `set_shared_data` with a CAS to fail, to test conflicts.
    pub injected_cas_conflicts: u32,
    /// Host calls made, by [`Host`] method name; see `TestHost::host_calls`.
    pub host_calls: BTreeMap<&'static str, u64>,
}

pub(crate) fn map_key(map: MapType) -> u8 {
    map as u8
}

/// A property's key as the path's segments: `["request", "path"]` and
/// `["request.path"]` are different properties, as in Envoy.
pub(crate) fn property_key(path: &[&str]) -> String {
    path.join("\0")
}

/// The [`Host`] seen by one simulated VM.
pub(crate) struct VmHost {
    pub state: Rc<RefCell<HostState>>,
    pub vm: u32,
    pub root: u32,
    /// The context host calls act on (`set_effective_context` changes it).
    pub current: Cell<u32>,
    /// The context the host is dispatching to; callout replies return here,
    /// as proxy-wasm's dispatcher does.
    pub dispatching: Cell<u32>,
}

impl VmHost {
    fn tally(&self, call: &'static str) {
        *self.state.borrow_mut().host_calls.entry(call).or_insert(0) += 1;
    }

    fn with_stream<T>(&self, f: impl FnOnce(&mut StreamData) -> HostResult<T>) -> HostResult<T> {
        let mut state = self.state.borrow_mut();
        let stream = state
            .streams
            .get_mut(&self.current.get())
            .ok_or(HostError::BadArgument)?;
        f(stream)
    }

    fn map_mut<T>(
        &self,
        map: MapType,
        f: impl FnOnce(&mut Vec<(String, Vec<u8>)>) -> T,
    ) -> HostResult<T> {
        if matches!(
            map,
            MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers
        ) {
            return Err(HostError::BadArgument);
        }
        self.with_stream(|s| {
            if s.hidden.contains(&map_key(map)) {
                return Err(HostError::BadArgument);
            }
            // Like Envoy, a map that has not arrived yet cannot be used.
            let m = s
                .maps
                .get_mut(&map_key(map))
                .ok_or(HostError::BadArgument)?;
            Ok(f(m))
        })
    }

    fn read_map(&self, map: MapType) -> HostResult<Vec<(String, Vec<u8>)>> {
        match map {
            MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => {
                let state = self.state.borrow();
                let reply = state.call_reply.as_ref().ok_or(HostError::BadArgument)?;
                Ok(if map == MapType::HttpCallResponseHeaders {
                    reply.headers.clone()
                } else {
                    reply.trailers.clone()
                })
            }
            other => self.map_mut(other, |m| m.clone()),
        }
    }
}

fn is_request_map(map: MapType) -> bool {
    matches!(map, MapType::RequestHeaders | MapType::RequestTrailers)
}

/// Headers Envoy keeps in one "inline" slot: a repeated one is joined to
/// the first with `,` (when parsed and when a filter adds one), so a filter
/// sees one value. Other headers stay repeated (`cookie` included).
pub(crate) const INLINE_MERGED: &[&str] = &[
    "accept",
    "accept-encoding",
    "authorization",
    "cache-control",
    "content-type",
    "origin",
    "referer",
    "user-agent",
    "via",
    "x-forwarded-for",
    "x-forwarded-proto",
];

/// Adds a header as Envoy's header map does: joined to an inline header
/// already present, appended otherwise.
pub(crate) fn add_merging(m: &mut Vec<(String, Vec<u8>)>, name: &str, value: &[u8]) {
    if INLINE_MERGED.contains(&name) {
        if let Some((_, existing)) = m.iter_mut().find(|(k, _)| k == name) {
            existing.push(b',');
            existing.extend_from_slice(value);
            return;
        }
    }
    insert_header(m, name, value.to_vec());
}

/// Where Envoy's map puts an added header: a pseudo-header after the other
/// pseudo-headers, anything else at the end.
pub(crate) fn insert_header<V>(m: &mut Vec<(String, V)>, name: &str, value: V) {
    let at = if name.starts_with(':') {
        m.iter()
            .position(|(k, _)| !k.starts_with(':'))
            .unwrap_or(m.len())
    } else {
        m.len()
    };
    m.insert(at, (name.to_string(), value));
}

fn check_header_name(name: &str) -> HostResult<()> {
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
        // Portico lower-cases names before calling the host; anything else is a bug.
        return Err(HostError::BadArgument);
    }
    Ok(())
}

impl Host for VmHost {
    fn log(&self, level: LogLevel, message: &str) {
        self.tally("log");
        let mut state = self.state.borrow_mut();
        super::flush_captured(&mut state.logs);
        state.logs.push(LogLine {
            level,
            message: message.to_string(),
        });
    }

    fn log_level(&self) -> LogLevel {
        self.tally("log_level");
        LogLevel::Trace
    }

    fn now(&self) -> SystemTime {
        self.tally("now");
        self.state.borrow().now
    }

    fn header_pairs(&self, map: MapType) -> HostResult<Pairs> {
        self.tally("header_pairs");
        self.read_map(map)
    }

    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>> {
        self.tally("header");
        let pairs = self.read_map(map)?;
        // Envoy keeps HTTP/1's `host` as `:authority` and finds it by either name.
        let name = if name == "host" && is_request_map(map) {
            ":authority"
        } else {
            name
        };
        Ok(pairs
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v))
    }

    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        self.tally("set_header");
        check_header_name(name)?;
        self.map_mut(map, |m| {
            // Envoy's setCopy removes every value and adds the new one where
            // an added header goes: a name that was there moves to the end
            // (pinned by the `order-set-*` conformance scenarios).
            m.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            insert_header(m, name, value.to_vec());
        })
    }

    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        self.tally("add_header");
        check_header_name(name)?;
        self.map_mut(map, |m| add_merging(m, name, value))
    }

    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()> {
        self.tally("remove_header");
        self.map_mut(map, |m| m.retain(|(k, _)| !k.eq_ignore_ascii_case(name)))
    }

    fn buffer(&self, buffer: BufferType, start: usize, max: usize) -> HostResult<Option<Vec<u8>>> {
        self.tally("buffer");
        let slice = |data: &[u8]| {
            let end = start.saturating_add(max).min(data.len());
            data.get(start.min(end)..end).map(<[u8]>::to_vec)
        };
        match buffer {
            BufferType::HttpCallResponseBody | BufferType::GrpcReceiveBuffer => {
                let state = self.state.borrow();
                let reply = state.call_reply.as_ref().ok_or(HostError::BadArgument)?;
                Ok(slice(&reply.body))
            }
            BufferType::PluginConfiguration => {
                let state = self.state.borrow();
                Ok(state.plugin_config.get(&self.vm).and_then(|c| slice(c)))
            }
            BufferType::RequestBody => self.with_stream(|s| Ok(slice(&s.request_body))),
            BufferType::ResponseBody => self.with_stream(|s| Ok(slice(&s.response_body))),
        }
    }

    fn set_buffer(
        &self,
        buffer: BufferType,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        self.tally("set_buffer");
        self.with_stream(|s| {
            let body = match buffer {
                BufferType::RequestBody => &mut s.request_body,
                BufferType::ResponseBody => &mut s.response_body,
                _ => return Err(HostError::BadArgument),
            };
            // As Envoy's wasm host: replace a prefix (drain `size`, then
            // prepend), or append at or past the end; nothing in between.
            if start == 0 {
                let end = size.min(body.len());
                body.splice(0..end, data.iter().copied());
                Ok(())
            } else if start >= body.len() {
                body.extend_from_slice(data);
                Ok(())
            } else {
                Err(HostError::BadArgument)
            }
        })
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.tally("env_var");
        self.state.borrow().env.get(name).cloned()
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        self.tally("property");
        let key = property_key(path);
        let state = self.state.borrow();
        let stream = state.streams.get(&self.current.get());
        if let Some(v) = stream.and_then(|s| s.properties.get(&key)) {
            return Ok(Some(v.clone()));
        }
        // Envoy's request attributes, from the request as it stands.
        let header = |name: &str| {
            stream
                .and_then(|s| s.maps.get(&map_key(MapType::RequestHeaders)))
                .and_then(|m| m.iter().find(|(k, _)| k == name))
                .map(|(_, v)| v.clone())
        };
        let derived = match path {
            ["request", "path"] => header(":path"),
            ["request", "url_path"] => header(":path").map(|p| {
                let end = p.iter().position(|b| *b == b'?').unwrap_or(p.len());
                p.get(..end).map(<[u8]>::to_vec).unwrap_or_default()
            }),
            ["request", "method"] => header(":method"),
            ["request", "host"] => header(":authority"),
            ["request", "scheme"] => header(":scheme"),
            ["request", "referer"] => header("referer"),
            ["request", "useragent"] => header("user-agent"),
            ["request", "id"] => header("x-request-id"),
            _ => None,
        };
        if derived.is_some() {
            return Ok(derived);
        }
        if let Some(v) = state.properties.get(&key) {
            return Ok(Some(v.clone()));
        }
        // What the filter set: Envoy looks a one-segment path up in the
        // stream's filter state as `wasm.<segment>`.
        Ok(match path {
            [name] => stream
                .and_then(|s| s.filter_state.get(&format!("wasm.{name}")))
                .cloned(),
            _ => None,
        })
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        self.tally("set_property");
        // Envoy stores it in the stream's filter state under `wasm.` and the
        // path as the ABI carries it (segments joined by NUL), whatever the
        // path names: a request attribute is not changed.
        let key = format!("wasm.{}", path.join("\0"));
        self.with_stream(|s| {
            s.filter_state.insert(key, value.to_vec());
            Ok(())
        })
    }

    fn send_local_response(
        &self,
        status: u16,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HostResult<()> {
        self.tally("send_local_response");
        let (current, dispatching) = (self.current.get(), self.dispatching.get());
        if current != dispatching && dispatching != self.root {
            // Envoy's wasm host stops the VM call in progress after a local
            // reply, whichever stream the reply was for.
            if let Some(d) = self.state.borrow_mut().streams.get_mut(&dispatching) {
                d.stopped_by_reply_to = Some(current);
            }
        }
        self.with_stream(|s| {
            if s.local.is_some() {
                return Err(HostError::BadArgument);
            }
            s.local = Some(LocalReply {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
                details: details.to_string(),
            });
            Ok(())
        })
    }

    fn resume(&self, direction: Direction) -> HostResult<()> {
        self.tally("resume");
        self.with_stream(|s| {
            if direction == Direction::Request {
                s.hidden.insert(map_key(MapType::RequestHeaders));
            }
            s.resumed.push(direction);
            Ok(())
        })
    }

    fn close_stream(&self, _direction: Direction) -> HostResult<()> {
        self.tally("close_stream");
        self.with_stream(|s| {
            s.reset_by_filter = true;
            Ok(())
        })
    }

    fn call_foreign_function(&self, name: &str, _args: &[u8]) -> HostResult<Vec<u8>> {
        self.tally("call_foreign_function");
        match name {
            // Envoy picks the route again when the request goes on; the
            // test host has no routes, so it counts the calls.
            "clear_route_cache" => self.with_stream(|s| {
                s.route_cache_cleared += 1;
                Ok(Vec::new())
            }),
            _ => Err(HostError::NotFound),
        }
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        self.tally("set_effective_context");
        let known =
            context_id == self.root || self.state.borrow().streams.contains_key(&context_id);
        if !known {
            return Err(HostError::BadArgument);
        }
        self.current.set(context_id);
        Ok(())
    }

    fn http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> HostResult<u32> {
        self.tally("http_call");
        let mut state = self.state.borrow_mut();
        // Envoy refuses unknown clusters and calls missing these pseudo-headers.
        if !state.clusters.contains(cluster) {
            return Err(HostError::BadArgument);
        }
        for required in [":method", ":path", ":authority"] {
            if !headers.iter().any(|(k, _)| *k == required) {
                return Err(HostError::BadArgument);
            }
        }
        state.next_token += 1;
        let id = state.next_token;
        let sent = state.now;
        let call = PendingCall {
            id,
            vm: self.vm,
            cluster: cluster.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            timeout,
            sent,
            grpc: None,
            owner: self.dispatching.get(),
        };
        state.calls_made.push(call.clone());
        state.calls.insert(id, call);
        Ok(id)
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        self.tally("grpc_call");
        let mut state = self.state.borrow_mut();
        // Envoy 1.40 refuses a gRPC call to a cluster it does not know at
        // once, with an internal failure (HTTP callouts: bad argument).
        if !state.clusters.contains(call.cluster) {
            return Err(HostError::InternalFailure);
        }
        state.next_token += 1;
        let id = state.next_token;
        let pending = PendingCall {
            id,
            vm: self.vm,
            cluster: call.cluster.to_string(),
            headers: call
                .metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: call.message.to_vec(),
            timeout: call.timeout,
            sent: state.now,
            grpc: Some(GrpcTarget {
                service: call.service.to_string(),
                method: call.method.to_string(),
            }),
            owner: self.dispatching.get(),
        };
        state.calls_made.push(pending.clone());
        state.calls.insert(id, pending);
        Ok(id)
    }

    fn grpc_status(&self) -> HostResult<(u32, Option<String>)> {
        self.tally("grpc_status");
        let state = self.state.borrow();
        let reply = state.call_reply.as_ref().ok_or(HostError::BadArgument)?;
        Ok(reply.grpc_status.clone())
    }

    fn shared_data(&self, key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
        self.tally("shared_data");
        Ok(self.state.borrow().shared.get(key).cloned())
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()> {
        self.tally("set_shared_data");
        let mut state = self.state.borrow_mut();
        if cas.is_some() && state.injected_cas_conflicts > 0 {
            state.injected_cas_conflicts -= 1;
            return Err(HostError::CasMismatch);
        }
        // Envoy's rule: an existing key needs a matching CAS (0 = any); a
        // missing key is created whatever the CAS.
        if let (Some((_, current)), Some(cas)) = (state.shared.get(key), cas) {
            if cas != 0 && cas != *current {
                return Err(HostError::CasMismatch);
            }
        }
        state.next_cas = state.next_cas.wrapping_add(1).max(1);
        let next = state.next_cas;
        state.shared.insert(key.to_string(), (value.to_vec(), next));
        Ok(())
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        self.tally("define_metric");
        let mut state = self.state.borrow_mut();
        if let Some(i) = state.metrics.iter().position(|m| m.name == name) {
            let existing = state.metrics.get(i).map(|m| m.kind);
            if existing != Some(kind) {
                return Err(HostError::BadArgument);
            }
            return u32::try_from(i).map_err(|_| HostError::BadArgument);
        }
        state.metrics.push(Metric {
            kind,
            name: name.to_string(),
            value: 0,
        });
        u32::try_from(state.metrics.len() - 1).map_err(|_| HostError::BadArgument)
    }

    fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()> {
        self.tally("increment_metric");
        let mut state = self.state.borrow_mut();
        let metric = state
            .metrics
            .get_mut(id as usize)
            .ok_or(HostError::NotFound)?;
        if metric.kind == MetricKind::Histogram {
            return Err(HostError::BadArgument);
        }
        if metric.kind == MetricKind::Counter && delta < 0 {
            return Err(HostError::BadArgument);
        }
        metric.value = metric.value.saturating_add(delta);
        Ok(())
    }

    fn record_metric(&self, id: u32, value: u64) -> HostResult<()> {
        self.tally("record_metric");
        let mut state = self.state.borrow_mut();
        let metric = state
            .metrics
            .get_mut(id as usize)
            .ok_or(HostError::NotFound)?;
        match metric.kind {
            MetricKind::Counter => return Err(HostError::BadArgument),
            // The test host keeps the last recorded value of a histogram.
            MetricKind::Gauge | MetricKind::Histogram => {
                metric.value = i64::try_from(value).unwrap_or(i64::MAX)
            }
        }
        Ok(())
    }

    fn metric(&self, id: u32) -> HostResult<u64> {
        self.tally("metric");
        let state = self.state.borrow();
        let metric = state.metrics.get(id as usize).ok_or(HostError::NotFound)?;
        Ok(u64::try_from(metric.value).unwrap_or(0))
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        self.tally("set_tick_period");
        let mut state = self.state.borrow_mut();
        if period.is_zero() {
            state.ticks.remove(&self.vm);
        } else {
            let next = state.now + period;
            state.ticks.insert(self.vm, Tick { period, next });
        }
        Ok(())
    }
}
