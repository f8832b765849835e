//! The scripted upstream both hosts use: what it answers is decided by the
//! request it receives, so Envoy's real upstream and the test host's fake
//! one answer alike.
//!
//! - `/callout/ok`: 200, `x-c-callout: yes`, body `pong`;
//! - `/callout/500`: 500, body `oops`;
//! - `/callout/slow/<ms>`: 200 `late` after `<ms>` milliseconds;
//! - `/callout/echo`: 200 with the request's body;
//! - anything else: status `x-up-status` (200), body `x-up-body`
//!   (`upstream-body`), one header per `x-up-h: name=value`, after
//!   `x-up-delay` ms.

use crate::scenario::Received;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
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
    pub delay_ms: u64,
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
            delay_ms: 0,
        }
    } else if path == "/callout/500" {
        Answer {
            status: 500,
            headers: Vec::new(),
            body: b"oops".to_vec(),
            delay_ms: 0,
        }
    } else if let Some(ms) = path.strip_prefix("/callout/slow/") {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: b"late".to_vec(),
            delay_ms: ms.parse().unwrap_or(0),
        }
    } else if path == "/callout/echo" {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.to_vec(),
            delay_ms: 0,
        }
    } else {
        let extra = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-up-h"))
            .filter_map(|(_, v)| v.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Answer {
            status: first(headers, "x-up-status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(200),
            headers: extra,
            body: first(headers, "x-up-body")
                .unwrap_or("upstream-body")
                .as_bytes()
                .to_vec(),
            delay_ms: first(headers, "x-up-delay")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
        }
    };
    a.headers
        .push(("content-length".into(), a.body.len().to_string()));
    a
}

/// Requests received, by `x-scenario`.
pub type Log = Arc<Mutex<HashMap<String, Vec<Received>>>>;

/// The upstream server for Envoy; runs on the harness's runtime until the process ends.
pub fn start() -> (u16, Log) {
    let log: Log = Arc::new(Mutex::new(HashMap::new()));
    let runtime = integration_tests::runtime();
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

async fn handle(log: Log, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
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
    let body = req.into_body().collect().await?.to_bytes().to_vec();
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
        });
    if a.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(a.delay_ms)).await;
    }
    let mut response = Response::builder().status(a.status);
    for (k, v) in &a.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            response = response.header(k.as_str(), v.as_str());
        }
    }
    Ok(response
        .body(Full::new(Bytes::from(a.body)))
        .expect("upstream response"))
}
