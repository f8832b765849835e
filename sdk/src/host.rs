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
    /// Calls `f` with every header of `map`, in order: what
    /// [`Host::header_pairs`] returns, without copying it where the host
    /// already holds a copy (see `engine::HookHost`).
    fn each_header(&self, map: MapType, f: &mut dyn FnMut(&str, &[u8])) -> HostResult<()> {
        for (k, v) in self.header_pairs(map)? {
            f(&k, &v);
        }
        Ok(())
    }
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
