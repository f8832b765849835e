//! The host-independent engine behind a filter: turns the host's callbacks
//! into calls of [`Plugin`] and [`HttpFilter`] methods and applies what they
//! return. The wasm glue and the test host drive exactly this code, so a
//! filter's unit tests exercise the same dispatch as Envoy does.

use crate::action::{Action, LocalResponse};
use crate::config::{self, ConfigError};
use crate::env::Env;
use crate::filter::{HttpFilter, Plugin};
use crate::host::{BufferType, Host, LogLevel, MapType};
use crate::http_call::{CallError, HttpResponse};
use crate::root::{Root, RootCallback, TimerId};
use crate::stream::{Phase, Stream, StreamState};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::{Duration, UNIX_EPOCH};

/// At most this many timers fire in one tick, so a timer that re-arms itself
/// with no delay cannot hold the worker forever.
const MAX_TIMERS_PER_TICK: usize = 1024;

/// What the host should do with the stream after a phase.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Pause,
}

pub(crate) trait Waker {
    fn wake(&self, host: &dyn Host, target: u32, current: u32) -> bool;
    fn register_stream_call(&self, token: u32, stream: u32);
}

pub(crate) type OnceTimer<P> = Box<dyn FnOnce(&Rc<P>, &mut Root<'_, P>)>;
pub(crate) type EveryTimer<P> = Box<dyn FnMut(&Rc<P>, &mut Root<'_, P>)>;

pub(crate) enum TimerFn<P: Plugin> {
    Once(OnceTimer<P>),
    Every(EveryTimer<P>),
}

struct Timer<P: Plugin> {
    id: u64,
    due: u128,
    period: Option<Duration>,
    f: TimerFn<P>,
}

struct StreamCell<F> {
    filter: F,
    state: StreamState<F>,
}

/// Streams of a VM by context id, weakly: a stream that ended is simply gone.
type StreamRegistry<F> = RefCell<HashMap<u32, Weak<RefCell<StreamCell<F>>>>>;

/// Per-VM state shared by the root context and every stream.
pub struct VmCore<P: Plugin> {
    root_id: u32,
    plugin: RefCell<Option<Rc<P>>>,
    root_calls: RefCell<HashMap<u32, (usize, RootCallback<P>)>>,
    /// Callouts made by streams, by token: proxy-wasm routes a reply to the
    /// context that was dispatching when the call was made, which for a
    /// stream woken from the root is the root.
    stream_calls: RefCell<HashMap<u32, u32>>,
    timers: RefCell<Vec<Timer<P>>>,
    cancelled: RefCell<Vec<u64>>,
    next_timer: Cell<u64>,
    armed: Cell<Option<u128>>,
    streams: StreamRegistry<P::Filter>,
}

fn nanos(host: &dyn Host) -> u128 {
    host.now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
}

impl<P: Plugin> VmCore<P> {
    fn plugin(&self) -> Option<Rc<P>> {
        self.plugin.borrow().clone()
    }

    pub(crate) fn add_timer(
        &self,
        host: &dyn Host,
        after: Duration,
        period: Option<Duration>,
        f: TimerFn<P>,
    ) -> TimerId {
        let id = self.next_timer.get() + 1;
        self.next_timer.set(id);
        let due = nanos(host) + after.as_nanos();
        self.timers.borrow_mut().push(Timer { id, due, period, f });
        if self.armed.get().is_none_or(|armed| due < armed) {
            self.arm(host, after, due);
        }
        TimerId(id)
    }

    pub(crate) fn cancel_timer(&self, _host: &dyn Host, id: TimerId) {
        let mut timers = self.timers.borrow_mut();
        let before = timers.len();
        timers.retain(|t| t.id != id.0);
        if timers.len() == before {
            // Possibly the periodic timer now running: keep it from re-arming.
            self.cancelled.borrow_mut().push(id.0);
        }
    }

    fn arm(&self, host: &dyn Host, after: Duration, due: u128) {
        // The host ticks in whole milliseconds; round up so a timer never fires early.
        let ms = after.as_nanos().div_ceil(1_000_000).max(1);
        let period = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX));
        match host.set_tick_period(period) {
            Ok(()) => self.armed.set(Some(due)),
            Err(err) => host.log(
                LogLevel::Error,
                &format!("portico: cannot arm timer: {err}"),
            ),
        }
    }

    fn rearm(&self, host: &dyn Host) {
        let now = nanos(host);
        let next = self.timers.borrow().iter().map(|t| t.due).min();
        match next {
            Some(due) => {
                let after = Duration::from_nanos(
                    u64::try_from(due.saturating_sub(now)).unwrap_or(u64::MAX),
                );
                self.arm(host, after, due);
            }
            None => {
                self.armed.set(None);
                let _ = host.set_tick_period(Duration::ZERO);
            }
        }
    }

    pub(crate) fn add_root_call(&self, token: u32, limit: usize, f: RootCallback<P>) {
        self.root_calls.borrow_mut().insert(token, (limit, f));
    }

    pub(crate) fn wake_from_root(&self, host: &dyn Host, target: u32) -> bool {
        self.wake(host, target, self.root_id)
    }

    fn stream_cell(&self, id: u32) -> Option<Rc<RefCell<StreamCell<P::Filter>>>> {
        self.streams.borrow().get(&id).and_then(Weak::upgrade)
    }

    /// Runs `f` on another stream of this VM, with the host acting on that
    /// stream's context meanwhile. False if the stream is gone or is `current`.
    fn with_stream(
        &self,
        host: &dyn Host,
        target: u32,
        current: u32,
        f: impl FnOnce(&mut StreamCell<P::Filter>),
    ) -> bool {
        if target == current {
            return false;
        }
        let Some(cell) = self.stream_cell(target) else {
            return false;
        };
        let Ok(mut cell) = cell.try_borrow_mut() else {
            return false;
        };
        if host.set_effective_context(target).is_err() {
            return false;
        }
        f(&mut cell);
        if let Err(err) = host.set_effective_context(current) {
            host.log(
                LogLevel::Error,
                &format!("portico: cannot return to context {current}: {err}"),
            );
        }
        true
    }
}

impl<P: Plugin> Waker for VmCore<P> {
    fn wake(&self, host: &dyn Host, target: u32, current: u32) -> bool {
        self.with_stream(host, target, current, |cell| {
            run_callback(host, self, cell, |f, s| f.on_wake(s))
        })
    }

    fn register_stream_call(&self, token: u32, stream: u32) {
        self.stream_calls.borrow_mut().insert(token, stream);
    }
}

fn read_call_response(
    host: &dyn Host,
    num_headers: usize,
    body_size: usize,
    limit: usize,
) -> Result<HttpResponse, CallError> {
    if num_headers == 0 {
        return Err(CallError::Failed);
    }
    let headers: Vec<(String, String)> = host
        .header_pairs(MapType::HttpCallResponseHeaders)
        .map_err(|_| CallError::Failed)?
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let status = headers
        .iter()
        .find(|(k, _)| k == ":status")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or(CallError::Failed)?;
    if body_size > limit {
        return Err(CallError::TooLarge {
            size: body_size,
            limit,
        });
    }
    let body = if body_size == 0 {
        Vec::new()
    } else {
        host.buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn send_local<F>(host: &dyn Host, state: &mut StreamState<F>, response: LocalResponse) {
    if state.responded {
        // Our own local reply passes through our response phases; answering it
        // again would loop.
        host.log(
            LogLevel::Warn,
            "portico: filter asked for a second local response on one stream; ignored",
        );
        return;
    }
    state.responded = true;
    state.paused = None;
    let details: String = response
        .details
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect();
    let headers: Vec<(&str, &str)> = response
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Err(err) = host.send_local_response(response.status, &details, &headers, &response.body)
    {
        host.log(
            LogLevel::Error,
            &format!(
                "portico: local response {} refused by the host: {err}",
                response.status
            ),
        );
    }
}

fn run_callback<F: HttpFilter>(
    host: &dyn Host,
    waker: &dyn Waker,
    cell: &mut StreamCell<F>,
    f: impl FnOnce(&mut F, &mut Stream<'_, F>) -> Action,
) {
    let StreamCell { filter, state } = cell;
    let action = {
        let mut s = Stream {
            env: Env::new(host),
            state,
            waker,
            phase: Phase::Callback,
            end_of_stream: false,
            body_size: 0,
        };
        f(filter, &mut s)
    };
    match action {
        Action::Continue => {
            if let Some(direction) = state.paused.take() {
                if let Err(err) = host.resume(direction) {
                    host.log(
                        LogLevel::Warn,
                        &format!("portico: cannot resume stream: {err}"),
                    );
                }
            }
        }
        Action::Pause => {}
        Action::Respond(response) => send_local(host, state, response),
    }
}

/// Hands a callout reply to the stream that made the call.
fn deliver_call<F: HttpFilter>(
    host: &dyn Host,
    waker: &dyn Waker,
    cell: &mut StreamCell<F>,
    token: u32,
    num_headers: usize,
    body_size: usize,
) {
    let limit = cell.state.limits.remove(&token).unwrap_or(0);
    let Some(then) = cell.state.calls.remove(&token) else {
        host.log(
            LogLevel::Debug,
            &format!("portico: reply to unknown callout {token} dropped"),
        );
        return;
    };
    let response = read_call_response(host, num_headers, body_size, limit);
    run_callback(host, waker, cell, |f, s| then(f, s, response));
}

/// The root context of one VM.
#[doc(hidden)]
pub struct RootRuntime<P: Plugin> {
    vm: Rc<VmCore<P>>,
}

impl<P: Plugin> RootRuntime<P> {
    pub fn new(root_id: u32) -> Self {
        RootRuntime {
            vm: Rc::new(VmCore {
                root_id,
                plugin: RefCell::new(None),
                root_calls: RefCell::new(HashMap::new()),
                stream_calls: RefCell::new(HashMap::new()),
                timers: RefCell::new(Vec::new()),
                cancelled: RefCell::new(Vec::new()),
                next_timer: Cell::new(0),
                armed: Cell::new(None),
                streams: RefCell::new(HashMap::new()),
            }),
        }
    }

    /// Parses and applies the plugin configuration. On error, logs
    /// `invalid filter configuration: <path>: <reason>` and returns it.
    pub fn configure(&self, host: &dyn Host, raw: &[u8]) -> Result<(), ConfigError> {
        let result = config::parse::<P::Config>(raw).and_then(|cfg| {
            let mut root = Root {
                env: Env::new(host),
                vm: &self.vm,
            };
            P::configure(cfg, &mut root)
        });
        match result {
            Ok(plugin) => {
                *self.vm.plugin.borrow_mut() = Some(Rc::new(plugin));
                Ok(())
            }
            Err(err) => {
                host.log(
                    LogLevel::Error,
                    &format!("invalid filter configuration: {err}"),
                );
                self.vm.timers.borrow_mut().clear();
                self.vm.root_calls.borrow_mut().clear();
                Err(err)
            }
        }
    }

    pub fn is_configured(&self) -> bool {
        self.vm.plugin.borrow().is_some()
    }

    pub fn on_tick(&self, host: &dyn Host) {
        self.vm.armed.set(None);
        let Some(plugin) = self.vm.plugin() else {
            let _ = host.set_tick_period(Duration::ZERO);
            return;
        };
        let now = nanos(host);
        for _ in 0..MAX_TIMERS_PER_TICK {
            let next = {
                let mut timers = self.vm.timers.borrow_mut();
                let due = timers
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.due <= now)
                    .min_by_key(|(_, t)| t.due)
                    .map(|(i, _)| i);
                due.map(|i| timers.swap_remove(i))
            };
            let Some(mut timer) = next else { break };
            let mut root = Root {
                env: Env::new(host),
                vm: &self.vm,
            };
            match timer.f {
                TimerFn::Once(f) => f(&plugin, &mut root),
                TimerFn::Every(ref mut f) => {
                    f(&plugin, &mut root);
                    let cancelled = {
                        let mut c = self.vm.cancelled.borrow_mut();
                        let hit = c.contains(&timer.id);
                        c.retain(|id| *id != timer.id);
                        hit
                    };
                    if let (false, Some(period)) = (cancelled, timer.period) {
                        timer.due = now + period.as_nanos();
                        self.vm.timers.borrow_mut().push(timer);
                    }
                }
            }
        }
        self.vm.rearm(host);
    }

    /// A callout reply reached the root context. Replies to calls made by a
    /// stream that was woken from the root arrive here too and are forwarded.
    pub fn on_http_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
    ) {
        let root_call = self.vm.root_calls.borrow_mut().remove(&token);
        if let Some((limit, then)) = root_call {
            let response = read_call_response(host, num_headers, body_size, limit);
            let Some(plugin) = self.vm.plugin() else {
                return;
            };
            let mut root = Root {
                env: Env::new(host),
                vm: &self.vm,
            };
            then(&plugin, &mut root, response);
            return;
        }
        let owner = self.vm.stream_calls.borrow_mut().remove(&token);
        let vm = &*self.vm;
        let delivered = owner.is_some_and(|stream| {
            vm.with_stream(host, stream, vm.root_id, |cell| {
                deliver_call(host, vm, cell, token, num_headers, body_size)
            })
        });
        if !delivered {
            host.log(
                LogLevel::Debug,
                &format!("portico: reply to callout {token} had no live owner; dropped"),
            );
        }
    }

    /// Creates the runtime of a new stream; `None` if the plugin is not configured.
    pub fn new_stream(&self, host: &dyn Host, context_id: u32) -> Option<StreamRuntime<P>> {
        let plugin = self.vm.plugin()?;
        let filter = P::new_filter(&plugin, &Env::new(host));
        let cell = Rc::new(RefCell::new(StreamCell {
            filter,
            state: StreamState::new(context_id),
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
#[doc(hidden)]
pub struct StreamRuntime<P: Plugin> {
    vm: Rc<VmCore<P>>,
    id: u32,
    cell: Rc<RefCell<StreamCell<P::Filter>>>,
}

type PhaseFn<F> = fn(&mut F, &mut Stream<'_, F>) -> Action;

impl<P: Plugin> StreamRuntime<P> {
    pub fn on_request_headers(&self, host: &dyn Host, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::RequestHeaders,
            end_of_stream,
            0,
            HttpFilter::on_request_headers,
        )
    }

    pub fn on_request_body(&self, host: &dyn Host, body_size: usize, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::RequestBody,
            end_of_stream,
            body_size,
            HttpFilter::on_request_body,
        )
    }

    pub fn on_request_trailers(&self, host: &dyn Host) -> Flow {
        self.phase(
            host,
            Phase::RequestTrailers,
            true,
            0,
            HttpFilter::on_request_trailers,
        )
    }

    pub fn on_response_headers(&self, host: &dyn Host, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::ResponseHeaders,
            end_of_stream,
            0,
            HttpFilter::on_response_headers,
        )
    }

    pub fn on_response_body(&self, host: &dyn Host, body_size: usize, end_of_stream: bool) -> Flow {
        self.phase(
            host,
            Phase::ResponseBody,
            end_of_stream,
            body_size,
            HttpFilter::on_response_body,
        )
    }

    pub fn on_response_trailers(&self, host: &dyn Host) -> Flow {
        self.phase(
            host,
            Phase::ResponseTrailers,
            true,
            0,
            HttpFilter::on_response_trailers,
        )
    }

    pub fn on_done(&self, host: &dyn Host) {
        let Ok(mut cell) = self.cell.try_borrow_mut() else {
            return;
        };
        let StreamCell { filter, state } = &mut *cell;
        let mut s = Stream {
            env: Env::new(host),
            state,
            waker: &*self.vm,
            phase: Phase::Done,
            end_of_stream: true,
            body_size: 0,
        };
        filter.on_done(&mut s);
    }

    pub fn on_http_call_response(
        &self,
        host: &dyn Host,
        token: u32,
        num_headers: usize,
        body_size: usize,
    ) {
        self.vm.stream_calls.borrow_mut().remove(&token);
        let Ok(mut cell) = self.cell.try_borrow_mut() else {
            return;
        };
        deliver_call(host, &*self.vm, &mut cell, token, num_headers, body_size);
    }

    fn phase(
        &self,
        host: &dyn Host,
        phase: Phase,
        end_of_stream: bool,
        body_size: usize,
        method: PhaseFn<P::Filter>,
    ) -> Flow {
        let Ok(mut cell) = self.cell.try_borrow_mut() else {
            host.log(LogLevel::Error, "portico: re-entrant phase call ignored");
            return Flow::Continue;
        };
        let StreamCell { filter, state } = &mut *cell;
        let (action, direction) = {
            let mut s = Stream {
                env: Env::new(host),
                state,
                waker: &*self.vm,
                phase,
                end_of_stream,
                body_size,
            };
            (method(filter, &mut s), s.direction())
        };
        match action {
            Action::Continue => Flow::Continue,
            Action::Pause => {
                state.paused = direction;
                Flow::Pause
            }
            Action::Respond(response) => {
                // A second reply on one stream is refused by send_local; the
                // stream then carries on with the first.
                let first = !state.responded;
                send_local(host, state, response);
                if first {
                    Flow::Pause
                } else {
                    Flow::Continue
                }
            }
        }
    }
}

impl<P: Plugin> Drop for StreamRuntime<P> {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.vm.streams.try_borrow_mut() {
            streams.remove(&self.id);
        }
    }
}
