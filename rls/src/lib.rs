//! A Rate Limit Service for the tests and the demo: Envoy's
//! `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` over h2c,
//! configured with envoyproxy/ratelimit's YAML (the file the docker-compose
//! demo gives the real `envoyproxy/ratelimit` image) and counting in Redis,
//! so several Envoys share one limit (`engine.rs`).
//!
//! Why not Kuadrant's limitador: its 0.12 to 0.14 releases do not compile
//! with Redis storage but without RocksDB (`storage::keys` calls a module
//! that only the `disk_storage` feature builds), and RocksDB is a long C++
//! build for every fresh clone's CI. envoyproxy/ratelimit is Go, which this
//! machine cannot build. The decisions here follow envoyproxy/ratelimit's
//! documented ones (descriptor tree, fixed windows), small enough to read.
//!
//! Every request is recorded (`requests()`), and a test can make the
//! service slow or failing (`set_mode`).

// Test support: a panic here is a failed test, never a failed request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod engine;
pub use portico_ratelimit::rls_proto as proto;
mod redis;
mod resp;

pub use redis::Redis;

use bytes::{Buf, Bytes};
use engine::{Config, Engine};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response};
use prost::Message;
use proto::RateLimitRequest;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

/// The gRPC path of the one method.
pub const PATH: &str = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

/// How the service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// By the limits.
    Normal,
    /// Closes every call with this gRPC status (`14`: unavailable).
    Fail(u32),
    /// Answers by the limits, after this long.
    Delay(Duration),
    /// Sends the response headers and half a message, then resets the
    /// stream (`RST_STREAM`).
    Reset,
    /// Answers `grpc-status: 0` with a message that is not a
    /// `RateLimitResponse`.
    Garbage,
    /// Answers `grpc-status: 0` with no message at all.
    Empty,
}

/// What the service received: the domain, each descriptor's entries in
/// order, and the hits to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub domain: String,
    pub descriptors: Vec<Vec<(String, String)>>,
    pub hits_addend: u32,
    /// Each descriptor's own `hits_addend`, where it has one.
    pub descriptor_hits: Vec<Option<u64>>,
}

/// What the service adds to every answer it gives by the limits: headers
/// for the client's response and for the upstream request, and the body of
/// an over-limit reply (the fields of `RateLimitResponse` that carry them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub response_headers: Vec<(String, String)>,
    pub request_headers: Vec<(String, String)>,
    pub raw_body: Vec<u8>,
}

struct Shared {
    engine: Engine,
    received: Mutex<Vec<Received>>,
    mode: Mutex<Mode>,
    extras: Mutex<Extras>,
    canned: Mutex<Option<proto::RateLimitResponse>>,
}

/// A running service, on its own thread and runtime; stops when dropped.
pub struct Rls {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Rls {
    /// Starts the service on `127.0.0.1` (port 0: any free one) with these
    /// configurations (envoyproxy/ratelimit's, one per domain) over the
    /// Redis at `redis_url`.
    pub fn start(port: u16, redis_url: &str, configs: Vec<Config>) -> Result<Rls, String> {
        let redis = resp::Client::new(redis_url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
            .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let shared = Arc::new(Shared {
            engine: Engine::new(configs, redis),
            received: Mutex::new(Vec::new()),
            mode: Mutex::new(Mode::Normal),
            extras: Mutex::new(Extras::default()),
            canned: Mutex::new(None),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = serve(listener, serving) => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Rls {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.shared.received.lock().unwrap().clear();
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn set_extras(&self, extras: Extras) {
        *self.shared.extras.lock().unwrap() = extras;
    }

    /// Answers every call with this response as it is (`None`: by the
    /// limits again), so a test can send what no limit produces: odd codes,
    /// units, names, headers.
    pub fn set_canned(&self, response: Option<proto::RateLimitResponse>) {
        *self.shared.canned.lock().unwrap() = response;
    }
}

impl Drop for Rls {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(answer(req, &shared).await) }
            });
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
        });
    }
}

/// A gRPC response body: data frames, then the trailers with the status;
/// an error resets the stream.
struct Frames(VecDeque<Result<Frame<Bytes>, std::io::Error>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front())
    }
}

/// Headers, half a gRPC frame, then a reset.
fn reset_reply() -> Response<Frames> {
    let mut frames = VecDeque::new();
    frames.push_back(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 100, 8]))));
    frames.push_back(Err(std::io::Error::other("reset on purpose")));
    Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(Frames(frames))
        .unwrap()
}

fn grpc_reply(status: u32, message: &str, reply: Option<Vec<u8>>) -> Response<Frames> {
    let mut frames = VecDeque::new();
    if let Some(bytes) = reply {
        let mut framed = Vec::with_capacity(bytes.len() + 5);
        framed.push(0);
        framed.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(0).to_be_bytes());
        framed.extend_from_slice(&bytes);
        frames.push_back(Ok(Frame::data(Bytes::from(framed))));
    }
    let mut trailers = hyper::HeaderMap::new();
    trailers.insert("grpc-status", status.to_string().parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.parse().unwrap());
    }
    frames.push_back(Ok(Frame::trailers(trailers)));
    Response::builder()
        .status(200)
        .header("content-type", "application/grpc")
        .body(Frames(frames))
        .unwrap()
}

async fn answer(req: Request<Incoming>, shared: &Shared) -> Response<Frames> {
    if req.uri().path() != PATH {
        return grpc_reply(12, "unknown method", None);
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return grpc_reply(13, "cannot read the request", None),
    };
    // The gRPC frame: a compression flag, a big-endian length, the message.
    let mut framed = body;
    if framed.len() < 5 {
        return grpc_reply(13, "short frame", None);
    }
    framed.advance(5);
    let Ok(request) = RateLimitRequest::decode(framed) else {
        return grpc_reply(13, "cannot decode the request", None);
    };
    let received = Received {
        domain: request.domain.clone(),
        descriptors: request
            .descriptors
            .iter()
            .map(|d| {
                d.entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.clone()))
                    .collect()
            })
            .collect(),
        hits_addend: request.hits_addend,
        descriptor_hits: request
            .descriptors
            .iter()
            .map(|d| d.hits_addend.as_ref().map(|h| h.value))
            .collect(),
    };
    shared.received.lock().unwrap().push(received.clone());
    let mode = *shared.mode.lock().unwrap();
    match mode {
        Mode::Fail(status) => return grpc_reply(status, "failing on purpose", None),
        Mode::Delay(d) => tokio::time::sleep(d).await,
        Mode::Reset => return reset_reply(),
        // Field 1 (overall_code) as a length-delimited field: not decodable.
        Mode::Garbage => return grpc_reply(0, "", Some(vec![0x0a, 0x05, 1, 2])),
        Mode::Empty => return grpc_reply(0, "", None),
        Mode::Normal => {}
    }
    if let Some(canned) = shared.canned.lock().unwrap().clone() {
        return grpc_reply(0, "", Some(canned.encode_to_vec()));
    }
    // A descriptor's own hits_addend wins over the request's; 0 counts 1.
    let request_hits = u64::from(request.hits_addend.max(1));
    let hits: Vec<u64> = request
        .descriptors
        .iter()
        .map(|d| d.hits_addend.as_ref().map_or(request_hits, |h| h.value))
        .collect();
    match shared.engine.decide(&received, &hits).await {
        Ok(mut response) => {
            let extras = shared.extras.lock().unwrap().clone();
            let pairs = |list: &[(String, String)]| {
                list.iter()
                    .map(|(key, value)| proto::HeaderValue {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect::<Vec<_>>()
            };
            response.response_headers_to_add = pairs(&extras.response_headers);
            response.request_headers_to_add = pairs(&extras.request_headers);
            response.raw_body = extras.raw_body;
            grpc_reply(0, "", Some(response.encode_to_vec()))
        }
        Err(e) => grpc_reply(13, &e, None),
    }
}

/// Calls the service directly (what Envoy's ratelimit filter sends), for
/// tests: the gRPC status and, on `OK`, the response.
pub fn call(
    port: u16,
    request: &RateLimitRequest,
) -> Result<(u32, Option<proto::RateLimitResponse>), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let message = request.encode_to_vec();
        let mut framed = vec![0];
        framed.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
        framed.extend_from_slice(&message);
        let req = Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1:{port}{PATH}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(http_body_util::Full::new(Bytes::from(framed)))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        let mut bytes = collected.to_bytes();
        if status != 0 || bytes.len() < 5 {
            return Ok((status, None));
        }
        bytes.advance(5);
        let decoded = proto::RateLimitResponse::decode(bytes).map_err(|e| e.to_string())?;
        Ok((status, Some(decoded)))
    })
}
