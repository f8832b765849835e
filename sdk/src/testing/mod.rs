// Test support: a panic here is a failed test, never a failed request.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

//! A fake Envoy, in-process, for unit tests of filters (feature `testing`).
//!
//! Tests configure a filter from JSON, drive requests and responses through
//! it, and then look at the outcome — the headers the upstream would receive,
//! the local response, logs, metrics, callouts, shared data — instead of
//! scripting every host call. The filter runs through the same runtime as in
//! Envoy; only the [`crate::host::Host`] underneath differs.
//!
//! Behaviours of Envoy 1.40 the test host reproduces (each one a scenario of
//! `cargo xtask host-conformance`, which runs the same script on this host
//! and in a real Envoy and fails on any difference): header names are
//! lower-cased and repeated inline headers joined with `,`; `get` returns
//! the first of repeated values; a header or trailers map is there only in
//! its phase (and while that phase is paused), and in `on_done`; a pause in
//! a headers phase holds the body too ([`Exchange::held`]); a local reply
//! goes back through the filter's response phases if the response had not
//! started, replaces it if it had, and resets the stream once the response
//! headers went out; callouts need `:method`, `:path`, `:authority` and a
//! known cluster, time out with Envoy's 504 on the fake clock and are
//! cancelled when their stream ends; `content-length` is not fixed after a
//! body rewrite; a missing shared-data key is created whatever the CAS; each
//! VM (worker) has its own plugin instance and timers but shares data,
//! metrics and the clock with the others.
//!
//! ```
//! # use portico::testing::TestHost;
//! # fn demo<P: portico::Plugin>() {
//! let host = TestHost::new().with_cluster("auth");
//! let worker_a = host.vm::<P>(r#"{}"#).unwrap();
//! let worker_b = host.vm::<P>(r#"{}"#).unwrap();
//! let reply = worker_a.get("/x").header("authorization", "Bearer t").send();
//! host.advance(std::time::Duration::from_secs(60)); // fires due timers on both VMs
//! # }
//! ```

mod exchange;
#[cfg(test)]
mod hook_host_agrees;
mod state;
mod stream;

pub use crate::engine::Flow;
pub use exchange::{Exchange, Held, Request};
pub use state::{GrpcTarget, LocalReply, LogLine, PendingCall};
pub use stream::TestStream;

use crate::api::Plugin;
use crate::config::ConfigError;
use crate::engine::{RootRuntime, StreamRuntime};
use crate::host::{LogLevel, MapType};
use state::{HostState, VmHost};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the fake clock starts: 2026-01-01T00:00:00Z.
pub const START_TIME_UNIX: u64 = 1_767_225_600;

thread_local! {
    static CAPTURED: RefCell<Vec<LogLine>> = const { RefCell::new(Vec::new()) };
}

struct CaptureLogger;

impl log::Log for CaptureLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        };
        CAPTURED.with(|c| {
            c.borrow_mut().push(LogLine {
                level,
                message: record.args().to_string(),
            })
        });
    }

    fn flush(&self) {}
}

static LOGGER: CaptureLogger = CaptureLogger;

/// Moves lines logged through the `log` crate into the host's log, so they
/// keep their order with lines the SDK logs through the host.
pub(crate) fn flush_captured(logs: &mut Vec<LogLine>) {
    let captured = CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut()));
    logs.extend(captured);
}

fn install_logger() {
    // Fails harmlessly if another test already installed it.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
}

/// Work the host does on a VM without knowing the plugin type.
trait VmDriver {
    fn tick(&self);
    /// Hands a reply to the VM: its header count, body size, trailer count.
    fn deliver(&self, call: &PendingCall, sizes: [usize; 3]);
    /// Hands a gRPC reply to the VM: its status and message size.
    fn deliver_grpc(&self, call: &PendingCall, status: u32, size: usize);
}

type VmList = Rc<RefCell<Vec<(u32, Weak<dyn VmDriver>)>>>;

/// The fake proxy: clock, shared data, metrics, logs and callouts for every VM in it.
#[derive(Clone)]
pub struct TestHost {
    state: Rc<RefCell<HostState>>,
    vms: VmList,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    pub fn new() -> Self {
        install_logger();
        let mut properties = HashMap::new();
        properties.insert("plugin_name".to_string(), b"portico-test".to_vec());
        properties.insert("xds\0route_name".to_string(), b"test-route".to_vec());
        TestHost {
            state: Rc::new(RefCell::new(HostState {
                now: UNIX_EPOCH + Duration::from_secs(START_TIME_UNIX),
                shared: HashMap::new(),
                next_cas: 0,
                metrics: Vec::new(),
                logs: Vec::new(),
                clusters: HashSet::new(),
                calls: BTreeMap::new(),
                calls_made: Vec::new(),
                next_token: 0,
                next_context: 0,
                streams: HashMap::new(),
                properties,
                env: HashMap::new(),
                ticks: HashMap::new(),
                call_reply: None,
                plugin_config: HashMap::new(),
                injected_cas_conflicts: 0,
                host_calls: BTreeMap::new(),
            })),
            vms: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// Declares a cluster that callouts may target (Envoy refuses unknown ones).
    pub fn with_cluster(self, name: &str) -> Self {
        self.state.borrow_mut().clusters.insert(name.to_string());
        self
    }

    /// Sets a VM-wide attribute, e.g. `set_property(&["plugin_name"], b"jwt")`.
    pub fn set_property(&self, path: &[&str], value: &[u8]) {
        self.state
            .borrow_mut()
            .properties
            .insert(state::property_key(path), value.to_vec());
    }

    /// Sets an environment variable every VM sees (Envoy's
    /// `vm_config.environment_variables`).
    pub fn set_env(&self, name: &str, value: &str) {
        self.state
            .borrow_mut()
            .env
            .insert(name.to_string(), value.to_string());
    }

    /// Starts a VM (one Envoy worker) and configures the plugin in it.
    /// A configuration Envoy would refuse gives the error the filter logged.
    pub fn vm<P: Plugin>(&self, config: &str) -> Result<TestVm<P>, ConfigError> {
        let (vm_id, root_id) = {
            let mut s = self.state.borrow_mut();
            s.next_context += 2;
            (s.next_context - 1, s.next_context)
        };
        self.state
            .borrow_mut()
            .plugin_config
            .insert(vm_id, config.as_bytes().to_vec());
        let inner = Rc::new(VmInner::<P> {
            host: VmHost {
                state: Rc::clone(&self.state),
                vm: vm_id,
                root: root_id,
                current: Cell::new(root_id),
                dispatching: Cell::new(root_id),
            },
            root: RootRuntime::new(root_id),
            streams: RefCell::new(HashMap::new()),
        });
        let result = inner.at(root_id, |host| {
            let raw = host
                .state
                .borrow()
                .plugin_config
                .get(&vm_id)
                .cloned()
                .unwrap_or_default();
            inner.root.configure(host, &raw)
        });
        result?;
        let driver: Rc<dyn VmDriver> = inner.clone();
        self.vms.borrow_mut().push((vm_id, Rc::downgrade(&driver)));
        Ok(TestVm {
            host: self.clone(),
            inner,
            _driver: driver,
        })
    }

    /// The fake clock.
    pub fn now(&self) -> SystemTime {
        self.state.borrow().now
    }

    /// Moves the clock forward, firing every VM's timer ticks that fall due on
    /// the way, in time order.
    pub fn advance(&self, by: Duration) {
        let target = self.now() + by;
        for _ in 0..1_000_000 {
            // A callout whose timeout passes is answered as Envoy answers it.
            let expired = {
                let s = self.state.borrow();
                s.calls
                    .values()
                    .map(|c| (c.sent + c.timeout, c.id))
                    .filter(|(due, _)| *due <= target)
                    .min()
            };
            let next = {
                let s = self.state.borrow();
                s.ticks
                    .iter()
                    .filter(|(_, t)| t.next <= target)
                    .min_by_key(|(vm, t)| (t.next, **vm))
                    .map(|(vm, t)| (*vm, t.next, t.period))
            };
            if let Some((due, id)) = expired {
                if next.is_none_or(|(_, at, _)| due <= at) {
                    self.state.borrow_mut().now = due;
                    self.time_out_call(id);
                    continue;
                }
            }
            let Some((vm, at, period)) = next else { break };
            {
                let mut s = self.state.borrow_mut();
                s.now = at;
                if let Some(t) = s.ticks.get_mut(&vm) {
                    t.next = at + period;
                }
            }
            if let Some(driver) = self.driver(vm) {
                driver.tick();
            }
        }
        self.state.borrow_mut().now = target;
    }

    /// Steps the wall clock back (an NTP or operator correction), firing
    /// nothing: timers stay due where they were.
    pub fn step_back(&self, by: Duration) {
        let mut s = self.state.borrow_mut();
        s.now = s.now.checked_sub(by).unwrap_or(UNIX_EPOCH);
    }

    fn driver(&self, vm: u32) -> Option<Rc<dyn VmDriver>> {
        self.vms
            .borrow()
            .iter()
            .find(|(id, _)| *id == vm)
            .and_then(|(_, d)| d.upgrade())
    }

    /// Callouts made and not yet answered, oldest first.
    pub fn pending_calls(&self) -> Vec<PendingCall> {
        self.state.borrow().calls.values().cloned().collect()
    }

    /// Every callout made so far, in order, including those answered and
    /// those cancelled because their stream ended (Envoy had sent them).
    pub fn calls_made(&self) -> Vec<PendingCall> {
        self.state.borrow().calls_made.clone()
    }

    /// Answers a callout; the filter's closure runs before this returns.
    pub fn respond(&self, call_id: u32, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.respond_with_trailers(call_id, status, headers, body, &[]);
    }

    /// Answers a callout with trailers too.
    pub fn respond_with_trailers(
        &self,
        call_id: u32,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        trailers: &[(&str, &str)],
    ) {
        let lower = |pairs: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
                .collect()
        };
        let mut head = vec![(":status".to_string(), status.to_string().into_bytes())];
        head.extend(lower(headers));
        self.deliver(
            call_id,
            Some(state::CallReply {
                headers: head,
                body: body.to_vec(),
                trailers: lower(trailers),
                grpc_status: (0, None),
            }),
        );
    }

    /// Answers a gRPC call with a reply message (status `OK`).
    pub fn respond_grpc(&self, call_id: u32, message: &[u8]) {
        self.deliver_grpc(call_id, 0, None, message);
    }

    /// Closes a gRPC call with a status other than `OK` and its message.
    pub fn fail_grpc(&self, call_id: u32, status: u32, message: &str) {
        let message = (!message.is_empty()).then(|| message.to_string());
        self.deliver_grpc(call_id, status, message, b"");
    }

    fn deliver_grpc(&self, call_id: u32, status: u32, message: Option<String>, body: &[u8]) {
        let Some(call) = self.state.borrow_mut().calls.remove(&call_id) else {
            panic!("no pending callout with id {call_id}");
        };
        assert!(
            call.grpc.is_some(),
            "callout {call_id} is HTTP: answer it with respond"
        );
        self.state.borrow_mut().call_reply = Some(state::CallReply {
            headers: Vec::new(),
            body: body.to_vec(),
            trailers: Vec::new(),
            grpc_status: (status, message),
        });
        if let Some(driver) = self.driver(call.vm) {
            driver.deliver_grpc(&call, status, body.len());
        }
        self.state.borrow_mut().call_reply = None;
    }

    /// Envoy answers a callout whose timeout passed with a 504 of its own,
    /// and closes a gRPC call with `UNAVAILABLE`.
    fn time_out_call(&self, call_id: u32) {
        if self.is_grpc(call_id) {
            self.fail_grpc(call_id, 14, "upstream request timeout{response_timeout}");
            return;
        }
        self.respond(
            call_id,
            504,
            &[("content-length", "24"), ("content-type", "text/plain")],
            b"upstream request timeout",
        );
    }

    /// Answers a callout as Envoy does when the cluster's endpoint refuses
    /// the connection: a `503` of Envoy's own (an `Ok` reply, not a
    /// `CallError`).
    pub fn refuse_call(&self, call_id: u32) {
        if self.is_grpc(call_id) {
            self.fail_grpc(call_id, 14, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure{upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}}");
            return;
        }
        let body = b"upstream connect error or disconnect/reset before headers. reset reason: remote connection failure";
        let length = body.len().to_string();
        self.respond(
            call_id,
            503,
            &[("content-length", &length), ("content-type", "text/plain")],
            body,
        );
    }

    /// Fails a callout as a reset connection would (no response at all).
    pub fn fail_call(&self, call_id: u32) {
        self.deliver(call_id, None);
    }

    fn is_grpc(&self, call_id: u32) -> bool {
        self.state
            .borrow()
            .calls
            .get(&call_id)
            .is_some_and(|c| c.grpc.is_some())
    }

    fn deliver(&self, call_id: u32, reply: Option<state::CallReply>) {
        let Some(call) = self.state.borrow_mut().calls.remove(&call_id) else {
            panic!("no pending callout with id {call_id}");
        };
        assert!(
            call.grpc.is_none(),
            "callout {call_id} is gRPC: answer it with respond_grpc or fail_grpc"
        );
        let sizes = reply.as_ref().map_or([0, 0, 0], |r| {
            [r.headers.len(), r.body.len(), r.trailers.len()]
        });
        self.state.borrow_mut().call_reply = reply;
        if let Some(driver) = self.driver(call.vm) {
            driver.deliver(&call, sizes);
        }
        self.state.borrow_mut().call_reply = None;
    }

    /// Everything logged so far, by every VM.
    /// Host calls the filters made so far, by [`crate::host::Host`] method
    /// (`header`, `set_header`, `increment_metric`, ...), across all VMs.
    ///
    /// Each call out of a `.wasm` costs a crossing between V8 and Envoy, and
    /// the first one in a callback costs most; count them to keep a filter's
    /// per-request cost down (a deterministic stand-in for a timed test).
    pub fn host_calls(&self) -> BTreeMap<&'static str, u64> {
        self.state.borrow().host_calls.clone()
    }

    /// The total of [`TestHost::host_calls`], then clears the tally.
    pub fn take_host_calls(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        let total = state.host_calls.values().sum();
        state.host_calls.clear();
        total
    }

    pub fn logs(&self) -> Vec<LogLine> {
        self.state.borrow().logs.clone()
    }

    /// Whether any log line at `level` or above contains `text`.
    pub fn logged(&self, level: LogLevel, text: &str) -> bool {
        self.state
            .borrow()
            .logs
            .iter()
            .any(|l| l.level >= level && l.message.contains(text))
    }

    /// A metric's value by name (counters and gauges; a histogram's last value).
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.state
            .borrow()
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| u64::try_from(m.value).unwrap_or(0))
    }

    /// A shared-data value, as any VM would read it.
    pub fn shared_data(&self, key: &str) -> Option<Vec<u8>> {
        self.state.borrow().shared.get(key).map(|(v, _)| v.clone())
    }

    /// Every shared-data key, sorted.
    pub fn shared_data_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.state.borrow().shared.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Makes the next `n` CAS-guarded shared-data writes fail with a
    /// mismatch, as if another worker had written in between.
    pub fn inject_cas_conflicts(&self, n: u32) {
        self.state.borrow_mut().injected_cas_conflicts = n;
    }

    /// The tick period a VM asked for, if its timer is armed.
    pub fn tick_period(&self, vm: &TestVm<impl Plugin>) -> Option<Duration> {
        self.state
            .borrow()
            .ticks
            .get(&vm.inner.host.vm)
            .map(|t| t.period)
    }
}

pub(crate) struct VmInner<P: Plugin> {
    host: VmHost,
    root: RootRuntime<P>,
    streams: RefCell<HashMap<u32, Rc<StreamRuntime<P>>>>,
}

impl<P: Plugin> VmInner<P> {
    /// Runs `f` as the host dispatching a callback to context `id`.
    fn at<T>(&self, id: u32, f: impl FnOnce(&VmHost) -> T) -> T {
        self.host.current.set(id);
        self.host.dispatching.set(id);
        let out = f(&self.host);
        flush_captured(&mut self.host.state.borrow_mut().logs);
        self.host.current.set(self.host.root);
        self.host.dispatching.set(self.host.root);
        out
    }

    /// [`Self::at`] for one of the VM's hooks, with the host as the wasm
    /// adapter wraps it for a hook (see `engine::HookHost`), so the host
    /// calls counted here are the ones a `.wasm` makes.
    fn hook<T>(&self, id: u32, f: impl FnOnce(&dyn crate::host::Host) -> T) -> T {
        self.at(id, |h| f(&crate::engine::HookHost::new(h)))
    }

    fn stream(&self, id: u32) -> Option<Rc<StreamRuntime<P>>> {
        self.streams.borrow().get(&id).cloned()
    }
}

impl<P: Plugin> VmDriver for VmInner<P> {
    fn tick(&self) {
        self.hook(self.host.root, |h| self.root.on_tick(h));
    }

    fn deliver_grpc(&self, call: &PendingCall, status: u32, size: usize) {
        if call.owner == self.host.root {
            self.hook(call.owner, |h| {
                self.root.on_grpc_call_response(h, call.id, status, size)
            });
        } else if let Some(stream) = self.stream(call.owner) {
            self.hook(call.owner, |h| {
                stream.on_grpc_call_response(h, call.id, status, size)
            });
        }
    }

    fn deliver(&self, call: &PendingCall, sizes: [usize; 3]) {
        let [headers, body, trailers] = sizes;
        if call.owner == self.host.root {
            self.hook(call.owner, |h| {
                self.root
                    .on_http_call_response(h, call.id, headers, body, trailers)
            });
        } else if let Some(stream) = self.stream(call.owner) {
            self.hook(call.owner, |h| {
                stream.on_http_call_response(h, call.id, headers, body, trailers)
            });
        }
    }
}

/// One simulated VM (an Envoy worker) running the plugin.
pub struct TestVm<P: Plugin> {
    host: TestHost,
    inner: Rc<VmInner<P>>,
    _driver: Rc<dyn VmDriver>,
}

impl<P: Plugin> TestVm<P> {
    pub fn host(&self) -> &TestHost {
        &self.host
    }

    /// A new stream, for driving phases one at a time.
    pub fn stream(&self) -> TestStream<P> {
        let id = {
            let mut s = self.host.state.borrow_mut();
            s.next_context += 1;
            let id = s.next_context;
            s.streams.insert(id, state::StreamData::default());
            id
        };
        let runtime = self
            .inner
            .at(self.inner.host.root, |h| self.inner.root.new_stream(h, id))
            .map(Rc::new);
        if let Some(rt) = &runtime {
            self.inner.streams.borrow_mut().insert(id, Rc::clone(rt));
        }
        TestStream::new(self.host.clone(), Rc::clone(&self.inner), id, runtime)
    }

    /// A request to send through the filter (see [`Request`]).
    pub fn request(&self, method: &str, path: &str) -> Request<'_, P> {
        Request::new(self, method, path)
    }

    pub fn get(&self, path: &str) -> Request<'_, P> {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> Request<'_, P> {
        self.request("POST", path)
    }

    /// Fires this VM's timer tick now, whatever the clock says.
    pub fn tick(&self) {
        self.inner.tick();
    }
}

pub(crate) fn map_of(map: MapType) -> u8 {
    state::map_key(map)
}
