//! Envoy's hooks, typed: one [`ConfigState`] per filter configuration (one
//! engine, shared by every worker, behind its lock) and one
//! [`FilterState`] per stream.

use super::abi::{self, api, EnvoyBuffer, EnvoyHeader, ModuleBuffer, ModuleHeader, Ptr};
use super::grpc;
use super::host::{copy_chunks, copy_headers, Current, DynHost, LocalReply};
use super::lock::ReentrantLock;
use super::shared::{CallOwner, Parts, Reply, Synthetic, MAX_REPLY_BYTES, ROOT_ID, TICK_EVENT};
use crate::api::Plugin;
use crate::engine::{Flow, RootRuntime, StreamRuntime};
use crate::host::{Host, LogLevel};
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// A callout reply or stream event, as a hook hands it over.
pub enum CallEvent<'a> {
    Done {
        ok: bool,
        headers: &'a [EnvoyHeader],
        chunks: &'a [EnvoyBuffer],
    },
    Headers(&'a [EnvoyHeader]),
    Data(&'a [EnvoyBuffer]),
    Trailers(&'a [EnvoyHeader]),
    Complete,
    Reset,
}

/// What Envoy keeps as the module's configuration pointer.
pub trait AnyConfig: Send + Sync {
    fn new_filter(self: Arc<Self>, filter: Ptr) -> Box<dyn AnyFilter>;
    fn scheduled(&self, event: u64);
    fn call_event(&self, id: u64, event: CallEvent<'_>);
    fn destroy(&self);
}

/// What Envoy keeps as the module's per-stream pointer.
pub trait AnyFilter {
    fn phase(&self, filter: Ptr, phase: Hook, end_of_stream: bool) -> Flow;
    fn scheduled(&self, filter: Ptr);
    fn call_event(&self, filter: Ptr, id: u64, event: CallEvent<'_>);
    fn complete(&self, filter: Ptr);
    fn destroy(self: Box<Self>);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
}

pub(crate) struct ConfigState<P: Plugin> {
    lock: ReentrantLock,
    root: RootRuntime<P>,
    next_stream: Cell<u32>,
    parts: Parts,
}

// SAFETY: the engine (`root`, every `StreamRuntime` made from it, and the
// `Rc`s and `RefCell`s inside them and inside the plugin) is only touched
// while `lock` is held, by one thread at a time; `parts` is thread-safe on
// its own. No reference into the engine outlives a locked section.
unsafe impl<P: Plugin> Send for ConfigState<P> {}
// SAFETY: as above.
unsafe impl<P: Plugin> Sync for ConfigState<P> {}

impl<P: Plugin> ConfigState<P> {
    fn root_host(&self) -> DynHost<'_> {
        DynHost {
            parts: &self.parts,
            current: Current::Root,
            reply: None,
            local: RefCell::new(None),
            synthetic: None,
        }
    }
}

/// Parses `raw` and configures the plugin, on the main thread; `None` (the
/// error logged as `invalid filter configuration: <path>: <reason>`) makes
/// Envoy refuse the filter.
pub(crate) fn new_config<P: Plugin>(
    config: Ptr,
    name: &str,
    raw: &[u8],
) -> Option<Arc<dyn AnyConfig>> {
    let state = Arc::new(ConfigState::<P> {
        lock: ReentrantLock::new(),
        root: RootRuntime::new(ROOT_ID),
        next_stream: Cell::new(ROOT_ID + 1),
        parts: Parts::new(config, name),
    });
    let ok = state
        .lock
        .with(|| state.root.configure(&state.root_host(), raw).is_ok());
    if !ok {
        state.parts.shut_down();
        return None;
    }
    Some(state)
}

fn envoy_headers(list: &[EnvoyHeader]) -> crate::host::Pairs {
    // SAFETY: Envoy's headers, valid for the current hook.
    unsafe { copy_headers(list.as_ptr(), list.len()) }
}

fn envoy_chunks(list: &[EnvoyBuffer]) -> Vec<u8> {
    // SAFETY: Envoy's buffers, valid for the current hook.
    unsafe { copy_chunks(list.as_ptr(), list.len()) }
}

/// Applies a callout event to the call of `owner`; a finished call comes
/// back with its token, kind and status for the engine.
fn on_call_event(
    parts: &Parts,
    owner: CallOwner,
    id: u64,
    event: CallEvent<'_>,
) -> Option<Finished> {
    match event {
        CallEvent::Done {
            ok,
            headers,
            chunks,
        } => {
            let mut call = parts.take_call(owner, id)?;
            if ok {
                call.reply.headers = envoy_headers(headers);
                call.reply.body = envoy_chunks(chunks);
            }
            let headers = if ok { call.reply.headers.len() } else { 0 };
            let body = call.reply.body.len();
            Some(Finished::Http {
                token: call.token,
                headers,
                body,
                reply: call.reply,
            })
        }
        CallEvent::Headers(h) => {
            parts.with_call(owner, id, |c| c.reply.headers = envoy_headers(h));
            None
        }
        CallEvent::Data(chunks) => {
            parts.with_call(owner, id, |c| {
                let data = envoy_chunks(chunks);
                if c.reply.body.len() + data.len() > MAX_REPLY_BYTES {
                    c.dropped += data.len();
                } else {
                    c.reply.body.extend_from_slice(&data);
                }
            });
            None
        }
        CallEvent::Trailers(t) => {
            parts.with_call(owner, id, |c| c.reply.trailers = envoy_headers(t));
            None
        }
        CallEvent::Complete | CallEvent::Reset => {
            let mut call = parts.take_call(owner, id)?;
            let (status, size) = if matches!(event, CallEvent::Reset) {
                call.reply.grpc_status = 14;
                call.reply.grpc_message = Some("portico: the call's stream was reset".into());
                call.reply.body.clear();
                (14, 0)
            } else if call.grpc {
                grpc::finish(&mut call)
            } else {
                (0, call.reply.body.len())
            };
            Some(Finished::Grpc {
                token: call.token,
                status,
                size,
                reply: call.reply,
            })
        }
    }
}

enum Finished {
    Http {
        token: u32,
        headers: usize,
        body: usize,
        reply: Reply,
    },
    Grpc {
        token: u32,
        status: u32,
        size: usize,
        reply: Reply,
    },
}

impl<P: Plugin> AnyConfig for ConfigState<P> {
    fn new_filter(self: Arc<Self>, filter: Ptr) -> Box<dyn AnyFilter> {
        let (id, runtime) = self.lock.with(|| {
            let id = self.next_stream.get();
            // Ids are never reused while a stream lives: 2^32 streams pass
            // before one comes back, and the engine drops a stream's state
            // when it ends.
            let next = id.wrapping_add(1);
            self.next_stream
                .set(if next == ROOT_ID { ROOT_ID + 1 } else { next });
            let host = DynHost {
                parts: &self.parts,
                current: Current::Stream { id, filter },
                reply: None,
                local: RefCell::new(None),
                synthetic: None,
            };
            (id, self.root.new_stream(&host, id))
        });
        Box::new(FilterState {
            config: self,
            id,
            runtime,
            response_started: Cell::new(false),
        })
    }

    fn scheduled(&self, event: u64) {
        if event == TICK_EVENT {
            self.lock.with(|| self.root.on_tick(&self.root_host()));
        }
    }

    fn call_event(&self, id: u64, event: CallEvent<'_>) {
        self.lock.with(|| {
            let Some(finished) = on_call_event(&self.parts, CallOwner::Root, id, event) else {
                return;
            };
            match finished {
                Finished::Http {
                    token,
                    headers,
                    body,
                    reply,
                } => {
                    let mut host = self.root_host();
                    host.reply = Some(&reply);
                    self.root
                        .on_http_call_response(&host, token, headers, body, 0);
                }
                Finished::Grpc {
                    token,
                    status,
                    size,
                    reply,
                } => {
                    let mut host = self.root_host();
                    host.reply = Some(&reply);
                    self.root.on_grpc_call_response(&host, token, status, size);
                }
            }
        });
    }

    fn destroy(&self) {
        self.parts.shut_down();
    }
}

pub(crate) struct FilterState<P: Plugin> {
    config: Arc<ConfigState<P>>,
    id: u32,
    runtime: Option<StreamRuntime<P>>,
    /// Envoy called a response hook: a local reply now goes out as is.
    response_started: Cell<bool>,
}

impl<P: Plugin> FilterState<P> {
    fn host(&self, filter: Ptr) -> DynHost<'_> {
        DynHost {
            parts: &self.config.parts,
            current: Current::Stream {
                id: self.id,
                filter,
            },
            reply: None,
            local: RefCell::new(None),
            synthetic: None,
        }
    }

    /// After a hook ran the engine: keeps the stream reachable if it
    /// waits, and sends a local reply the hook asked for.
    fn after(&self, host: &DynHost<'_>, filter: Ptr, flow: Flow) {
        if flow == Flow::Pause {
            self.config.parts.ensure_scheduler(self.id, filter);
        }
        if let Some(reply) = host.local.borrow_mut().take() {
            self.send(filter, reply);
        }
    }

    /// Sends a local reply. Before the response started, it first runs
    /// through this filter's own response phases, as on the wasm host
    /// (Envoy does not call a dynamic module's response hooks for its own
    /// local reply).
    fn send(&self, filter: Ptr, reply: LocalReply) {
        let LocalReply {
            status,
            details,
            headers,
            body,
        } = reply;
        let mut pairs: crate::host::Pairs =
            vec![(":status".into(), status.to_string().into_bytes())];
        pairs.extend(headers);
        let synthetic = RefCell::new(Synthetic {
            headers: pairs,
            body,
        });
        if let (Some(rt), false) = (&self.runtime, self.response_started.get()) {
            self.response_started.set(true);
            let host = DynHost {
                synthetic: Some(&synthetic),
                ..self.host(filter)
            };
            let empty = synthetic.borrow().body.is_empty();
            rt.on_response_headers(&host, empty);
            if !empty {
                let size = synthetic.borrow().body.len();
                rt.on_response_body(&host, size, true);
            }
            if host.local.borrow().is_some() {
                host.log(
                    LogLevel::Warn,
                    "portico: filter asked for a second local response on one stream; ignored",
                );
            }
        }
        let Synthetic { headers, body } = synthetic.into_inner();
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<u32>().ok())
            .unwrap_or(u32::from(status));
        let mut list: Vec<ModuleHeader> = headers
            .iter()
            .filter(|(k, _)| !k.starts_with(':'))
            .map(|(k, v)| ModuleHeader::of(k, v))
            .collect();
        if let Some(api) = api() {
            // SAFETY: the live stream of this hook; module buffers and the
            // header list live for the call.
            unsafe {
                (api.http_send_response)(
                    filter,
                    status,
                    list.as_mut_ptr(),
                    list.len(),
                    ModuleBuffer::of(&body),
                    ModuleBuffer::of(details.as_bytes()),
                )
            };
        }
    }

    fn body_size(filter: Ptr, buffered: u32, received: u32) -> usize {
        api().map_or(0, |api| {
            // SAFETY: the live stream of this hook.
            unsafe {
                (api.http_get_body_size)(filter, buffered)
                    + (api.http_get_body_size)(filter, received)
            }
        })
    }
}

impl<P: Plugin> AnyFilter for FilterState<P> {
    fn phase(&self, filter: Ptr, hook: Hook, end_of_stream: bool) -> Flow {
        self.config.lock.with(|| {
            let Some(rt) = &self.runtime else {
                return Flow::Continue;
            };
            let host = self.host(filter);
            let flow = match hook {
                Hook::RequestHeaders => rt.on_request_headers(&host, end_of_stream),
                Hook::RequestBody => {
                    let size = Self::body_size(
                        filter,
                        abi::BUFFERED_REQUEST_BODY,
                        abi::RECEIVED_REQUEST_BODY,
                    );
                    rt.on_request_body(&host, size, end_of_stream)
                }
                Hook::RequestTrailers => rt.on_request_trailers(&host),
                Hook::ResponseHeaders => {
                    self.response_started.set(true);
                    rt.on_response_headers(&host, end_of_stream)
                }
                Hook::ResponseBody => {
                    let size = Self::body_size(
                        filter,
                        abi::BUFFERED_RESPONSE_BODY,
                        abi::RECEIVED_RESPONSE_BODY,
                    );
                    rt.on_response_body(&host, size, end_of_stream)
                }
                Hook::ResponseTrailers => rt.on_response_trailers(&host),
            };
            self.after(&host, filter, flow);
            flow
        })
    }

    fn scheduled(&self, filter: Ptr) {
        self.config.lock.with(|| {
            if let Some(rt) = &self.runtime {
                let host = self.host(filter);
                rt.run_deferred(&host);
                self.after(&host, filter, Flow::Continue);
            }
        });
    }

    fn call_event(&self, filter: Ptr, id: u64, event: CallEvent<'_>) {
        self.config.lock.with(|| {
            let owner = CallOwner::Stream(self.id);
            let Some(finished) = on_call_event(&self.config.parts, owner, id, event) else {
                return;
            };
            let Some(rt) = &self.runtime else {
                return;
            };
            let mut host = self.host(filter);
            match &finished {
                Finished::Http {
                    token,
                    headers,
                    body,
                    reply,
                } => {
                    host.reply = Some(reply);
                    rt.on_http_call_response(&host, *token, *headers, *body, 0);
                }
                Finished::Grpc {
                    token,
                    status,
                    size,
                    reply,
                } => {
                    host.reply = Some(reply);
                    rt.on_grpc_call_response(&host, *token, *status, *size);
                }
            }
            self.after(&host, filter, Flow::Continue);
        });
    }

    fn complete(&self, filter: Ptr) {
        self.config.lock.with(|| {
            if let Some(rt) = &self.runtime {
                rt.on_done(&self.host(filter));
            }
        });
    }

    fn destroy(self: Box<Self>) {
        let FilterState {
            config,
            id,
            runtime,
            ..
        } = *self;
        config.lock.with(|| {
            // The engine's state of this stream goes under the lock.
            drop(runtime);
            config.parts.drop_scheduler(id);
            config.parts.drop_calls_of(id);
        });
    }
}
