//! The one seam between Portico and the proxy.
//!
//! Everything the SDK asks of Envoy goes through [`Host`]. In a `.wasm` it is
//! implemented over the proxy-wasm ABI (`env.proxy_*` imports); in native
//! tests it is [`crate::testing::TestHost`]. Filters never see this trait:
//! they use the typed views ([`crate::Stream`], [`crate::Env`], ...) built on it.
//!
//! Every call returns a `Result`: the ABI wrappers of the upstream crate abort
//! the VM on an unexpected status, and a dead VM fails every request of a worker.

use std::time::{Duration, SystemTime};

/// Header maps of the ABI (values are the ABI's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapType {
    RequestHeaders = 0,
    RequestTrailers = 1,
    ResponseHeaders = 2,
    ResponseTrailers = 3,
    HttpCallResponseHeaders = 6,
    HttpCallResponseTrailers = 7,
}

/// Buffers of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferType {
    RequestBody = 0,
    ResponseBody = 1,
    HttpCallResponseBody = 4,
    GrpcReceiveBuffer = 5,
    PluginConfiguration = 7,
}

/// Metric kinds of the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

/// Log levels of the ABI, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

/// Which direction of a stream to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// A host call that did not succeed. Mirrors the ABI's `WasmResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// The key, property or map entry does not exist.
    NotFound,
    /// The host refused the arguments, e.g. a header map that is not
    /// available in the current phase.
    BadArgument,
    /// Shared data changed since it was read.
    CasMismatch,
    /// The host could not serialize the property.
    SerializationFailure,
    /// The host does not implement the call.
    Unimplemented,
    /// The host could not carry the call out (a gRPC call to a cluster it
    /// does not know, for one).
    InternalFailure,
    /// Any other status, with its ABI number.
    Other(u32),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::NotFound => f.write_str("not found"),
            HostError::BadArgument => f.write_str("bad argument"),
            HostError::CasMismatch => f.write_str("compare-and-swap mismatch"),
            HostError::SerializationFailure => f.write_str("serialization failure"),
            HostError::Unimplemented => f.write_str("not implemented by the host"),
            HostError::InternalFailure => f.write_str("internal failure"),
            HostError::Other(code) => write!(f, "host status {code}"),
        }
    }
}

impl std::error::Error for HostError {}

pub type HostResult<T> = Result<T, HostError>;

/// Header name/value pairs as the ABI carries them.
pub type Pairs = Vec<(String, Vec<u8>)>;

/// A unary gRPC call as the host takes it.
#[derive(Debug, Clone, Copy)]
pub struct GrpcCall<'a> {
    pub cluster: &'a str,
    /// The fully qualified service, `package.Service`.
    pub service: &'a str,
    pub method: &'a str,
    /// Initial metadata (request headers of the call).
    pub metadata: &'a [(&'a str, &'a str)],
    /// The serialized request message.
    pub message: &'a [u8],
    pub timeout: Duration,
}

/// What Portico needs from the proxy. One implementation per environment.
pub trait Host {
    fn log(&self, level: LogLevel, message: &str);
    fn log_level(&self) -> LogLevel;
    fn now(&self) -> SystemTime;

    fn header_pairs(&self, map: MapType) -> HostResult<Pairs>;
    /// The whole map, indexed in place: what [`Host::header_pairs`]
    /// returns, without an allocation per pair where the host can avoid it.
    fn header_map(&self, map: MapType) -> HostResult<HeaderBuf> {
        self.header_pairs(map).map(|p| HeaderBuf::from_pairs(&p))
    }
    /// Calls `f` with every header of `map`, in order: what
    /// [`Host::header_pairs`] returns, without copying it where the host
    /// already holds a copy (see `engine::HookHost`).
    fn each_header(&self, map: MapType, f: &mut dyn FnMut(&str, &[u8])) -> HostResult<()> {
        for (k, v) in self.header_pairs(map)? {
            f(&k, &v);
        }
        Ok(())
    }
    /// A hint that the caller is about to read several headers of `map`:
    /// a host that answers reads from a copy (`engine::HookHost`) takes it
    /// now, in one call, so even the first read is answered from it. Others
    /// have nothing to do.
    fn prefetch_headers(&self, _map: MapType) {}
    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>>;
    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()>;
    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()>;
    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()>;

    fn buffer(&self, buffer: BufferType, start: usize, max: usize) -> HostResult<Option<Vec<u8>>>;
    fn set_buffer(
        &self,
        buffer: BufferType,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()>;

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>>;
    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()>;

    fn send_local_response(
        &self,
        status: u16,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HostResult<()>;
    fn resume(&self, direction: Direction) -> HostResult<()>;
    /// Resets the stream (Envoy's `proxy_close_stream`): the client gets no
    /// response, or a cut one.
    fn close_stream(&self, direction: Direction) -> HostResult<()>;
    /// One of the proxy's named extensions (Envoy's "foreign functions",
    /// such as `clear_route_cache`), with its serialized arguments.
    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Vec<u8>>;
    /// Makes later calls act on another context of this VM (a stream woken
    /// from the root, or back to the root).
    fn set_effective_context(&self, context_id: u32) -> HostResult<()>;

    /// Starts an HTTP call; its reply arrives through the runtime's
    /// `on_http_call_response` on the context that made it.
    fn http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> HostResult<u32>;

    /// Starts a unary gRPC call to `service`/`method` on an Envoy cluster;
    /// its reply arrives through the engine's `on_grpc_call_response` on the
    /// context that made it.
    fn grpc_call(&self, call: &GrpcCall<'_>) -> HostResult<u32>;
    /// The status code and message of the gRPC reply being delivered.
    fn grpc_status(&self) -> HostResult<(u32, Option<String>)>;

    /// The value and its CAS token, `None` when absent.
    fn shared_data(&self, key: &str) -> HostResult<Option<(Vec<u8>, u32)>>;
    /// `cas` of `None` writes unconditionally. As in Envoy, a key that does not
    /// exist yet is created whatever `cas` says.
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()>;

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32>;
    fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()>;
    fn record_metric(&self, id: u32, value: u64) -> HostResult<()>;
    fn metric(&self, id: u32) -> HostResult<u64>;

    /// Zero stops the tick.
    fn set_tick_period(&self, period: Duration) -> HostResult<()>;

    /// An environment variable of the VM (Envoy passes only those listed in
    /// `vm_config.environment_variables`).
    fn env_var(&self, name: &str) -> Option<String>;

    /// Whether the current call may act on stream `context_id` directly
    /// (through [`Host::set_effective_context`]). A host whose streams live
    /// on other threads (a dynamic module: one filter instance for every
    /// worker) answers false for a stream this thread does not own now;
    /// the engine then keeps the work and asks [`Host::schedule`].
    /// Nanoseconds on a clock that never steps back, shared by every
    /// worker; `None` where the host has none to offer through this seam
    /// (a `.wasm` reads WASI's monotonic clock itself).
    fn monotonic_nanos(&self) -> Option<u64> {
        None
    }

    fn reaches(&self, _context_id: u32) -> bool {
        true
    }

    /// Asks the host to call stream `context_id` back on its own thread,
    /// where the engine runs the work it kept for it.
    fn schedule(&self, _context_id: u32) -> HostResult<()> {
        Err(HostError::Unimplemented)
    }
}

/// A header map as the proxy-wasm ABI encodes it (a `u32` count, a `u32`
/// key and value length per pair, then each key and value followed by a
/// NUL), read in place: one buffer and an index of where each pair lies,
/// instead of two allocations per pair. See [`Host::header_map`].
#[derive(Debug, Clone, Default)]
pub struct HeaderBuf {
    data: Vec<u8>,
    /// Per pair: key start, key end, value start, value end.
    index: Vec<[usize; 4]>,
}

impl HeaderBuf {
    /// Indexes an encoded map. `None` if a length points outside the
    /// buffer (data from the host is checked, never trusted).
    pub fn decode(data: Vec<u8>) -> Option<HeaderBuf> {
        if data.is_empty() {
            return Some(HeaderBuf::default());
        }
        let read = |at: usize| -> Option<usize> {
            let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
            usize::try_from(u32::from_le_bytes(bytes)).ok()
        };
        let count = read(0)?;
        // Each pair needs at least 10 bytes; refuse counts the buffer cannot hold.
        if count > data.len() / 10 + 1 {
            return None;
        }
        let mut index = Vec::with_capacity(count);
        let mut pos = 4usize.checked_add(count.checked_mul(8)?)?;
        for i in 0..count {
            let at = 4 + i * 8;
            let (klen, vlen) = (read(at)?, read(at + 4)?);
            let key = (pos, pos.checked_add(klen)?);
            pos = key.1.checked_add(1)?;
            let value = (pos, pos.checked_add(vlen)?);
            pos = value.1.checked_add(1)?;
            if value.1 > data.len() {
                return None;
            }
            index.push([key.0, key.1, value.0, value.1]);
        }
        Some(HeaderBuf { data, index })
    }

    /// Encodes owned pairs (for hosts that hold their maps as pairs).
    pub fn from_pairs(pairs: &[(String, Vec<u8>)]) -> HeaderBuf {
        let mut data = Vec::new();
        let mut index = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let ks = data.len();
            data.extend_from_slice(k.as_bytes());
            let vs = data.len();
            data.extend_from_slice(v);
            index.push([ks, vs, vs, data.len()]);
        }
        HeaderBuf { data, index }
    }

    /// The pairs in order, as bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.index.iter().filter_map(|[ks, ke, vs, ve]| {
            Some((self.data.get(*ks..*ke)?, self.data.get(*vs..*ve)?))
        })
    }

    /// Owned pairs; a key that is not UTF-8 is read lossily.
    pub fn to_pairs(&self) -> Pairs {
        self.iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_vec()))
            .collect()
    }
}
