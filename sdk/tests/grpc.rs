//! Unary gRPC calls on the test host, answered as Envoy 1.40 answers them
//! (pinned in Envoy by `integration-tests/tests/grpc.rs`): a decoded reply,
//! a status with its message, Envoy's `UNAVAILABLE` for a timeout or a
//! refused connection, an unknown cluster refused at once.

use portico::testing::TestHost;
use portico::{
    Action, ConfigError, Env, GrpcError, GrpcRequest, HttpFilter, Plugin, Root, Stream, Verdict,
};
use prost::Message;
use std::time::Duration;

#[derive(Clone, PartialEq, prost::Message)]
struct Echo {
    #[prost(string, tag = "1")]
    text: String,
}

struct Caller;
struct CallerFilter;

impl Plugin for Caller {
    type Config = serde_json::Value;
    type Filter = CallerFilter;

    fn configure(_: serde_json::Value, _: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        Ok(Caller)
    }

    fn new_filter(&self, _: &Env<'_>) -> CallerFilter {
        CallerFilter
    }
}

impl HttpFilter for CallerFilter {
    type Plugin = Caller;

    fn on_request_headers(&mut self, _: &Caller, s: &mut Stream<'_, Self>) -> Verdict {
        let cluster = s.query_param("cluster").unwrap_or_else(|| "grpc".into());
        let limit = s
            .query_param("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(1024);
        let request = GrpcRequest::new(
            &cluster,
            "portico.test.Echo",
            "Echo",
            &Echo { text: "hi".into() },
        )
        .metadata("X-Meta", "m1")
        .timeout(Duration::from_millis(200))
        .max_response_bytes(limit);
        let sent = s.grpc_call(request, |_, _, s, reply: Result<Echo, GrpcError>| {
            let seen = match reply {
                Ok(echo) => format!("ok {}", echo.text),
                Err(e) => format!("error {} {}", e.status.0, e.message.unwrap_or_default()),
            };
            s.request_headers().set("x-grpc", &seen);
            Action::Continue
        });
        match sent {
            Ok(_) => Ok(Action::Pause),
            Err(e) => {
                s.request_headers().set("x-grpc", &format!("refused {e}"));
                Ok(Action::Continue)
            }
        }
    }
}

#[allow(clippy::unwrap_used)] // test support
fn seen(host: &TestHost, path: &str, answer: impl FnOnce(&TestHost, u32)) -> String {
    let vm = host.vm::<Caller>("{}").unwrap();
    let mut ex = vm.get(path).send();
    if let Some(call) = host.pending_calls().first() {
        answer(host, call.id);
    }
    if ex.paused() {
        ex.proceed();
    }
    ex.upstream_header("x-grpc").unwrap_or_default()
}

#[test]
fn a_reply_is_decoded_and_the_call_is_recorded() {
    let host = TestHost::new().with_cluster("grpc");
    let got = seen(&host, "/", |h, id| {
        let call = h.pending_calls().into_iter().find(|c| c.id == id).unwrap();
        let target = call.grpc.clone().unwrap();
        assert_eq!(
            (target.service.as_str(), target.method.as_str()),
            ("portico.test.Echo", "Echo")
        );
        assert_eq!(call.header("x-meta"), Some("m1"));
        let asked = Echo::decode(call.body.as_slice()).unwrap();
        h.respond_grpc(
            id,
            &Echo {
                text: format!("{} back", asked.text),
            }
            .encode_to_vec(),
        );
    });
    assert_eq!(got, "ok hi back");
}

#[test]
fn statuses_come_back_as_envoy_gives_them() {
    let host = TestHost::new().with_cluster("grpc");
    assert_eq!(
        seen(&host, "/", |h, id| h.fail_grpc(
            id,
            7,
            "denied{via_upstream}"
        )),
        "error 7 denied{via_upstream}"
    );
    assert_eq!(
        seen(&host, "/", |h, _| h.advance(Duration::from_millis(250))),
        "error 14 upstream request timeout{response_timeout}"
    );
    let refused = seen(&host, "/", |h, id| h.refuse_call(id));
    assert!(
        refused.starts_with("error 14 upstream connect error"),
        "{refused}"
    );
    assert_eq!(
        seen(&host, "/?cluster=nowhere", |_, _| {}),
        "refused internal failure"
    );
}

#[test]
fn replies_that_cannot_be_taken_fail_closed() {
    let host = TestHost::new().with_cluster("grpc");
    let bad = seen(&host, "/", |h, id| h.respond_grpc(id, &[0xff, 0xff, 0xff]));
    assert!(
        bad.starts_with("error 13 portico: cannot decode the reply"),
        "{bad}"
    );
    let big = seen(&host, "/?limit=4", |h, id| {
        h.respond_grpc(
            id,
            &Echo {
                text: "a long reply".into(),
            }
            .encode_to_vec(),
        )
    });
    assert!(
        big.starts_with("error 8 portico: reply of 14 bytes exceeds the limit of 4"),
        "{big}"
    );
}
