//! Driving one stream through the filter, phase by phase or as a whole exchange.

use super::state::{LocalReply, StreamData};
use super::{map_of, TestHost, TestVm, VmInner};
use crate::filter::Plugin;
use crate::host::{Direction, MapType};
use crate::runtime::{Flow, StreamRuntime};
use std::rc::Rc;

/// One request/response through the filter, driven phase by phase.
///
/// Each `send_*` runs the matching phase and returns what the filter told
/// Envoy. Afterwards, read what Envoy would now hold: the headers as they
/// would go upstream ([`TestStream::request_headers`]), the local reply, the
/// response headers as the client would see them.
pub struct TestStream<P: Plugin> {
    host: TestHost,
    vm: Rc<VmInner<P>>,
    id: u32,
    runtime: Option<Rc<StreamRuntime<P>>>,
    request_body_paused: bool,
    response_body_paused: bool,
    upstream_body: Vec<u8>,
    client_body: Vec<u8>,
    done: bool,
}

fn pairs(headers: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect()
}

fn strings(pairs: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

impl<P: Plugin> TestStream<P> {
    pub(crate) fn new(
        host: TestHost,
        vm: Rc<VmInner<P>>,
        id: u32,
        runtime: Option<Rc<StreamRuntime<P>>>,
    ) -> Self {
        TestStream {
            host,
            vm,
            id,
            runtime,
            request_body_paused: false,
            response_body_paused: false,
            upstream_body: Vec::new(),
            client_body: Vec::new(),
            done: false,
        }
    }

    fn data<T>(&self, f: impl FnOnce(&mut StreamData) -> T) -> T {
        let mut state = self.host.state.borrow_mut();
        let data = state.streams.entry(self.id).or_default();
        f(data)
    }

    fn run(&self, f: impl FnOnce(&StreamRuntime<P>, &super::state::VmHost) -> Flow) -> Flow {
        match &self.runtime {
            Some(rt) => self.vm.at(self.id, |h| f(rt, h)),
            None => Flow::Continue,
        }
    }

    /// Sets a per-request attribute, e.g. `&["source", "address"]`.
    pub fn set_property(&self, path: &[&str], value: &[u8]) {
        self.data(|d| {
            d.properties
                .insert(super::state::property_key(path), value.to_vec())
        });
    }

    /// Runs the request-headers phase with these headers (pseudo-headers included).
    pub fn send_request_headers(&mut self, headers: &[(&str, &str)], end_of_stream: bool) -> Flow {
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::RequestHeaders), pairs(headers));
        });
        let flow = self.run(|rt, h| rt.on_request_headers(h, end_of_stream));
        self.after_request_phase(flow)
    }

    /// Runs the request-body phase with one more chunk. If the filter paused
    /// (buffered) on the previous chunk, it sees all chunks so far.
    pub fn send_request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Flow {
        let buffered = self.request_body_paused;
        let size = self.data(|d| {
            if !buffered {
                d.request_body.clear();
            }
            d.request_body.extend_from_slice(chunk);
            d.request_body.len()
        });
        let flow = self.run(|rt, h| rt.on_request_body(h, size, end_of_stream));
        self.request_body_paused = flow == Flow::Pause;
        if flow == Flow::Continue {
            let body = self.data(|d| std::mem::take(&mut d.request_body));
            self.upstream_body.extend_from_slice(&body);
        }
        self.after_request_phase(flow)
    }

    pub fn send_request_trailers(&mut self, trailers: &[(&str, &str)]) -> Flow {
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::RequestTrailers), pairs(trailers));
        });
        let flow = self.run(|rt, h| rt.on_request_trailers(h));
        self.after_request_phase(flow)
    }

    fn after_request_phase(&mut self, flow: Flow) -> Flow {
        self.pass_local_reply_through();
        flow
    }

    /// Envoy sends a local reply through the response phases of the filter
    /// that made it, once the callback that asked for it has returned.
    fn pass_local_reply_through(&mut self) {
        let local = self.data(|d| {
            let fresh =
                d.local.is_some() && !d.maps.contains_key(&map_of(MapType::ResponseHeaders));
            if fresh {
                d.local.clone()
            } else {
                None
            }
        });
        let Some(reply) = local else { return };
        let mut headers = vec![(":status".to_string(), reply.status.to_string().into_bytes())];
        headers.extend(
            reply
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
        );
        let has_body = !reply.body.is_empty();
        self.data(|d| {
            d.maps.insert(map_of(MapType::ResponseHeaders), headers);
            d.response_body = reply.body.clone();
        });
        let _ = self.run(|rt, h| rt.on_response_headers(h, !has_body));
        if has_body {
            let size = reply.body.len();
            let _ = self.run(|rt, h| rt.on_response_body(h, size, true));
            let body = self.data(|d| std::mem::take(&mut d.response_body));
            self.client_body = body;
        }
    }

    /// Runs the response-headers phase, as if the upstream answered with these.
    pub fn send_response_headers(&mut self, headers: &[(&str, &str)], end_of_stream: bool) -> Flow {
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::ResponseHeaders), pairs(headers));
        });
        self.run(|rt, h| rt.on_response_headers(h, end_of_stream))
    }

    pub fn send_response_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Flow {
        let buffered = self.response_body_paused;
        let size = self.data(|d| {
            if !buffered {
                d.response_body.clear();
            }
            d.response_body.extend_from_slice(chunk);
            d.response_body.len()
        });
        let flow = self.run(|rt, h| rt.on_response_body(h, size, end_of_stream));
        self.response_body_paused = flow == Flow::Pause;
        if flow == Flow::Continue {
            let body = self.data(|d| std::mem::take(&mut d.response_body));
            self.client_body.extend_from_slice(&body);
        }
        flow
    }

    pub fn send_response_trailers(&mut self, trailers: &[(&str, &str)]) -> Flow {
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::ResponseTrailers), pairs(trailers));
        });
        self.run(|rt, h| rt.on_response_trailers(h))
    }

    /// Ends the stream: runs the filter's `on_done` (Envoy's log phase).
    pub fn finish(&mut self) {
        if self.done {
            return;
        }
        // A local reply sent from a callout reply or a wake-up (outside a
        // phase) still goes through the response phases first, as in Envoy.
        self.pass_local_reply_through();
        self.done = true;
        if let Some(rt) = &self.runtime {
            self.vm.at(self.id, |h| rt.on_done(h));
        }
    }

    /// Request headers as they stand now (what the upstream gets once the request continues).
    pub fn request_headers(&self) -> Vec<(String, String)> {
        self.data(|d| {
            strings(
                d.maps
                    .get(&map_of(MapType::RequestHeaders))
                    .map_or(&[], |v| v),
            )
        })
    }

    /// First value of a request header, as it stands now.
    pub fn request_header(&self, name: &str) -> Option<String> {
        find(&self.request_headers(), name)
    }

    /// Every value of a request header, as it stands now.
    pub fn request_header_all(&self, name: &str) -> Vec<String> {
        find_all(&self.request_headers(), name)
    }

    /// Response headers as the client would see them.
    pub fn response_headers(&self) -> Vec<(String, String)> {
        self.data(|d| {
            strings(
                d.maps
                    .get(&map_of(MapType::ResponseHeaders))
                    .map_or(&[], |v| v),
            )
        })
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        find(&self.response_headers(), name)
    }

    pub fn response_header_all(&self, name: &str) -> Vec<String> {
        find_all(&self.response_headers(), name)
    }

    /// The body passed upstream so far.
    pub fn upstream_body(&self) -> &[u8] {
        &self.upstream_body
    }

    /// The response body passed to the client so far.
    pub fn client_body(&self) -> &[u8] {
        &self.client_body
    }

    /// The filter's local response, if it answered one.
    pub fn local_reply(&self) -> Option<LocalReply> {
        self.data(|d| d.local.clone())
    }

    /// Whether a paused request was resumed (from a callout reply or a wake-up).
    pub fn request_resumed(&self) -> bool {
        self.data(|d| d.resumed.contains(&Direction::Request))
    }

    pub fn response_resumed(&self) -> bool {
        self.data(|d| d.resumed.contains(&Direction::Response))
    }

    /// This stream's id, as [`crate::StreamId`] carries it.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl<P: Plugin> Drop for TestStream<P> {
    fn drop(&mut self) {
        self.vm.streams.borrow_mut().remove(&self.id);
        self.runtime = None;
        self.host.state.borrow_mut().streams.remove(&self.id);
    }
}

fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn find_all(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

/// A whole request to run through a VM: built, then [`Request::send`].
pub struct Request<'v, P: Plugin> {
    vm: &'v TestVm<P>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    source: Option<String>,
    upstream_status: u16,
    upstream_headers: Vec<(String, String)>,
    upstream_body: Vec<u8>,
}

impl<'v, P: Plugin> Request<'v, P> {
    pub(crate) fn new(vm: &'v TestVm<P>, method: &str, path: &str) -> Self {
        Request {
            vm,
            headers: vec![
                (":method".into(), method.into()),
                (":path".into(), path.into()),
                (":authority".into(), "example.com".into()),
                (":scheme".into(), "http".into()),
            ],
            body: Vec::new(),
            source: None,
            upstream_status: 200,
            upstream_headers: Vec::new(),
            upstream_body: Vec::new(),
        }
    }

    /// Adds a header (repeat the call for repeated headers). Setting a
    /// pseudo-header replaces the default one.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name.starts_with(':') {
            self.headers.retain(|(k, _)| *k != name);
        }
        self.headers.push((name, value.into()));
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
            upstream_body: self.upstream_body,
            pending_body: None,
            reached_upstream: false,
        };
        let flow = ex.stream.send_request_headers(&refs, !has_body);
        if has_body {
            ex.pending_body = Some(self.body);
        }
        if flow == Flow::Continue {
            ex.proceed();
        }
        ex
    }
}

/// The outcome of [`Request::send`].
pub struct Exchange<P: Plugin> {
    stream: TestStream<P>,
    upstream_status: u16,
    upstream_headers: Vec<(String, String)>,
    upstream_body: Vec<u8>,
    pending_body: Option<Vec<u8>>,
    reached_upstream: bool,
}

impl<P: Plugin> Exchange<P> {
    /// Continues a paused exchange after the filter resumed it (or answered
    /// locally): sends the body, then lets the upstream answer.
    pub fn proceed(&mut self) {
        if self.stream.local_reply().is_some() {
            self.stream.finish();
            return;
        }
        if let Some(body) = self.pending_body.take() {
            if self.stream.send_request_body(&body, true) == Flow::Pause {
                return;
            }
            if self.stream.local_reply().is_some() {
                self.stream.finish();
                return;
            }
        }
        self.reached_upstream = true;
        let mut headers = vec![(":status".to_string(), self.upstream_status.to_string())];
        headers.extend(self.upstream_headers.iter().cloned());
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = std::mem::take(&mut self.upstream_body);
        self.stream.send_response_headers(&refs, body.is_empty());
        if !body.is_empty() {
            self.stream.send_response_body(&body, true);
        }
        self.stream.finish();
    }

    /// True while the filter holds the request (waiting on a callout or a wake-up).
    pub fn paused(&self) -> bool {
        !self.reached_upstream && self.stream.local_reply().is_none() && !self.stream.done
    }

    /// The status the client got: the local reply's or the upstream's.
    pub fn status(&self) -> u16 {
        self.stream
            .response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the request reached the upstream.
    pub fn reached_upstream(&self) -> bool {
        self.reached_upstream
    }

    /// A request header as the upstream received it (`None` if it never got there).
    pub fn upstream_header(&self, name: &str) -> Option<String> {
        if !self.reached_upstream {
            return None;
        }
        self.stream.request_header(name)
    }

    pub fn response_header(&self, name: &str) -> Option<String> {
        self.stream.response_header(name)
    }

    /// The response body the client got.
    pub fn body(&self) -> String {
        String::from_utf8_lossy(self.stream.client_body()).into_owned()
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
