//! A small HTTP/1.1 client for tests: one connection per request, or a
//! keep-alive [`Connection`] for load.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A response as the client saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all(headers, name).into_iter().next()
}

fn all<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        all(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The request as the echo upstream received it (`None` if this reply is
    /// not an echo document). Filters may strip the upstream's `x-upstream:
    /// echo` marker, so the body's shape decides.
    pub fn echo(&self) -> Option<Echo> {
        let doc: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let headers = doc["headers"]
            .as_array()?
            .iter()
            .filter_map(|pair| {
                Some((
                    pair.get(0)?.as_str()?.to_string(),
                    pair.get(1)?.as_str()?.to_string(),
                ))
            })
            .collect();
        Some(Echo {
            method: doc["method"].as_str()?.to_string(),
            path: doc["path"].as_str()?.to_string(),
            headers,
            body: doc["body"].as_str()?.to_string(),
        })
    }
}

/// A request as the upstream received it: what its echo reports, and what
/// an [`Upstream::answer_with`](crate::Upstream::answer_with) closure is shown.
#[derive(Debug, Clone)]
pub struct Echo {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Echo {
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        all(&self.headers, name)
    }
}

/// A request being built; [`RequestBuilder::send`] performs it.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    address: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RequestBuilder {
    pub fn new(address: String, method: &str, path: &str) -> Self {
        RequestBuilder {
            address,
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request; panics on transport errors (a test failure).
    pub fn send(self) -> Reply {
        let what = format!("{} {} via {}", self.method, self.path, self.address);
        self.try_send()
            .unwrap_or_else(|e| panic!("request {what} failed: {e}"))
    }

    pub fn try_send(self) -> Result<Reply, String> {
        crate::runtime().block_on(async move {
            tokio::time::timeout(REQUEST_TIMEOUT, self.send_async())
                .await
                .map_err(|_| "timed out".to_string())?
        })
    }

    /// The same request, for use inside async code (load tests).
    pub async fn send_async(self) -> Result<Reply, String> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| format!("connect {}: {e}", self.address))?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder()
            .method(self.method.as_str())
            .uri(self.path.as_str());
        let has_host = self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"));
        if !has_host {
            req = req.header("host", "portico.test");
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req
            .body(Full::new(Bytes::from(self.body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes()
            .to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// GET `path` from `address` (`host:port`).
pub fn get_url(address: &str, path: &str) -> Result<Reply, String> {
    RequestBuilder::new(address.to_string(), "GET", path).try_send()
}

/// One keep-alive HTTP/1.1 connection, for load: many requests, one handshake.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(address: &str) -> Result<Connection, String> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect {address}: {e}"))?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender })
    }

    /// Sends a GET and returns the status, draining the body.
    pub async fn get_status(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<u16, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let mut req = Request::builder()
            .method("GET")
            .uri(path)
            .header("host", "portico.test");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok(status)
    }
}
