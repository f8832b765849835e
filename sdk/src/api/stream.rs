//! The per-request context handed to every phase of an [`HttpFilter`].

use super::env::Env;
use super::filter::HttpFilter;
use super::grpc_call::{decode, GrpcError, GrpcRequest};
use super::headers::Headers;
use super::http_call::{CallError, CallId, HttpRequest, HttpResponse};
use super::root::TimerId;
use super::services::{CallKind, Pending, Reply, StreamServices};
use super::{IntoVerdict, LocalResponse};
use crate::host::{BufferType, Direction, HostError, LogLevel, MapType};
use std::cell::Cell;
use std::ops::{Deref, Range};
use std::time::Duration;

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
    /// A callout reply, a timer or a wake-up, outside the host's phase callbacks.
    Callback,
    Done,
}

impl Phase {
    /// The direction a phase's `Pause` holds.
    pub(crate) fn direction(self) -> Option<Direction> {
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

/// Where a phase stands, as the engine hands it to [`Stream`].
pub(crate) struct PhaseInfo {
    pub phase: Phase,
    pub end_of_stream: bool,
    pub body_size: usize,
    pub responded: bool,
}

/// The request being filtered: its headers, body, and the ways to reach
/// other contexts. Dereferences to [`Env`] for the clock, properties,
/// shared data and metrics.
pub struct Stream<'a, F: HttpFilter> {
    env: Env<'a>,
    id: u32,
    services: &'a dyn StreamServices<F>,
    info: PhaseInfo,
    /// The body's length in a body phase, as this phase's own edits left it.
    body_len: Cell<usize>,
    /// Where this filter's view of the buffer starts: 0, except for a
    /// chain member before one that buffered, which sees only the bytes
    /// that came since (as a separate filter would).
    body_start: usize,
}

impl<'a, F: HttpFilter> Deref for Stream<'a, F> {
    type Target = Env<'a>;
    fn deref(&self) -> &Env<'a> {
        &self.env
    }
}

impl<'a, F: HttpFilter> Stream<'a, F> {
    pub(crate) fn new(
        env: Env<'a>,
        id: u32,
        services: &'a dyn StreamServices<F>,
        info: PhaseInfo,
    ) -> Self {
        Stream {
            env,
            id,
            services,
            body_len: Cell::new(info.body_size),
            body_start: 0,
            info,
        }
    }

    /// This stream with its view of the body starting at `start` (clamped
    /// to the body): the bytes before it are not this filter's to see.
    pub(crate) fn with_body_start(mut self, start: usize) -> Self {
        self.body_start = start.min(self.body_len.get());
        self
    }

    /// Where this filter's view of the body starts (see `with_body_start`).
    pub(crate) fn body_start(&self) -> usize {
        self.body_start
    }

    /// Records the buffer's length after another view of this stream
    /// changed it (a chain's member): what this stream reports next.
    pub(crate) fn set_body_total(&self, len: usize) {
        self.body_len.set(len);
    }

    /// The whole buffer's length, whatever this filter's view of it.
    pub(crate) fn body_total(&self) -> usize {
        self.body_len.get()
    }

    pub fn id(&self) -> StreamId {
        StreamId(self.id)
    }

    pub fn phase(&self) -> Phase {
        self.info.phase
    }

    /// The environment, for APIs that take `&Env` (metrics, for instance).
    pub fn env(&self) -> &Env<'a> {
        &self.env
    }

    /// In a headers or body phase: nothing more follows in this direction.
    pub fn end_of_stream(&self) -> bool {
        self.info.end_of_stream
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
        self.body_len.get().saturating_sub(self.body_start)
    }

    /// In a body phase: the bytes received (and buffered) so far, as this
    /// phase has left them.
    pub fn body(&self) -> Vec<u8> {
        self.body_range(0..self.body_size())
    }

    /// In a body phase: the bytes of `range` (clamped to the body).
    pub fn body_range(&self, range: Range<usize>) -> Vec<u8> {
        let Some(buffer) = self.body_buffer() else {
            return Vec::new();
        };
        let len = range.end.saturating_sub(range.start);
        if len == 0 {
            return Vec::new();
        }
        self.env
            .host
            .buffer(buffer, self.body_start.saturating_add(range.start), len)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// In a body phase: replaces the body received so far.
    pub fn set_body(&self, body: &[u8]) -> Result<(), HostError> {
        self.replace_body(0..self.body_size(), body)
    }

    /// In a body phase: adds `data` after the body received so far.
    pub fn append_body(&self, data: &[u8]) -> Result<(), HostError> {
        let buffer = self.body_buffer().ok_or(HostError::BadArgument)?;
        let len = self.body_len.get();
        // Envoy appends when `start` is at or past the end.
        self.env.host.set_buffer(buffer, len, 0, data)?;
        self.body_len.set(len + data.len());
        Ok(())
    }

    /// In a body phase: puts `data` before the body received so far.
    pub fn prepend_body(&self, data: &[u8]) -> Result<(), HostError> {
        self.replace_body(0..0, data)
    }

    /// In a body phase: replaces the bytes of `range` by `data` (of any
    /// size). `BadArgument` when the range is not within the body.
    ///
    /// Envoy can replace only a prefix of its buffer (and append); a range
    /// that starts later is done by rewriting the whole buffer, which costs
    /// a copy of the body in and out of the VM.
    pub fn replace_body(&self, range: Range<usize>, data: &[u8]) -> Result<(), HostError> {
        let buffer = self.body_buffer().ok_or(HostError::BadArgument)?;
        let len = self.body_len.get();
        if range.start > range.end || range.end > self.body_size() {
            return Err(HostError::BadArgument);
        }
        let range = self.body_start + range.start..self.body_start + range.end;
        let new_len = len - (range.end - range.start) + data.len();
        if range.start == 0 {
            self.env.host.set_buffer(buffer, 0, range.end, data)?;
        } else {
            let mut whole = self
                .env
                .host
                .buffer(buffer, 0, len)
                .ok()
                .flatten()
                .unwrap_or_default();
            if whole.len() != len {
                return Err(HostError::BadArgument);
            }
            whole.splice(range, data.iter().copied());
            self.env.host.set_buffer(buffer, 0, len, &whole)?;
        }
        self.body_len.set(new_len);
        Ok(())
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
        match self.info.phase {
            Phase::RequestHeaders => self.request_headers().remove("content-length"),
            Phase::ResponseHeaders => self.response_headers().remove("content-length"),
            _ => self.env.host.log(
                LogLevel::Warn,
                "portico: will_replace_body outside a headers phase has no effect",
            ),
        }
    }

    fn body_buffer(&self) -> Option<BufferType> {
        match self.info.phase {
            Phase::RequestBody => Some(BufferType::RequestBody),
            Phase::ResponseBody => Some(BufferType::ResponseBody),
            _ => None,
        }
    }

    /// Tells Envoy to pick the route again when the request goes on: call
    /// it after changing a header or the path that routing depends on
    /// (Envoy chose the route before the filters ran).
    pub fn clear_route_cache(&self) -> Result<(), HostError> {
        self.env
            .host
            .call_foreign_function("clear_route_cache", &[])
            .map(|_| ())
    }

    /// Resets the stream: the upstream request (if any) is cancelled and
    /// the client gets no response, or a cut one if it had started. Return
    /// [`crate::Action::Pause`] afterwards; nothing else runs but `on_done`.
    pub fn reset(&self) -> Result<(), HostError> {
        let direction = self.info.phase.direction().unwrap_or(Direction::Request);
        self.env.host.close_stream(direction)
    }

    /// Whether this filter already answered the request locally (the response
    /// phases then see that local reply).
    pub fn responded_locally(&self) -> bool {
        self.info.responded
    }

    /// Sends an HTTP request to an Envoy cluster. When the reply (or failure)
    /// arrives, `then` runs with this filter, the plugin and the stream; what
    /// it returns decides the stream's fate (`Continue` resumes a paused
    /// stream). Return [`crate::Action::Pause`] from the phase to wait for it.
    pub fn http_call<R: IntoVerdict>(
        &mut self,
        request: HttpRequest,
        then: impl FnOnce(&mut F, &F::Plugin, &mut Stream<'_, F>, Result<HttpResponse, CallError>) -> R
            + 'static,
    ) -> Result<CallId, HostError> {
        let token = request.dispatch(self.env.host)?;
        self.services.add_stream_call(
            self.id,
            token,
            Pending {
                limit: request.max_response_bytes,
                kind: CallKind::Http,
                then: Box::new(move |f, p, s, reply| match reply {
                    Reply::Http(result) => then(f, p, s, result).into_verdict(),
                    Reply::Grpc(_) => Err(mismatched_reply()),
                }),
            },
        );
        Ok(CallId(token))
    }

    /// Makes a unary gRPC call. When the reply arrives, `then` runs with the
    /// decoded message of type `M` (or the status the call closed with) and
    /// decides the stream's fate, as for [`Stream::http_call`].
    pub fn grpc_call<M: prost::Message + Default + 'static, R: IntoVerdict>(
        &mut self,
        request: GrpcRequest,
        then: impl FnOnce(&mut F, &F::Plugin, &mut Stream<'_, F>, Result<M, GrpcError>) -> R + 'static,
    ) -> Result<CallId, HostError> {
        let token = request.dispatch(self.env.host)?;
        self.services.add_stream_call(
            self.id,
            token,
            Pending {
                limit: request.max_response_bytes,
                kind: CallKind::Grpc,
                then: Box::new(move |f, p, s, reply| match reply {
                    Reply::Grpc(bytes) => then(f, p, s, decode(bytes)).into_verdict(),
                    Reply::Http(_) => Err(mismatched_reply()),
                }),
            },
        );
        Ok(CallId(token))
    }

    /// Runs `then` on this stream once, `after` from now (rounded up to the
    /// host's 1 ms tick), as a callback: what it returns decides the
    /// stream's fate, as for a callout reply. The timer goes with the stream:
    /// it never fires after the stream ended.
    pub fn set_timer<R: IntoVerdict>(
        &mut self,
        after: Duration,
        then: impl FnOnce(&mut F, &F::Plugin, &mut Stream<'_, F>) -> R + 'static,
    ) -> TimerId {
        self.services.add_stream_timer(
            self.env.host,
            self.id,
            after,
            Box::new(move |f, p, s| then(f, p, s).into_verdict()),
        )
    }

    /// Stops a timer of this VM. Cancelling one that already ran is harmless.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.services.cancel_timer(self.env.host, id);
    }

    /// Runs [`HttpFilter::on_wake`] on another stream of this VM, typically one
    /// that paused waiting for something this stream just obtained. Returns
    /// false if that stream is gone (the client left) or is this one.
    ///
    /// If the woken stream answers locally (`on_wake` returns a local reply),
    /// Envoy stops this stream's phase too and nothing resumes it: wake
    /// such streams from the root ([`crate::Root::wake`]) instead.
    pub fn wake(&self, stream: StreamId) -> bool {
        self.services.wake(
            self.env.host,
            stream.0,
            self.id,
            Box::new(|f, p, s| f.on_wake(p, s)),
        )
    }

    /// What a chain's projection of this stream needs: the engine's services.
    pub(crate) fn services(&self) -> &'a dyn StreamServices<F> {
        self.services
    }
}

/// The engine reads a reply as the call's kind says; a reply of the other
/// kind cannot reach a continuation, and would fail closed if it did.
fn mismatched_reply() -> LocalResponse {
    LocalResponse::new(500).details("portico_mismatched_callout_reply")
}
