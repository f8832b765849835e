//! The test host behaves as Envoy 1.40 does where filters trip (each case
//! is also a scenario of `cargo xtask host-conformance`, which checks the
//! same behaviour in a real Envoy): a pause in a headers phase holds the
//! body too, a local reply from a response phase replaces the response, a
//! callout's timeout is answered on the fake clock, repeated inline headers
//! are joined, and content-length is not fixed after a body rewrite.

use portico::testing::TestHost;
use portico::{
    Action, ConfigError, Env, HttpFilter, HttpRequest, IntoVerdict, LocalResponse, Plugin, Root,
    Stream, Verdict,
};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
struct Config {
    mode: String,
}

struct Trap {
    mode: String,
}

impl Plugin for Trap {
    type Config = Config;
    type Filter = TrapFilter;

    fn configure(config: Config, _: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        Ok(Trap { mode: config.mode })
    }

    fn new_filter(&self, _: &Env<'_>) -> TrapFilter {
        TrapFilter {
            mode: self.mode.clone(),
        }
    }
}

struct TrapFilter {
    mode: String,
}

impl HttpFilter for TrapFilter {
    type Plugin = Trap;

    fn on_request_headers(&mut self, _: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        match self.mode.as_str() {
            "timeout" => {
                let call =
                    HttpRequest::get("auth", "auth", "/check").timeout(Duration::from_millis(200));
                let sent = s.http_call(call, |_, _, s, reply| {
                    let status = reply.map(|r| r.status.to_string()).unwrap_or_default();
                    s.request_headers().set("x-auth-status", &status);
                    Action::Continue
                });
                match sent {
                    Ok(_) => Ok(Action::Pause),
                    Err(_) => LocalResponse::new(500).into_verdict(),
                }
            }
            "merge" => {
                let seen = s.request_headers().get_all("authorization").join("|");
                s.request_headers().set("x-seen", &seen);
                Ok(Action::Continue)
            }
            _ => Ok(Action::Continue),
        }
    }

    fn on_response_headers(&mut self, _: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        match self.mode.as_str() {
            // The trap: waits for the body in the headers phase.
            "pause-headers" => Ok(Action::Pause),
            "reply-from-response" => LocalResponse::new(502).body("replaced").into_verdict(),
            "recipe" => {
                s.will_replace_body();
                Ok(Action::Continue)
            }
            _ => Ok(Action::Continue),
        }
    }

    fn on_response_body(&mut self, _: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        match self.mode.as_str() {
            "pause-headers" => {
                let _ = s.set_body(b"redacted");
                Ok(Action::Continue)
            }
            "recipe" | "rewrite-keeping-length" => {
                if !s.end_of_stream() {
                    return Ok(Action::Pause);
                }
                let _ = s.set_body(b"a longer body than the upstream's");
                Ok(Action::Continue)
            }
            _ => Ok(Action::Continue),
        }
    }
}

#[allow(clippy::unwrap_used)] // test support
fn vm(host: &TestHost, mode: &str) -> portico::testing::TestVm<Trap> {
    host.vm::<Trap>(&format!(r#"{{"mode": "{mode}"}}"#))
        .unwrap()
}

#[test]
fn a_pause_in_response_headers_holds_the_body_and_says_why() {
    let host = TestHost::new();
    let vm = vm(&host, "pause-headers");
    let ex = vm
        .get("/")
        .upstream_response(200, &[("content-length", "6")], b"secret")
        .send();
    assert!(ex.paused());
    let why = ex.stalled().expect("the exchange is stalled");
    assert!(why.contains("on_response_headers"), "{why}");
    assert!(why.contains("stop everything"), "{why}");
    assert!(why.contains("on_response_body"), "{why}");
    assert_eq!(ex.body(), "", "the body phase never ran");
}

#[test]
#[should_panic(expected = "stop everything")]
fn status_of_a_stalled_exchange_fails_loudly() {
    let host = TestHost::new();
    let vm = vm(&host, "pause-headers");
    let ex = vm
        .get("/")
        .upstream_response(200, &[("content-length", "6")], b"secret")
        .send();
    let _ = ex.status();
}

#[test]
#[should_panic(expected = "has not resumed the stream")]
fn proceed_without_a_resume_fails_loudly() {
    let host = TestHost::new();
    let vm = vm(&host, "pause-headers");
    let mut ex = vm
        .get("/")
        .upstream_response(200, &[("content-length", "6")], b"secret")
        .send();
    ex.proceed();
}

#[test]
fn a_local_reply_from_a_response_phase_is_what_the_client_gets() {
    let host = TestHost::new();
    let vm = vm(&host, "reply-from-response");
    let ex = vm
        .get("/")
        .upstream_response(200, &[("x-upstream", "1")], b"upstream body")
        .send();
    assert_eq!(ex.status(), 502);
    assert_eq!(ex.body(), "replaced");
    assert_eq!(ex.response_header("x-upstream"), None);
    assert_eq!(ex.response_header("content-length").as_deref(), Some("8"));
    assert_eq!(
        ex.response_header("content-type").as_deref(),
        Some("text/plain")
    );
}

#[test]
fn a_callout_timeout_on_the_fake_clock_is_answered_with_envoys_504() {
    let host = TestHost::new().with_cluster("auth");
    let vm = vm(&host, "timeout");
    let mut ex = vm.get("/").send();
    assert!(ex.paused());
    host.advance(Duration::from_millis(199));
    assert_eq!(host.pending_calls().len(), 1, "not yet");
    host.advance(Duration::from_millis(1));
    assert!(host.pending_calls().is_empty());
    assert!(ex.resumable());
    ex.proceed();
    assert_eq!(ex.upstream_header("x-auth-status").as_deref(), Some("504"));
}

#[test]
fn callouts_of_an_ended_stream_are_cancelled() {
    let host = TestHost::new().with_cluster("auth");
    let vm = vm(&host, "timeout");
    let mut ex = vm.get("/").send();
    ex.abort();
    assert!(host.pending_calls().is_empty());
    assert_eq!(host.calls_made().len(), 1, "it was sent all the same");
}

#[test]
fn repeated_inline_headers_are_joined_with_commas() {
    let host = TestHost::new();
    let vm = vm(&host, "merge");
    let ex = vm
        .get("/")
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .send();
    assert_eq!(
        ex.upstream_header("x-seen").as_deref(),
        Some("Bearer a,Bearer b")
    );
}

#[test]
fn a_rewritten_body_keeps_the_old_content_length_unless_the_filter_drops_it() {
    let host = TestHost::new();
    let upstream = |vm: &portico::testing::TestVm<Trap>| {
        vm.get("/")
            .upstream_response(200, &[("content-length", "5")], b"short")
            .send()
    };
    let ex = upstream(&vm(&host, "rewrite-keeping-length"));
    assert_eq!(ex.body(), "a lon", "the client reads content-length bytes");

    let ex = upstream(&vm(&host, "recipe"));
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.body(), "a longer body than the upstream's");
    assert_eq!(
        ex.response_header("transfer-encoding").as_deref(),
        Some("chunked")
    );
}

/// Parks requests on `/wait`; a request on `/wake` wakes them, and the
/// woken one answers locally.
struct Waker {
    parked: std::cell::RefCell<Vec<portico::StreamId>>,
}

struct WakerFilter {}

impl Plugin for Waker {
    type Config = serde_json::Value;
    type Filter = WakerFilter;

    fn configure(_: serde_json::Value, _: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        Ok(Waker {
            parked: std::cell::RefCell::new(Vec::new()),
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> WakerFilter {
        WakerFilter {}
    }
}

impl HttpFilter for WakerFilter {
    type Plugin = Waker;

    fn on_request_headers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        if s.path() == "/wait" {
            plugin.parked.borrow_mut().push(s.id());
            return Ok(Action::Pause);
        }
        let parked: Vec<portico::StreamId> = plugin.parked.borrow_mut().drain(..).collect();
        for id in parked {
            s.wake(id);
        }
        Ok(Action::Continue)
    }

    fn on_wake(&mut self, _: &Self::Plugin, _: &mut Stream<'_, Self>) -> Verdict {
        LocalResponse::new(409).body("woken away").into_verdict()
    }
}

#[test]
fn answering_a_stream_woken_from_another_phase_stalls_the_waker() {
    let host = TestHost::new();
    let vm = host.vm::<Waker>("{}").unwrap();
    let mut waiter = vm.get("/wait").send();
    assert!(waiter.paused());
    let waker = vm.get("/wake").send();
    assert!(waiter.resumable(), "it answered");
    waiter.proceed();
    assert_eq!(waiter.status(), 409);
    let why = waker.stalled().expect("Envoy stops the waker");
    assert!(why.contains("on_wake answered locally"), "{why}");
    assert!(!waker.reached_upstream());
}

#[test]
#[should_panic(expected = "stop everything")]
fn driving_the_body_phase_after_a_headers_pause_fails_loudly() {
    let host = TestHost::new();
    let vm = vm(&host, "pause-headers");
    let mut s = vm.stream();
    s.send_request_headers(&[(":method", "GET"), (":path", "/")], true);
    assert_eq!(
        s.send_response_headers(&[(":status", "200")], false),
        portico::testing::Flow::Pause
    );
    s.send_response_body(b"secret", true);
}
