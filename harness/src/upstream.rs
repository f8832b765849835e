//! The upstream Envoy routes to in tests: echoes each request as JSON,
//! unless it was told what to answer instead, for a path ([`Upstream::answer`],
//! [`Upstream::serve`]) or for any request a closure picks
//! ([`Upstream::answer_with`]): an auth service, a JWKS, an API that fails.

use crate::client::Echo;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A response the upstream gives instead of its echo: a status, headers in
/// order (a name may repeat), a body.
///
/// ```
/// use portico_harness::Answer;
///
/// let denied = Answer::new(403)
///     .header("www-authenticate", "Bearer error=\"insufficient_scope\"")
///     .header("content-type", "text/plain")
///     .body("not for you");
/// assert_eq!(denied.status, 403);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `status` with no header and an empty body. Panics unless it is a
    /// status hyper can send (100 to 999).
    pub fn new(status: u16) -> Answer {
        if let Err(e) = StatusCode::from_u16(status) {
            panic!("upstream answer: status {status}: {e}");
        }
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header (after any of the same name). Panics on a name or value
    /// HTTP/1.1 cannot carry, so the mistake shows in the test, not as a
    /// broken connection. `content-length` is set from the body.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        if let Err(e) = HeaderName::from_bytes(name.as_bytes()) {
            panic!("upstream answer: header name {name:?}: {e}");
        }
        if let Err(e) = HeaderValue::from_str(value) {
            panic!("upstream answer: value {value:?} of {name}: {e}");
        }
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Answer {
        self.body = body.into();
        self
    }

    fn response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        // Checked when the answer was built (`new`, `header`).
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

type Handler = Arc<dyn Fn(&Echo) -> Option<Answer> + Send + Sync>;

#[derive(Default)]
struct Shared {
    answers: Mutex<HashMap<String, Answer>>,
    handler: Mutex<Option<Handler>>,
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

    /// Answers requests for `path` (exact, query ignored) with `answer`
    /// from now on, in place of any earlier answer for it.
    pub fn answer(&self, path: &str, answer: Answer) {
        self.shared
            .answers
            .lock()
            .expect("answers lock")
            .insert(path.to_string(), answer);
    }

    /// Serves `body` at `path` (exact, query ignored) from now on: an
    /// [`answer`](Upstream::answer) with one `content-type`.
    pub fn serve(&self, path: &str, status: u16, content_type: &str, body: &[u8]) {
        self.answer(
            path,
            Answer::new(status)
                .header("content-type", content_type)
                .body(body),
        );
    }

    /// Asks `pick` first for every request from now on (replacing an
    /// earlier closure): `Some` is the answer, `None` leaves the request to
    /// the answers for its path, then to the echo. `pick` sees the request
    /// as it arrived, body included, and runs on the harness's runtime, so
    /// it must not block.
    ///
    /// ```no_run
    /// use portico_harness::{Answer, Upstream};
    ///
    /// let upstream = Upstream::start();
    /// // A fake auth service: only one token is good.
    /// upstream.answer_with(|req| {
    ///     let auth = req.path.starts_with("/auth/").then(|| req.header("authorization"))?;
    ///     Some(match auth {
    ///         Some("Bearer good") => Answer::new(200).header("x-user", "alice"),
    ///         _ => Answer::new(401).header("www-authenticate", "Bearer").body("no"),
    ///     })
    /// });
    /// ```
    pub fn answer_with(&self, pick: impl Fn(&Echo) -> Option<Answer> + Send + Sync + 'static) {
        *self.shared.handler.lock().expect("handler lock") = Some(Arc::new(pick));
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
    let body = req.into_body().collect().await?.to_bytes();
    let received = Echo {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    // Cloned out of the lock: the closure may take its time or set answers.
    let handler = shared.handler.lock().expect("handler lock").clone();
    let picked = handler.and_then(|pick| pick(&received));
    let answer = picked.or_else(|| {
        shared
            .answers
            .lock()
            .expect("answers lock")
            .get(&path_only)
            .cloned()
    });
    if let Some(answer) = answer {
        return Ok(answer.response());
    }
    let headers: Vec<serde_json::Value> = received
        .headers
        .iter()
        .map(|(k, v)| serde_json::json!([k, v]))
        .collect();
    let echo = serde_json::json!({
        "method": received.method,
        "path": received.path,
        "headers": headers,
        "body": received.body,
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
