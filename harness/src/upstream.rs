//! The upstream Envoy routes to in tests: echoes each request as JSON, or
//! serves a fixed document registered for its path (a JWKS, for instance).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A fixed response for one path.
#[derive(Clone, Debug)]
pub struct Document {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    documents: Mutex<HashMap<String, Document>>,
    hits: Mutex<HashMap<String, usize>>,
    requests: AtomicUsize,
}

/// A running upstream; stops when dropped.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Upstream {
    /// Starts on a free loopback port, on the harness's runtime.
    pub fn start() -> Upstream {
        let shared = Arc::new(Shared::default());
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = crate::runtime();
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the upstream on 127.0.0.1");
        let addr = listener.local_addr().expect("upstream address");
        let state = Arc::clone(&shared);
        runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let state = Arc::clone(&state);
                        tokio::spawn(async move {
                            let service = service_fn(move |req| handle(Arc::clone(&state), req));
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(socket), service)
                                .await;
                        });
                    }
                }
            }
        });
        Upstream {
            addr,
            shared,
            stop: Some(stop_tx),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves `body` at `path` (exact, query ignored) from now on.
    pub fn serve(&self, path: &str, status: u16, content_type: &str, body: &[u8]) {
        self.shared
            .documents
            .lock()
            .expect("documents lock")
            .insert(
                path.to_string(),
                Document {
                    status,
                    content_type: content_type.to_string(),
                    body: body.to_vec(),
                },
            );
    }

    /// How many requests reached the upstream in all.
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        *self
            .shared
            .hits
            .lock()
            .expect("hits lock")
            .get(path)
            .unwrap_or(&0)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let path_only = req.uri().path().to_string();
    *shared
        .hits
        .lock()
        .expect("hits lock")
        .entry(path_only.clone())
        .or_default() += 1;
    let document = shared
        .documents
        .lock()
        .expect("documents lock")
        .get(&path_only)
        .cloned();
    if let Some(doc) = document {
        let response = Response::builder()
            .status(doc.status)
            .header("content-type", doc.content_type)
            .body(Full::new(Bytes::from(doc.body)))
            .expect("document response");
        return Ok(response);
    }
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| serde_json::json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
        .collect();
    let body = req.into_body().collect().await?.to_bytes();
    let echo = serde_json::json!({
        "method": method,
        "path": path,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let response = Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("x-upstream", "echo")
        // What real upstreams leak, for the edge config to strip.
        .header("x-powered-by", "portico-echo")
        .header("x-internal-node", "echo-1")
        .body(Full::new(Bytes::from(echo.to_string())))
        .expect("echo response");
    Ok(response)
}
