//! The per-request context handed to every phase of an [`HttpFilter`].

use crate::action::Action;
use crate::env::Env;
use crate::filter::HttpFilter;
use crate::headers::Headers;
use crate::host::{BufferType, Direction, HostError, MapType};
use crate::http_call::{CallError, CallId, HttpRequest, HttpResponse};
use crate::runtime::Waker;
use std::collections::HashMap;
use std::ops::Deref;

/// Identifies a stream within its VM, for [`Stream::wake`] and [`crate::Root::wake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId(pub u32);

/// Which phase is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    /// A callout reply or a wake-up, outside the host's phase callbacks.
    Callback,
    Done,
}

impl Phase {
    fn direction(self) -> Option<Direction> {
        match self {
            Phase::RequestHeaders | Phase::RequestBody | Phase::RequestTrailers => {
                Some(Direction::Request)
            }
            Phase::ResponseHeaders | Phase::ResponseBody | Phase::ResponseTrailers => {
                Some(Direction::Response)
            }
            Phase::Callback | Phase::Done => None,
        }
    }
}

pub(crate) type StreamCallback<F> =
    Box<dyn FnOnce(&mut F, &mut Stream<'_, F>, Result<HttpResponse, CallError>) -> Action>;

/// What the runtime keeps per stream besides the filter itself.
pub(crate) struct StreamState<F> {
    pub(crate) id: u32,
    pub(crate) calls: HashMap<u32, StreamCallback<F>>,
    /// Set when a phase paused; a later `Continue` resumes this direction.
    pub(crate) paused: Option<Direction>,
    pub(crate) responded: bool,
    /// Limits of callout replies, by token.
    pub(crate) limits: HashMap<u32, usize>,
}

impl<F> StreamState<F> {
    pub(crate) fn new(id: u32) -> Self {
        StreamState {
            id,
            calls: HashMap::new(),
            paused: None,
            responded: false,
            limits: HashMap::new(),
        }
    }
}

/// The request being filtered: its headers, body, and the ways to reach
/// other contexts. Dereferences to [`Env`] for the clock, properties,
/// shared data and metrics.
pub struct Stream<'a, F> {
    pub(crate) env: Env<'a>,
    pub(crate) state: &'a mut StreamState<F>,
    pub(crate) waker: &'a dyn Waker,
    pub(crate) phase: Phase,
    pub(crate) end_of_stream: bool,
    pub(crate) body_size: usize,
}

impl<'a, F: HttpFilter> Deref for Stream<'a, F> {
    type Target = Env<'a>;
    fn deref(&self) -> &Env<'a> {
        &self.env
    }
}

impl<'a, F: HttpFilter> Stream<'a, F> {
    pub fn id(&self) -> StreamId {
        StreamId(self.state.id)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The environment, for APIs that take `&Env` (metrics, for instance).
    pub fn env(&self) -> &Env<'a> {
        &self.env
    }

    /// In a headers or body phase: nothing more follows in this direction.
    pub fn end_of_stream(&self) -> bool {
        self.end_of_stream
    }

    /// The request headers, pseudo-headers included (`:path`, `:method`, ...).
    pub fn request_headers(&self) -> Headers<'a> {
        Headers::new(self.env.host, MapType::RequestHeaders)
    }

    /// The response headers (response phases only).
    pub fn response_headers(&self) -> Headers<'a> {
        Headers::new(self.env.host, MapType::ResponseHeaders)
    }

    pub fn request_trailers(&self) -> Headers<'a> {
        Headers::new(self.env.host, MapType::RequestTrailers)
    }

    pub fn response_trailers(&self) -> Headers<'a> {
        Headers::new(self.env.host, MapType::ResponseTrailers)
    }

    /// The request's `:path`, empty if absent.
    pub fn path(&self) -> String {
        self.request_headers().path().unwrap_or_default()
    }

    /// A query parameter of the request, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::query::query_param(&self.path(), name)
    }

    /// A cookie of the request.
    pub fn cookie(&self, name: &str) -> Option<String> {
        crate::query::cookie(&self.request_headers().get_all("cookie"), name)
    }

    /// In a body phase: the size of the body received (and buffered) so far.
    pub fn body_size(&self) -> usize {
        self.body_size
    }

    /// In a body phase: the bytes received (and buffered) so far.
    pub fn body(&self) -> Vec<u8> {
        let Some(buffer) = self.body_buffer() else {
            return Vec::new();
        };
        self.env
            .host
            .buffer(buffer, 0, self.body_size)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// In a body phase: replaces the body received so far.
    pub fn set_body(&self, body: &[u8]) -> Result<(), HostError> {
        let buffer = self.body_buffer().ok_or(HostError::BadArgument)?;
        self.env.host.set_buffer(buffer, 0, self.body_size, body)
    }

    /// In a headers phase: prepares this direction's body to be replaced
    /// by one of another size, by removing `content-length`.
    ///
    /// The headers leave Envoy when the headers phase returns `Continue`,
    /// before the body phase rewrites anything, and Envoy does not fix
    /// `content-length` afterwards: the receiver would wait for bytes that
    /// never come, or take the extra ones as the next message. Without
    /// `content-length`, Envoy frames the body as it goes (chunked on
    /// HTTP/1). The recipe: call this and return `Continue` from the
    /// headers phase, return `Pause` from the body phase until
    /// `end_of_stream` (the last call sees the whole body), then
    /// [`Stream::set_body`] and `Continue`. Pausing the headers phase
    /// instead does not work: Envoy then holds the body too and does not
    /// run the body phase until the stream resumes.
    pub fn will_replace_body(&self) {
        match self.phase {
            Phase::RequestHeaders => self.request_headers().remove("content-length"),
            Phase::ResponseHeaders => self.response_headers().remove("content-length"),
            _ => self.env.host.log(
                crate::host::LogLevel::Warn,
                "portico: will_replace_body outside a headers phase has no effect",
            ),
        }
    }

    fn body_buffer(&self) -> Option<BufferType> {
        match self.phase {
            Phase::RequestBody => Some(BufferType::RequestBody),
            Phase::ResponseBody => Some(BufferType::ResponseBody),
            _ => None,
        }
    }

    /// Whether this filter already answered the request locally (the response
    /// phases then see that local reply).
    pub fn responded_locally(&self) -> bool {
        self.state.responded
    }

    /// Sends an HTTP request to an Envoy cluster. When the reply (or failure)
    /// arrives, `then` runs with this filter and stream; what it returns decides
    /// the stream's fate (`Continue` resumes a paused stream). Return
    /// [`Action::Pause`] from the phase to wait for it.
    pub fn http_call(
        &mut self,
        request: HttpRequest,
        then: impl FnOnce(&mut F, &mut Stream<'_, F>, Result<HttpResponse, CallError>) -> Action
            + 'static,
    ) -> Result<CallId, HostError> {
        let token = self.env.host.http_call(
            &request.cluster,
            &request.header_refs(),
            &request.body,
            request.timeout,
        )?;
        self.state.calls.insert(token, Box::new(then));
        self.state.limits.insert(token, request.max_response_bytes);
        self.waker.register_stream_call(token, self.state.id);
        Ok(CallId(token))
    }

    /// Runs [`HttpFilter::on_wake`] on another stream of this VM, typically one
    /// that paused waiting for something this stream just obtained. Returns
    /// false if that stream is gone (the client left) or is this one.
    ///
    /// If the woken stream answers locally (`on_wake` returns `Respond`),
    /// Envoy stops this stream's phase too and nothing resumes it: wake
    /// such streams from the root ([`crate::Root::wake`]) instead.
    pub fn wake(&self, stream: StreamId) -> bool {
        self.waker.wake(self.env.host, stream.0, self.state.id)
    }

    pub(crate) fn direction(&self) -> Option<Direction> {
        self.phase.direction()
    }
}
