//! The scripted upstream both hosts use: what it answers is decided by the
//! request it receives, so Envoy's real upstream and the test host's fake
//! one answer alike.
//!
//! - `/callout/ok`: 200, `x-c-callout: yes`, body `pong`;
//! - `/callout/500`: 500, body `oops`;
//! - `/callout/slow/<ms>`: 200 `late` after `<ms>` milliseconds;
//! - `/callout/echo`: 200 with the request's body;
//! - `/callout/trailers`: 200, body `with trailers`, trailer `x-c-trailer: t1`;
//! - anything else: status `x-up-status` (200), body `x-up-body`
//!   (`upstream-body`), one header per `x-up-h: name=value`, after
//!   `x-up-delay` ms.

use crate::scenario::Received;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sent after the body (then chunked, with a `trailer` header).
    pub trailers: Vec<(String, String)>,
    pub delay_ms: u64,
}

/// A body of ready frames: data, then trailers.
pub struct Frames(pub std::collections::VecDeque<hyper::body::Frame<Bytes>>);

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(Ok))
    }
}

pub fn frames(body: Vec<u8>, trailers: &[(String, String)]) -> Frames {
    let mut frames = std::collections::VecDeque::new();
    if !body.is_empty() {
        frames.push_back(hyper::body::Frame::data(Bytes::from(body)));
    }
    if !trailers.is_empty() {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in trailers {
            if let (Ok(k), Ok(v)) = (
                hyper::header::HeaderName::from_bytes(k.as_bytes()),
                hyper::header::HeaderValue::from_str(v),
            ) {
                map.append(k, v);
            }
        }
        frames.push_back(hyper::body::Frame::trailers(map));
    }
    Frames(frames)
}

fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The upstream's answer to a request. `content-length` is included, as a
/// real server sends it.
pub fn answer(path: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let path = path.split('?').next().unwrap_or_default();
    let mut a = if path == "/callout/ok" {
        Answer {
            status: 200,
            headers: vec![("x-c-callout".into(), "yes".into())],
            body: b"pong".to_vec(),
            trailers: Vec::new(),
            delay_ms: 0,
        }
    } else if path == "/callout/500" {
        Answer {
            status: 500,
            headers: Vec::new(),
            body: b"oops".to_vec(),
            trailers: Vec::new(),
            delay_ms: 0,
        }
    } else if let Some(ms) = path.strip_prefix("/callout/slow/") {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: b"late".to_vec(),
            trailers: Vec::new(),
            delay_ms: ms.parse().unwrap_or(0),
        }
    } else if path == "/callout/trailers" {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: b"with trailers".to_vec(),
            trailers: vec![("x-c-trailer".into(), "t1".into())],
            delay_ms: 0,
        }
    } else if path == "/callout/echo" {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.to_vec(),
            trailers: Vec::new(),
            delay_ms: 0,
        }
    } else {
        let pairs = |name: &str| -> Vec<(String, String)> {
            headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .filter_map(|(_, v)| v.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let extra = pairs("x-up-h");
        let trailers = pairs("x-up-t");
        Answer {
            status: first(headers, "x-up-status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(200),
            // As the upstream (hyper) sends them.
            headers: crate::scenario::as_hyper_sends(&extra),
            body: first(headers, "x-up-body")
                .unwrap_or("upstream-body")
                .as_bytes()
                .to_vec(),
            trailers,
            delay_ms: first(headers, "x-up-delay")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        }
    };
    if a.trailers.is_empty() {
        a.headers
            .push(("content-length".into(), a.body.len().to_string()));
    } else {
        let names: Vec<&str> = a.trailers.iter().map(|(k, _)| k.as_str()).collect();
        a.headers.push(("trailer".into(), names.join(", ")));
    }
    a
}

/// Requests received, by `x-scenario`.
pub type Log = Arc<Mutex<HashMap<String, Vec<Received>>>>;

/// The upstream server for Envoy; runs on the harness's runtime until the process ends.
pub fn start() -> (u16, Log) {
    let log: Log = Arc::new(Mutex::new(HashMap::new()));
    let runtime = portico_harness::runtime();
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind the upstream");
    let port = listener.local_addr().expect("upstream address").port();
    let state = Arc::clone(&log);
    runtime.spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(Arc::clone(&state), req));
                // One request per connection: a request whose body outgrew
                // its content-length must not spill into the next scenario.
                let _ = http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (port, log)
}

async fn handle(log: Log, req: Request<Incoming>) -> Result<Response<Frames>, hyper::Error> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let collected = req.into_body().collect().await?;
    let trailers = collected
        .trailers()
        .map(|t| {
            t.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = collected.to_bytes().to_vec();
    let scenario = first(&headers, "x-scenario").unwrap_or("").to_string();
    let a = answer(&path, &headers, &body);
    log.lock()
        .expect("upstream log")
        .entry(scenario)
        .or_default()
        .push(Received {
            method,
            path,
            headers,
            body,
            trailers,
        });
    if a.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(a.delay_ms)).await;
    }
    let mut response = Response::builder().status(a.status);
    for (k, v) in &a.headers {
        response = response.header(k.as_str(), v.as_str());
    }
    Ok(response
        .body(frames(a.body, &a.trailers))
        .expect("upstream response"))
}
