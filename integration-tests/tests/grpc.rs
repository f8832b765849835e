//! Unary gRPC callouts (`Stream::grpc_call`) in a real Envoy, through the
//! probe filter, against a small gRPC service served here over HTTP/2:
//! a reply decoded into the caller's message, an error status with its
//! message, a timeout, a cluster that refuses connections and one Envoy does
//! not know. The test host follows what this file pins (`sdk/tests/grpc.rs`).

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use portico_harness::bootstrap::{h2_cluster, wasm_filter, Bootstrap};
use portico_harness::{probe_wasm_path, runtime, Envoy, Upstream};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// A response body given as frames (data, then trailers).
struct Frames(VecDeque<Frame<Bytes>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// What the service saw of the last call: path and metadata.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// `portico.test.Echo` over h2c: `Echo` returns the request message,
/// `Deny` closes with status 7 and a message, `Slow` answers after 2 s.
fn start_grpc_service(seen: Seen) -> u16 {
    let listener = runtime()
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime().spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move { Ok::<_, Infallible>(answer(req, seen).await) }
                });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                        .await;
            });
        }
    });
    port
}

async fn answer(req: Request<Incoming>, seen: Seen) -> Response<Frames> {
    let path = req.uri().path().to_string();
    let meta = req
        .headers()
        .get("x-probe-meta")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().unwrap().push((path.clone(), meta));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, message, reply) = match path.as_str() {
        "/portico.test.Echo/Echo" => ("0", "", body),
        "/portico.test.Echo/Deny" => ("7", "denied", Bytes::new()),
        "/portico.test.Echo/Slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            ("0", "", body)
        }
        _ => ("12", "unknown method", Bytes::new()),
    };
    let mut trailers = hyper::HeaderMap::new();
    trailers.insert("grpc-status", status.parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.parse().unwrap());
    }
    let mut frames = VecDeque::new();
    if status == "0" {
        // The request's frame (5-byte prefix and message) is the reply's.
        frames.push_back(Frame::data(reply));
    }
    frames.push_back(Frame::trailers(trailers));
    Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(Frames(frames))
        .unwrap()
}

#[test]
fn unary_grpc_calls_decode_replies_and_report_statuses_as_envoy_gives_them() {
    let seen: Seen = Arc::default();
    let grpc_port = start_grpc_service(Arc::clone(&seen));
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let upstream = Upstream::start();
    let wasm = probe_wasm_path().unwrap();
    let config = r#"{"cluster": "upstream", "fetch_delay": "0s"}"#;
    let bootstrap = Bootstrap::new(upstream.port())
        .raw_cluster(h2_cluster("grpc", grpc_port))
        .raw_cluster(h2_cluster("closed", closed_port))
        .listener("main", vec![wasm_filter("portico.probe", &wasm, config)])
        .render();
    let envoy = Envoy::start(&bootstrap, 1);
    let grpc = |path: &str| {
        let reply = envoy.get("main", path).send();
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply
            .echo()
            .and_then(|e| e.header("x-probe-grpc").map(str::to_string))
            .unwrap_or_default()
    };
    assert_eq!(grpc("/probe/grpc/Echo"), "ok hi");
    assert_eq!(
        seen.lock().unwrap().first().cloned(),
        Some((
            "/portico.test.Echo/Echo".to_string(),
            Some("m1".to_string())
        ))
    );
    assert_eq!(grpc("/probe/grpc/Deny"), "error 7 denied{via_upstream}");
    assert_eq!(
        grpc("/probe/grpc/Nope"),
        "error 12 unknown method{via_upstream}"
    );
    let timeout = grpc("/probe/grpc/Slow?timeout_ms=200");
    let refused = grpc("/probe/grpc/Echo?cluster=closed");
    let unknown = grpc("/probe/grpc/Echo?cluster=nowhere");
    // What Envoy 1.40 answers; the test host gives the same (sdk/tests/grpc.rs).
    assert_eq!(
        [timeout.as_str(), refused.as_str(), unknown.as_str()],
        [GRPC_TIMEOUT, GRPC_REFUSED, GRPC_UNKNOWN_CLUSTER]
    );
}

/// Envoy closes a call whose timeout passed with `UNAVAILABLE` (not
/// `DEADLINE_EXCEEDED`) and its own message.
const GRPC_TIMEOUT: &str = "error 14 upstream request timeout{response_timeout}";
const GRPC_REFUSED: &str = "error 14 upstream connect error or disconnect/reset before headers. reset reason: remote connection failure{upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}}";
/// A cluster Envoy does not know: refused when the call is made.
const GRPC_UNKNOWN_CLUSTER: &str = "refused internal failure";
