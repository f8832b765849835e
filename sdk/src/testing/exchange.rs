//! A whole request through the filter ([`Request`] then [`Exchange`]), run
//! as far as the filter lets it, as Envoy would.

use super::state::{insert_header, LocalReply};
use super::stream::{find, find_all, TestStream};
use super::TestVm;
use crate::api::Plugin;
use crate::engine::Flow;
use crate::host::Direction;

/// A whole request to run through a VM: built, then [`Request::send`].
pub struct Request<'v, P: Plugin> {
    vm: &'v TestVm<P>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    source: Option<String>,
    upstream_status: u16,
    upstream_headers: Vec<(String, String)>,
    upstream_body: Vec<u8>,
    trailers: Option<Vec<(String, String)>>,
    upstream_trailers: Option<Vec<(String, String)>>,
}

impl<'v, P: Plugin> Request<'v, P> {
    pub(crate) fn new(vm: &'v TestVm<P>, method: &str, path: &str) -> Self {
        Request {
            vm,
            // In the order Envoy's HTTP/1 codec builds them (`host` is
            // read first, `:scheme` is added last).
            headers: vec![
                (":authority".into(), "example.com".into()),
                (":path".into(), path.into()),
                (":method".into(), method.into()),
                (":scheme".into(), "http".into()),
            ],
            body: Vec::new(),
            source: None,
            upstream_status: 200,
            upstream_headers: Vec::new(),
            upstream_body: Vec::new(),
            trailers: None,
            upstream_trailers: None,
        }
    }

    /// Adds a header (repeat the call for repeated headers). Setting a
    /// pseudo-header replaces the default one.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name.starts_with(':') {
            // In place: Envoy keeps pseudo-headers ahead of the others.
            match self.headers.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value.into(),
                None => insert_header(&mut self.headers, &name, value.into()),
            }
        } else {
            self.headers.push((name, value.into()));
        }
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The downstream peer (`source.address`), default `127.0.0.1:40000`.
    pub fn source(mut self, address: &str) -> Self {
        self.source = Some(address.into());
        self
    }

    /// Adds a request trailer (the request body, if any, then ends with trailers).
    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers
            .get_or_insert_with(Vec::new)
            .push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Trailers the fake upstream ends its response with.
    pub fn upstream_trailers(mut self, trailers: &[(&str, &str)]) -> Self {
        self.upstream_trailers = Some(
            trailers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
        );
        self
    }

    /// What the fake upstream answers if the request reaches it (default 200, no body).
    pub fn upstream_response(mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        self.upstream_status = status;
        self.upstream_headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.upstream_body = body.to_vec();
        self
    }

    /// Runs the request through the filter. If the filter lets it through,
    /// the fake upstream answers and the response phases run; if it pauses,
    /// the exchange stops there ([`Exchange::paused`]) until
    /// [`Exchange::proceed`].
    pub fn send(self) -> Exchange<P> {
        let stream = self.vm.stream();
        let source = self.source.unwrap_or_else(|| "127.0.0.1:40000".into());
        stream.set_property(&["source", "address"], source.as_bytes());
        stream.set_property(&["request", "protocol"], b"HTTP/1.1");
        let start = self.vm.host().now();
        let nanos = start
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let nanos = i64::try_from(nanos).unwrap_or(i64::MAX);
        stream.set_property(&["request", "time"], &nanos.to_le_bytes());
        if let Some((_, id)) = self.headers.iter().find(|(k, _)| k == "x-request-id") {
            stream.set_property(&["request", "id"], id.as_bytes());
        }
        let refs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let has_body = !self.body.is_empty();
        let mut ex = Exchange {
            stream,
            upstream_status: self.upstream_status,
            upstream_headers: self.upstream_headers,
            upstream_body: Some(self.upstream_body),
            pending_body: None,
            reached_upstream: false,
            upstream_request: None,
            upstream_trailers: Vec::new(),
            request_trailers: self.trailers,
            response_trailers: self.upstream_trailers,
            held: None,
            resumes_at_hold: 0,
            stalled: None,
        };
        let eos = !has_body && ex.request_trailers.is_none();
        let flow = ex.stream.send_request_headers(&refs, eos);
        if has_body {
            ex.pending_body = Some(self.body);
        }
        ex.after(flow, Held::RequestHeaders);
        ex
    }
}

/// Where a filter holds an [`Exchange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
}

impl Held {
    fn phase(self) -> &'static str {
        match self {
            Held::RequestHeaders => "on_request_headers",
            Held::RequestBody => "on_request_body",
            Held::RequestTrailers => "on_request_trailers",
            Held::ResponseHeaders => "on_response_headers",
            Held::ResponseBody => "on_response_body",
            Held::ResponseTrailers => "on_response_trailers",
        }
    }
}

/// The outcome of [`Request::send`]: a whole exchange, run as far as the
/// filter lets it, as Envoy would.
///
/// A filter that returns [`crate::Action::Pause`] holds the exchange where it
/// is. Envoy's wasm host turns a pause in a headers phase into "stop
/// everything": the body that follows is buffered and **not** handed to the
/// filter's body phase until the filter resumes the stream (from a callout
/// reply or `on_wake`). The exchange does the same: it stays held
/// ([`Exchange::paused`], [`Exchange::held`] says where and why) and
/// [`Exchange::proceed`] continues it only once the filter resumed it or
/// answered locally.
pub struct Exchange<P: Plugin> {
    stream: TestStream<P>,
    upstream_status: u16,
    upstream_headers: Vec<(String, String)>,
    upstream_body: Option<Vec<u8>>,
    pending_body: Option<Vec<u8>>,
    reached_upstream: bool,
    /// The request headers as the upstream received them.
    upstream_request: Option<Vec<(String, String)>>,
    upstream_trailers: Vec<(String, String)>,
    request_trailers: Option<Vec<(String, String)>>,
    response_trailers: Option<Vec<(String, String)>>,
    held: Option<Held>,
    resumes_at_hold: usize,
    /// Why the client has no complete response though the filter is done.
    stalled: Option<String>,
}

fn is_framed(headers: &[(String, String)]) -> bool {
    find(headers, "content-length").is_some() || find(headers, "transfer-encoding").is_some()
}

/// A message's length as its `content-length` header frames it.
fn framed_length(headers: &[(String, String)]) -> Option<usize> {
    find(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

impl<P: Plugin> Exchange<P> {
    /// Runs the exchange from after `stage` returned `flow`.
    fn after(&mut self, flow: Flow, stage: Held) {
        let mut flow = flow;
        let mut stage = stage;
        loop {
            if self.stream.local_reply().is_some() || self.stream.reset() {
                self.held = None;
                self.stream.finish();
                return;
            }
            if flow == Flow::Pause {
                // A body phase that pauses before the end of its direction
                // buffers; Envoy goes on with what follows (the trailers).
                let buffering = match stage {
                    Held::RequestBody => self.request_trailers.is_some(),
                    Held::ResponseBody => self.response_trailers.is_some(),
                    _ => false,
                };
                if !buffering {
                    self.held = Some(stage);
                    self.resumes_at_hold = self.stream.resume_count();
                    return;
                }
            } else {
                self.held = None;
                match stage {
                    Held::ResponseHeaders => self.stream.response_headers_sent = true,
                    Held::RequestBody | Held::RequestTrailers => {
                        self.stream.release_buffered(Direction::Request)
                    }
                    Held::ResponseBody | Held::ResponseTrailers => {
                        self.stream.release_buffered(Direction::Response)
                    }
                    Held::RequestHeaders => {}
                }
            }
            let next = match stage {
                Held::RequestHeaders => match self.pending_body.take() {
                    Some(body) => {
                        let eos = self.request_trailers.is_none();
                        Some((self.stream.send_request_body(&body, eos), Held::RequestBody))
                    }
                    None => self.request_trailers_phase(),
                },
                Held::RequestBody => self.request_trailers_phase(),
                Held::RequestTrailers => None,
                Held::ResponseHeaders => {
                    match self.upstream_body.take().filter(|b| !b.is_empty()) {
                        Some(body) => {
                            let eos = self.response_trailers.is_none();
                            Some((
                                self.stream.send_response_body(&body, eos),
                                Held::ResponseBody,
                            ))
                        }
                        None => self.response_trailers_phase(),
                    }
                }
                Held::ResponseBody => self.response_trailers_phase(),
                Held::ResponseTrailers => None,
            };
            if let Some((f, s)) = next {
                flow = f;
                stage = s;
                continue;
            }
            let request_done = matches!(
                stage,
                Held::RequestHeaders | Held::RequestBody | Held::RequestTrailers
            );
            if !request_done {
                self.stream.finish();
                self.check_client_framing();
                return;
            }
            match self.reach_upstream() {
                Some(f) => {
                    flow = f;
                    stage = Held::ResponseHeaders;
                }
                None => return,
            }
        }
    }

    fn request_trailers_phase(&mut self) -> Option<(Flow, Held)> {
        let trailers = self.request_trailers.take()?;
        let refs: Vec<(&str, &str)> = trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Some((
            self.stream.send_request_trailers(&refs),
            Held::RequestTrailers,
        ))
    }

    fn response_trailers_phase(&mut self) -> Option<(Flow, Held)> {
        let trailers = self.response_trailers.take()?;
        let refs: Vec<(&str, &str)> = trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Some((
            self.stream.send_response_trailers(&refs),
            Held::ResponseTrailers,
        ))
    }

    /// The request reaches the upstream, which answers: runs the response
    /// headers phase. `None` if the upstream never gets a whole request.
    fn reach_upstream(&mut self) -> Option<Flow> {
        self.reached_upstream = true;
        let mut sent_headers = self.stream.request_headers();
        let had_trailers = !self.stream.request_trailers().is_empty();
        if (!self.stream.upstream_body().is_empty() || had_trailers) && !is_framed(&sent_headers) {
            // Envoy frames a body without content-length as it goes.
            sent_headers.push(("transfer-encoding".into(), "chunked".into()));
        }
        self.upstream_request = Some(sent_headers);
        self.upstream_trailers = self.stream.request_trailers();
        let sent = self.stream.upstream_body().len();
        if let Some(length) = framed_length(&self.stream.request_headers()) {
            if sent < length {
                self.reached_upstream = false;
                self.upstream_request = None;
                self.stalled = Some(format!(
                    "the upstream waits for the rest of the request body: the request went out with content-length: {length} but the filter's body has {sent} bytes. After changing a body's size, fix content-length in the headers phase (remove it, or set the new size while the headers are still held)"
                ));
                return None;
            }
        }
        let mut headers = vec![(":status".to_string(), self.upstream_status.to_string())];
        headers.extend(self.upstream_headers.iter().cloned());
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let eos = self.upstream_body.as_ref().is_none_or(Vec::is_empty)
            && self.response_trailers.is_none();
        Some(self.stream.send_response_headers(&refs, eos))
    }

    /// The client reads as many bytes as the response's content-length says.
    fn check_client_framing(&mut self) {
        let got = self.stream.client_body().len();
        if let Some(length) = framed_length(&self.stream.response_headers()) {
            if got < length {
                self.stalled = Some(format!(
                    "the client waits for the rest of the response body: the response went out with content-length: {length} but the filter's body has {got} bytes. After changing a body's size, fix content-length in the headers phase (remove it, or set the new size while the headers are still held)"
                ));
            }
        }
    }

    /// Continues a held exchange once the filter resumed it (a callout reply
    /// or `on_wake` returned `Continue`) or answered locally: the held body
    /// reaches the filter, then the upstream answers, and so on.
    ///
    /// Panics if the filter did neither: in Envoy the stream would stay
    /// stuck until a timeout. Check [`Exchange::resumable`] first when that
    /// is expected.
    pub fn proceed(&mut self) {
        let Some(held) = self.held else {
            return;
        };
        if !self.resumable() {
            panic!(
                "proceed(): {}",
                self.held()
                    .unwrap_or_else(|| format!("held in {}", held.phase()))
            );
        }
        self.after(Flow::Continue, held);
    }

    /// Whether the filter resumed the held exchange (or answered locally,
    /// or reset the stream) since it paused, so that [`Exchange::proceed`]
    /// can continue it (to its end, after a local reply or a reset).
    pub fn resumable(&self) -> bool {
        self.held.is_some()
            && (self.stream.resume_count() > self.resumes_at_hold
                || self.stream.local_reply().is_some()
                || self.stream.reset())
    }

    /// Where and why the filter holds the exchange, `None` if it does not.
    /// A pause in a headers phase holds the body too: Envoy does not run
    /// the body phase until the filter resumes the stream.
    pub fn held(&self) -> Option<String> {
        if self.stream.reset() {
            // Reset from a callback while held: the exchange is over.
            return None;
        }
        let held = self.held?;
        let body_waits = match held {
            Held::RequestHeaders => self.pending_body.is_some(),
            Held::ResponseHeaders => self.upstream_body.as_ref().is_some_and(|b| !b.is_empty()),
            _ => false,
        };
        if let Some(note) = self.stream.stop_note() {
            return Some(format!("held in {}: {note}", held.phase()));
        }
        let mut why = format!(
            "the filter returned Pause from {} and has not resumed the stream (a callout reply or on_wake must return Continue)",
            held.phase()
        );
        if body_waits {
            why.push_str(&format!(
                "; the {} body is held too: Envoy's wasm host turns a pause in a headers phase into \"stop everything\", so {} does not run until the stream resumes. To read or rewrite a body, return Continue from the headers phase and Pause from the body phase until end_of_stream",
                if held == Held::RequestHeaders { "request" } else { "response" },
                if held == Held::RequestHeaders { "on_request_body" } else { "on_response_body" },
            ));
        }
        Some(why)
    }

    /// Why the client has no (complete) response: the filter holds the
    /// exchange ([`Exchange::held`]), or a body's size no longer matches the
    /// `content-length` that went out with its headers, so the receiver
    /// waits for bytes that never come (Envoy does not fix
    /// `content-length` after a body rewrite). `None` when the client got
    /// its response.
    pub fn stalled(&self) -> Option<String> {
        self.held().or_else(|| self.stalled.clone())
    }

    /// True while the filter holds the exchange (waiting on a callout or a wake-up).
    pub fn paused(&self) -> bool {
        self.held.is_some()
    }

    /// The client goes away while the filter holds the exchange: the
    /// stream ends (the filter's `on_done` runs), as when Envoy's
    /// downstream disconnects.
    pub fn abort(&mut self) {
        self.held = None;
        self.stream.finish();
    }

    /// The status the client got: the local reply's or the upstream's.
    ///
    /// Panics while the exchange is held: the client has no response yet
    /// (see [`Exchange::held`]).
    pub fn status(&self) -> u16 {
        if let Some(why) = self.stalled() {
            panic!("status(): the client has no response yet: {why}");
        }
        if self.stream.reset() {
            return 0;
        }
        self.stream
            .response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Whether Envoy would reset the stream: the filter reset it, or
    /// answered locally after the response headers had already gone to the
    /// client.
    pub fn reset(&self) -> bool {
        self.stream.reset()
    }

    /// How many times the filter cleared the route cache.
    pub fn route_cache_cleared(&self) -> u32 {
        self.stream.route_cache_cleared()
    }

    /// Whether the request reached the upstream.
    pub fn reached_upstream(&self) -> bool {
        self.reached_upstream
    }

    /// The request headers (pseudo-headers included) as the upstream
    /// received them; `None` if the request never got there.
    pub fn upstream_request(&self) -> Option<&[(String, String)]> {
        self.upstream_request.as_deref()
    }

    /// A request header as the upstream received it (`None` if it never got there).
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        find(self.upstream_request.as_deref()?, name)
    }

    /// Every value of a request header as the upstream received it.
    pub fn upstream_header_all(&self, name: &str) -> Vec<String> {
        find_all(self.upstream_request.as_deref().unwrap_or(&[]), name)
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        find(&self.response_headers(), name)
    }

    /// The response headers as the client got them: Envoy's HTTP/1 codec
    /// frames a response without `content-length`: `content-length: 0`
    /// when it has no body, chunked otherwise (1xx, 204 and 304 aside).
    pub fn response_headers(&self) -> Vec<(String, String)> {
        let mut headers = self.stream.response_headers();
        let status = find(&headers, ":status").and_then(|s| s.parse::<u16>().ok());
        let bodiless = matches!(status, Some(100..=199 | 204 | 304));
        if !bodiless && !is_framed(&headers) {
            if self.stream.client_body().is_empty() {
                headers.push(("content-length".into(), "0".into()));
            } else {
                headers.push(("transfer-encoding".into(), "chunked".into()));
            }
        }
        headers
    }

    /// The response body the client got (no more than its content-length).
    pub fn body(&self) -> String {
        let body = self.stream.client_body();
        let length = framed_length(&self.stream.response_headers()).unwrap_or(body.len());
        String::from_utf8_lossy(body.get(..length).unwrap_or(body)).into_owned()
    }

    /// The request trailers the upstream got.
    pub fn upstream_trailers(&self) -> &[(String, String)] {
        &self.upstream_trailers
    }

    /// The response trailers the client got.
    pub fn response_trailers(&self) -> Vec<(String, String)> {
        self.stream.response_trailers()
    }

    /// The request body the upstream got (no more than its content-length).
    pub fn upstream_body(&self) -> Vec<u8> {
        let body = self.stream.upstream_body();
        let length = self
            .upstream_request
            .as_deref()
            .and_then(framed_length)
            .unwrap_or(body.len());
        body.get(..length).unwrap_or(body).to_vec()
    }

    pub fn local_reply(&self) -> Option<LocalReply> {
        self.stream.local_reply()
    }

    pub fn stream(&self) -> &TestStream<P> {
        &self.stream
    }

    pub fn stream_mut(&mut self) -> &mut TestStream<P> {
        &mut self.stream
    }
}
