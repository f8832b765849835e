//! Driving one stream through the filter, phase by phase or as a whole exchange.

use super::state::{LocalReply, StreamData};
use super::{map_of, TestHost, VmInner};
use crate::api::Plugin;
use crate::engine::{Flow, StreamRuntime};
use crate::host::{Direction, MapType};
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
    /// The filter's local reply was delivered (through the response phases
    /// or straight to the client).
    local_applied: bool,
    /// The response headers went to the client (their phase continued).
    pub(crate) response_headers_sent: bool,
    /// A local reply asked for after the response headers went to the
    /// client: Envoy resets the stream.
    reset: bool,
    /// Per direction (request, response): the headers phase paused, with
    /// the number of resumes of that direction at the time.
    headers_held: [Option<usize>; 2],
}

/// Headers as Envoy's codec stores them: names lower-cased, repeated
/// inline headers (`authorization`, `user-agent`, ...) joined with `,`.
fn pairs(headers: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (k, v) in headers {
        super::state::add_merging(&mut out, &k.to_ascii_lowercase(), v.as_bytes());
    }
    out
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
            local_applied: false,
            response_headers_sent: false,
            reset: false,
            headers_held: [None, None],
        }
    }

    fn data<T>(&self, f: impl FnOnce(&mut StreamData) -> T) -> T {
        let mut state = self.host.state.borrow_mut();
        let data = state.streams.entry(self.id).or_default();
        f(data)
    }

    fn run(&self, f: impl FnOnce(&StreamRuntime<P>, &dyn crate::host::Host) -> Flow) -> Flow {
        let flow = match &self.runtime {
            Some(rt) => self.vm.hook(self.id, |h| f(rt, h)),
            None => Flow::Continue,
        };
        match self.data(|d| d.stopped_by_reply_to.take()) {
            Some(other) => {
                self.data(|d| {
                    d.stop_note = Some(format!(
                        "Envoy stopped this stream: during its phase the filter answered stream {other} locally (woken with Stream::wake, its on_wake answered locally), and Envoy's wasm host then stops the phase that was running, whatever the filter returned; nothing resumes it. Answer a woken stream from a root timer or callout instead, or let it resume and answer from its own phase"
                    ))
                });
                Flow::Pause
            }
            None => flow,
        }
    }

    /// Why Envoy stopped this stream on its own, if it did.
    pub(crate) fn stop_note(&self) -> Option<String> {
        self.data(|d| d.stop_note.clone())
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
        self.hide_after(flow, MapType::RequestHeaders);
        self.note_headers_pause(Direction::Request, flow);
        self.after_request_phase(flow)
    }

    /// Runs the request-body phase with one more chunk. If the filter paused
    /// (buffered) on the previous chunk, it sees all chunks so far.
    pub fn send_request_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Flow {
        self.refuse_if_headers_held(Direction::Request, "on_request_body");
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
        self.refuse_if_headers_held(Direction::Request, "on_request_trailers");
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::RequestTrailers), pairs(trailers));
        });
        let flow = self.run(|rt, h| rt.on_request_trailers(h));
        self.hide_after(flow, MapType::RequestTrailers);
        self.after_request_phase(flow)
    }

    fn after_request_phase(&mut self, flow: Flow) -> Flow {
        self.pass_local_reply_through();
        flow
    }

    /// Envoy sends a local reply through the response phases of the filter
    /// that made it, once the callback that asked for it has returned.
    fn pass_local_reply_through(&mut self) {
        if self.local_applied {
            return;
        }
        let local = self.data(|d| {
            let fresh =
                d.local.is_some() && !d.maps.contains_key(&map_of(MapType::ResponseHeaders));
            if fresh {
                d.local.clone()
            } else {
                None
            }
        });
        let Some(reply) = local else {
            // A reply asked for outside a phase once the upstream's response
            // had started (from a callout reply or a wake-up).
            self.after_response_phase();
            return;
        };
        self.local_applied = true;
        let headers = local_reply_headers(&reply);
        let has_body = !reply.body.is_empty();
        self.data(|d| {
            d.maps.insert(map_of(MapType::ResponseHeaders), headers);
            d.response_body = reply.body.clone();
        });
        let flow = self.run(|rt, h| rt.on_response_headers(h, !has_body));
        self.hide_after(flow, MapType::ResponseHeaders);
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
        let flow = self.run(|rt, h| rt.on_response_headers(h, end_of_stream));
        self.hide_after(flow, MapType::ResponseHeaders);
        self.note_headers_pause(Direction::Response, flow);
        self.after_response_phase();
        flow
    }

    /// A local reply asked for while the upstream's response was being
    /// filtered. Envoy sends it straight to the client, without running
    /// the filter's response phases again, if the response headers have
    /// not gone to the client yet; otherwise it can only reset the stream.
    fn after_response_phase(&mut self) {
        let local = self.data(|d| d.local.clone());
        let Some(reply) = local else { return };
        if self.local_applied {
            return;
        }
        self.local_applied = true;
        if self.response_headers_sent {
            self.reset = true;
            return;
        }
        let headers = local_reply_headers(&reply);
        self.data(|d| {
            d.maps.insert(map_of(MapType::ResponseHeaders), headers);
            d.response_body.clear();
        });
        self.client_body = reply.body;
    }

    /// Whether Envoy would have reset the stream: the filter reset it
    /// ([`crate::Stream::reset`]), or answered locally after the response
    /// headers went to the client.
    pub fn reset(&self) -> bool {
        self.reset || self.data(|d| d.reset_by_filter)
    }

    /// How many times the filter cleared the route cache
    /// ([`crate::Stream::clear_route_cache`]).
    pub fn route_cache_cleared(&self) -> u32 {
        self.data(|d| d.route_cache_cleared)
    }

    /// After a body phase that paused (buffered) is resumed, Envoy passes
    /// on what it buffered.
    pub(crate) fn release_buffered(&mut self, direction: Direction) {
        match direction {
            Direction::Request => {
                let body = self.data(|d| std::mem::take(&mut d.request_body));
                self.upstream_body.extend_from_slice(&body);
                self.request_body_paused = false;
            }
            Direction::Response => {
                let body = self.data(|d| std::mem::take(&mut d.response_body));
                if !self.local_applied {
                    self.client_body.extend_from_slice(&body);
                }
                self.response_body_paused = false;
            }
        }
    }

    fn resumes(&self, direction: Direction) -> usize {
        self.data(|d| d.resumed.iter().filter(|r| **r == direction).count())
    }

    fn note_headers_pause(&mut self, direction: Direction, flow: Flow) {
        let slot = usize::from(direction == Direction::Response);
        self.headers_held[slot] = (flow == Flow::Pause).then(|| self.resumes(direction));
    }

    /// Envoy does not run a body or trailers phase while the headers phase
    /// of that direction is paused ("stop everything"): a test that does
    /// would pass where Envoy hangs.
    fn refuse_if_headers_held(&mut self, direction: Direction, phase: &str) {
        let slot = usize::from(direction == Direction::Response);
        let Some(at) = self.headers_held[slot] else {
            return;
        };
        if self.resumes(direction) > at || self.local_reply().is_some() {
            self.headers_held[slot] = None;
            return;
        }
        panic!(
            "{phase} cannot run: the filter returned Pause from the {} headers phase and has not resumed the stream. Envoy's wasm host turns a pause in a headers phase into \"stop everything\": it holds the body and trailers and does not run {phase} until a callout reply or on_wake returns Continue. To read or rewrite a body, return Continue from the headers phase and Pause from the body phase until end_of_stream",
            if slot == 0 { "request" } else { "response" },
        );
    }

    /// Envoy's wasm host lets go of a headers or trailers map once its
    /// phase returned `Continue`.
    fn hide_after(&self, flow: Flow, map: MapType) {
        if flow == Flow::Continue {
            self.data(|d| d.hidden.insert(map_of(map)));
        }
    }

    /// How many times the filter resumed the stream so far.
    pub(crate) fn resume_count(&self) -> usize {
        self.data(|d| d.resumed.len())
    }

    pub fn send_response_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Flow {
        self.refuse_if_headers_held(Direction::Response, "on_response_body");
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
        if flow == Flow::Continue && !self.local_applied {
            let body = self.data(|d| std::mem::take(&mut d.response_body));
            self.client_body.extend_from_slice(&body);
        }
        self.after_response_phase();
        flow
    }

    pub fn send_response_trailers(&mut self, trailers: &[(&str, &str)]) -> Flow {
        self.refuse_if_headers_held(Direction::Response, "on_response_trailers");
        self.data(|d| {
            d.maps
                .insert(map_of(MapType::ResponseTrailers), pairs(trailers));
        });
        let flow = self.run(|rt, h| rt.on_response_trailers(h));
        self.hide_after(flow, MapType::ResponseTrailers);
        self.after_response_phase();
        flow
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
        self.data(|d| {
            for map in [
                MapType::RequestHeaders,
                MapType::ResponseHeaders,
                MapType::ResponseTrailers,
            ] {
                d.hidden.remove(&map_of(map));
            }
        });
        if let Some(rt) = &self.runtime {
            self.vm.hook(self.id, |h| rt.on_done(h));
        }
        // Envoy cancels the callouts of a stream that ended: their replies
        // never reach the filter.
        let id = self.id;
        self.host
            .state
            .borrow_mut()
            .calls
            .retain(|_, c| c.owner != id);
        // And the stream is gone: `wake` no longer finds it. What it saw
        // stays readable here.
        self.vm.streams.borrow_mut().remove(&self.id);
        self.runtime = None;
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

    /// Request trailers as they stand now.
    pub fn request_trailers(&self) -> Vec<(String, String)> {
        self.data(|d| {
            strings(
                d.maps
                    .get(&map_of(MapType::RequestTrailers))
                    .map_or(&[], |v| v),
            )
        })
    }

    /// Response trailers as the client would see them.
    pub fn response_trailers(&self) -> Vec<(String, String)> {
        self.data(|d| {
            strings(
                d.maps
                    .get(&map_of(MapType::ResponseTrailers))
                    .map_or(&[], |v| v),
            )
        })
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

/// The response headers of a local reply, as Envoy builds them.
fn local_reply_headers(reply: &LocalReply) -> Vec<(String, Vec<u8>)> {
    let mut headers = vec![(":status".to_string(), reply.status.to_string().into_bytes())];
    headers.extend(
        reply
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
    );
    // Envoy frames a local reply's body and types it, unless the filter
    // did, after the filter's own headers (pinned by `rq-headers-respond`).
    if !reply.body.is_empty() {
        headers.push((
            "content-length".to_string(),
            reply.body.len().to_string().into_bytes(),
        ));
        if !reply.headers.iter().any(|(k, _)| k == "content-type") {
            headers.push(("content-type".to_string(), b"text/plain".to_vec()));
        }
    }
    headers
}

pub(crate) fn find(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

pub(crate) fn find_all(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}
