//! The host-independent engine behind a filter: turns the host's callbacks
//! into calls of [`Plugin`] and [`HttpFilter`] methods and applies what they
//! return. Every adapter (the wasm glue, the test host) drives exactly this
//! code, so a filter's unit tests exercise the same dispatch as Envoy does.
//!
//! - `streams.rs`: a stream's state and the rules verdicts follow;
//! - `calls.rs`: callouts in flight, root and streams in one registry;
//! - `timers.rs`: root and stream timers on the host's one tick;
//! - `reply.rs`: reading a reply from the host;
//! - `hook_host.rs`: header maps and the clock read once per hook;
//! - this file: the VM, its root context and its streams.

mod calls;
#[cfg(any(target_arch = "wasm32", test, feature = "testing"))]
mod header_copy;
#[cfg(any(target_arch = "wasm32", test, feature = "testing"))]
mod hook_host;
mod reply;
mod streams;
mod timers;

use crate::api::services::{
    CallKind, Pending, Reply, RootServices, RootThen, RootTimer, StreamServices, StreamThen,
    StreamTimer,
};
use crate::api::{
    CallError, Env, GrpcError, GrpcStatus, HttpFilter, Phase, PhaseInfo, Plugin, Root, Stream,
    TimerId, Verdict,
};
use crate::config::{self, ConfigError};
use crate::host::{Host, LogLevel};
use calls::{Calls, Then};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use streams::{StreamCell, StreamRegistry, StreamState};
use timers::{nanos, Owner, Timers};

#[cfg(any(target_arch = "wasm32", test, feature = "testing"))]
pub(crate) use hook_host::HookHost;

/// At most this many timers fire in one tick, so a timer that re-arms itself
/// with no delay cannot hold the worker forever.
const MAX_TIMERS_PER_TICK: usize = 1024;

/// What the host should do with the stream after a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// The phase let the stream go on.
    Continue,
    /// The phase holds the stream (it paused, or answered locally).
    Pause,
}

/// Per-VM state shared by the root context and every stream.
pub(crate) struct VmCore<P: Plugin> {
    root_id: u32,
    plugin: RefCell<Option<Rc<P>>>,
    calls: RefCell<Calls<P>>,
    timers: RefCell<Timers<P>>,
    streams: StreamRegistry<P::Filter>,
    /// Work for streams the host cannot reach from where it was made (see
    /// [`Host::reaches`]), run when the host calls the stream back.
    deferred: RefCell<HashMap<u32, Vec<Callback<P::Filter>>>>,
}

type Callback<F> =
    Box<dyn FnOnce(&mut F, &<F as HttpFilter>::Plugin, &mut Stream<'_, F>) -> Verdict>;

impl<P: Plugin> VmCore<P> {
    fn plugin(&self) -> Option<Rc<P>> {
        self.plugin.borrow().clone()
    }

    /// Runs `f` as a callback of stream `id` while context `current` is
    /// dispatching (the host acts on the stream's context meanwhile), then
    /// applies its verdict. False if the stream is gone or busy.
    fn run_on_stream(
        &self,
        host: &dyn Host,
        id: u32,
        current: u32,
        f: Callback<P::Filter>,
    ) -> bool {
        let Some(cell) = self.streams.borrow().get(&id).and_then(|w| w.upgrade()) else {
            return false;
        };
        if id != current && !host.reaches(id) {
            // Another thread owns the stream: the work waits for the host
            // to call the stream back on that thread.
            self.deferred.borrow_mut().entry(id).or_default().push(f);
            if let Err(err) = host.schedule(id) {
                host.log(
                    LogLevel::Error,
                    &format!("portico: cannot schedule work on stream {id}: {err}"),
                );
                self.deferred.borrow_mut().remove(&id);
                return false;
            }
            return true;
        }
        let Ok(mut cell) = cell.try_borrow_mut() else {
            return false;
        };
        let Some(plugin) = self.plugin() else {
            return false;
        };
        let switch = id != current;
        if switch && host.set_effective_context(id).is_err() {
            return false;
        }
        let StreamCell { filter, state } = &mut *cell;
        let info = PhaseInfo {
            phase: Phase::Callback,
            end_of_stream: false,
            body_size: 0,
            responded: state.responded(),
        };
        let verdict = f(
            filter,
            &plugin,
            &mut Stream::new(Env::new(host), id, self, info),
        );
        state.after_callback(host, verdict);
        if switch {
            if let Err(err) = host.set_effective_context(current) {
                host.log(
                    LogLevel::Error,
                    &format!("portico: cannot return to context {current}: {err}"),
                );
            }
        }
        true
    }

    /// A callout's reply reached context `current`. It is read there (the
    /// host holds it on that context), then handed to whoever made the call.
    fn deliver(&self, host: &dyn Host, current: u32, token: u32, raw: reply::Raw) {
        let Some(call) = self.calls.borrow_mut().take(token) else {
            host.log(
                LogLevel::Debug,
                &format!("portico: reply to unknown callout {token} dropped"),
            );
            return;
        };
        let reply = match (call.kind, raw) {
            (CallKind::Http, reply::Raw::Http(sizes)) => {
                Reply::Http(reply::http(host, sizes, call.limit))
            }
            (CallKind::Grpc, reply::Raw::Grpc { status, size }) => {
                Reply::Grpc(reply::grpc(host, status, size, call.limit))
            }
            (CallKind::Http, reply::Raw::Grpc { .. }) => Reply::Http(Err(CallError::Failed)),
            (CallKind::Grpc, reply::Raw::Http(_)) => Reply::Grpc(Err(GrpcError {
                status: GrpcStatus::INTERNAL,
                message: Some("portico: an HTTP reply to a gRPC call".into()),
            })),
        };
        match call.then {
            Then::Root(then) => {
                if let Some(plugin) = self.plugin() {
                    then(&plugin, &mut Root::new(Env::new(host), self), reply);
                }
            }
            Then::Stream(id, then) => {
                let run: Callback<P::Filter> = Box::new(move |f, p, s| then(f, p, s, reply));
                if !self.run_on_stream(host, id, current, run) {
                    host.log(
                        LogLevel::Debug,
                        &format!("portico: reply to callout {token} had no live owner; dropped"),
                    );
                }
            }
        }
    }
}

impl<P: Plugin> RootServices<P> for VmCore<P> {
    fn add_timer(
        &self,
        host: &dyn Host,
        after: Duration,
        period: Option<Duration>,
        f: RootTimer<P>,
    ) -> TimerId {
        self.timers
            .borrow_mut()
            .add(host, after, period, Owner::Root(f))
    }

    fn cancel_timer(&self, _host: &dyn Host, id: TimerId) {
        self.timers.borrow_mut().cancel(id);
    }

    fn add_root_call(&self, token: u32, call: Pending<RootThen<P>>) {
        self.calls.borrow_mut().add(
            token,
            Pending {
                limit: call.limit,
                kind: call.kind,
                then: Then::Root(call.then),
            },
        );
    }

    fn wake_from_root(&self, host: &dyn Host, stream: u32, f: StreamTimer<P::Filter>) -> bool {
        StreamServices::wake(self, host, stream, self.root_id, f)
    }
}

impl<P: Plugin> StreamServices<P::Filter> for VmCore<P> {
    fn add_stream_call(&self, stream: u32, token: u32, call: Pending<StreamThen<P::Filter>>) {
        self.calls.borrow_mut().add(
            token,
            Pending {
                limit: call.limit,
                kind: call.kind,
                then: Then::Stream(stream, call.then),
            },
        );
    }

    fn add_stream_timer(
        &self,
        host: &dyn Host,
        stream: u32,
        after: Duration,
        f: StreamTimer<P::Filter>,
    ) -> TimerId {
        self.timers
            .borrow_mut()
            .add(host, after, None, Owner::Stream(stream, f))
    }

    fn cancel_timer(&self, _host: &dyn Host, id: TimerId) {
        self.timers.borrow_mut().cancel(id);
    }

    fn wake(&self, host: &dyn Host, target: u32, current: u32, f: StreamTimer<P::Filter>) -> bool {
        target != current && self.run_on_stream(host, target, current, f)
    }
}

/// The root context of one VM.
pub(crate) struct RootRuntime<P: Plugin> {
    vm: Rc<VmCore<P>>,
}

impl<P: Plugin> RootRuntime<P> {
    pub(crate) fn new(root_id: u32) -> Self {
        RootRuntime {
            vm: Rc::new(VmCore {
                root_id,
                plugin: RefCell::new(None),
                calls: RefCell::new(Calls::new()),
                timers: RefCell::new(Timers::new()),
                streams: RefCell::new(HashMap::new()),
                deferred: RefCell::new(HashMap::new()),
            }),
        }
    }

    /// Parses and applies the plugin configuration. On error, logs
    /// `invalid filter configuration: <path>: <reason>` and returns it.
    pub(crate) fn configure(&self, host: &dyn Host, raw: &[u8]) -> Result<(), ConfigError> {
        let vm = &*self.vm;
        let result = config::parse::<P::Config>(raw)
            .and_then(|cfg| P::configure(cfg, &mut Root::new(Env::new(host), vm)));
        match result {
            Ok(plugin) => {
                *vm.plugin.borrow_mut() = Some(Rc::new(plugin));
                Ok(())
            }
            Err(err) => {
                host.log(
                    LogLevel::Error,
                    &format!("invalid filter configuration: {err}"),
                );
                vm.timers.borrow_mut().clear();
                vm.calls.borrow_mut().clear();
                Err(err)
            }
        }
    }

    pub(crate) fn on_tick(&self, host: &dyn Host) {
        let vm = &*self.vm;
        vm.timers.borrow_mut().fired();
        let Some(plugin) = vm.plugin() else {
            let _ = host.set_tick_period(Duration::ZERO);
            return;
        };
        let now = nanos(host);
        for _ in 0..MAX_TIMERS_PER_TICK {
            let Some(mut timer) = vm.timers.borrow_mut().take_due(now) else {
                break;
            };
            match timer.owner {
                Owner::Root(RootTimer::Once(f)) => {
                    f(&plugin, &mut Root::new(Env::new(host), vm));
                }
                Owner::Root(RootTimer::Every(ref mut f)) => {
                    f(&plugin, &mut Root::new(Env::new(host), vm));
                    vm.timers.borrow_mut().repeat(timer, now);
                }
                Owner::Stream(id, f) => {
                    vm.run_on_stream(host, id, vm.root_id, f);
                }
            }
        }
        vm.timers.borrow_mut().rearm(host);
    }

    /// A callout reply reached the root context (also replies to calls a
    /// stream made while woken from the root).
    pub(crate) fn on_http_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        let raw = reply::Raw::http(num_headers, body_size, num_trailers);
        self.vm.deliver(host, self.vm.root_id, token, raw);
    }

    /// A gRPC call's reply reached the root context.
    pub(crate) fn on_grpc_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        status: u32,
        size: usize,
    ) {
        self.vm.deliver(
            host,
            self.vm.root_id,
            token,
            reply::Raw::Grpc { status, size },
        );
    }

    /// Creates the runtime of a new stream; `None` if the plugin is not configured.
    pub(crate) fn new_stream(&self, host: &dyn Host, context_id: u32) -> Option<StreamRuntime<P>> {
        let plugin = self.vm.plugin()?;
        let filter = plugin.new_filter(&Env::new(host));
        let cell = Rc::new(RefCell::new(StreamCell {
            filter,
            state: StreamState::new(),
        }));
        self.vm
            .streams
            .borrow_mut()
            .insert(context_id, Rc::downgrade(&cell));
        Some(StreamRuntime {
            vm: Rc::clone(&self.vm),
            id: context_id,
            cell,
        })
    }
}

/// One stream (HTTP request/response) of a VM.
pub(crate) struct StreamRuntime<P: Plugin> {
    vm: Rc<VmCore<P>>,
    id: u32,
    cell: Rc<RefCell<StreamCell<P::Filter>>>,
}

type PhaseFn<F> = fn(&mut F, &<F as HttpFilter>::Plugin, &mut Stream<'_, F>) -> Verdict;

impl<P: Plugin> StreamRuntime<P> {
    pub(crate) fn on_request_headers(&self, host: &dyn Host, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::RequestHeaders,
            end_of_stream,
            0,
            HttpFilter::on_request_headers,
        )
    }

    pub(crate) fn on_request_body(
        &self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Flow {
        self.phase(
            host,
            Phase::RequestBody,
            end_of_stream,
            body_size,
            HttpFilter::on_request_body,
        )
    }

    pub(crate) fn on_request_trailers(&self, host: &dyn Host) -> Flow {
        self.phase(
            host,
            Phase::RequestTrailers,
            true,
            0,
            HttpFilter::on_request_trailers,
        )
    }

    pub(crate) fn on_response_headers(&self, host: &dyn Host, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::ResponseHeaders,
            end_of_stream,
            0,
            HttpFilter::on_response_headers,
        )
    }

    pub(crate) fn on_response_body(
        &self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Flow {
        self.phase(
            host,
            Phase::ResponseBody,
            end_of_stream,
            body_size,
            HttpFilter::on_response_body,
        )
    }

    pub(crate) fn on_response_trailers(&self, host: &dyn Host) -> Flow {
        self.phase(
            host,
            Phase::ResponseTrailers,
            true,
            0,
            HttpFilter::on_response_trailers,
        )
    }

    pub(crate) fn on_done(&self, host: &dyn Host) {
        let Some(plugin) = self.vm.plugin() else {
            return;
        };
        let Ok(mut cell) = self.cell.try_borrow_mut() else {
            return;
        };
        let StreamCell { filter, state } = &mut *cell;
        let info = PhaseInfo {
            phase: Phase::Done,
            end_of_stream: true,
            body_size: 0,
            responded: state.responded(),
        };
        let mut s = Stream::new(Env::new(host), self.id, &*self.vm, info);
        filter.on_done(&plugin, &mut s);
    }

    pub(crate) fn on_http_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        let raw = reply::Raw::http(num_headers, body_size, num_trailers);
        self.vm.deliver(host, self.id, token, raw);
    }

    pub(crate) fn on_grpc_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        status: u32,
        size: usize,
    ) {
        self.vm
            .deliver(host, self.id, token, reply::Raw::Grpc { status, size });
    }

    /// The host called this stream back (see [`Host::schedule`]): runs the
    /// work kept for it, in the order it was made.
    #[cfg_attr(not(feature = "dynamic-module"), allow(dead_code))]
    pub(crate) fn run_deferred(&self, host: &dyn Host) {
        let work = self.vm.deferred.borrow_mut().remove(&self.id);
        for f in work.into_iter().flatten() {
            self.vm.run_on_stream(host, self.id, self.id, f);
        }
    }

    fn phase(
        &self,
        host: &dyn Host,
        phase: Phase,
        end_of_stream: bool,
        body_size: usize,
        method: PhaseFn<P::Filter>,
    ) -> Flow {
        let Some(plugin) = self.vm.plugin() else {
            return Flow::Continue;
        };
        let Ok(mut cell) = self.cell.try_borrow_mut() else {
            host.log(LogLevel::Error, "portico: re-entrant phase call ignored");
            return Flow::Continue;
        };
        let StreamCell { filter, state } = &mut *cell;
        let info = PhaseInfo {
            phase,
            end_of_stream,
            body_size,
            responded: state.responded(),
        };
        let verdict = method(
            filter,
            &plugin,
            &mut Stream::new(Env::new(host), self.id, &*self.vm, info),
        );
        state.after_phase(host, phase, verdict)
    }
}

impl<P: Plugin> Drop for StreamRuntime<P> {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.vm.streams.try_borrow_mut() {
            streams.remove(&self.id);
        }
        if let Ok(mut calls) = self.vm.calls.try_borrow_mut() {
            calls.drop_stream(self.id);
        }
        if let Ok(mut timers) = self.vm.timers.try_borrow_mut() {
            timers.drop_stream(self.id);
        }
        if let Ok(mut deferred) = self.vm.deferred.try_borrow_mut() {
            deferred.remove(&self.id);
        }
    }
}
