//! HTTP callouts to an Envoy cluster, answered through a closure.

use crate::host::{Host, HostError};
use std::time::Duration;

/// A request to send to one of Envoy's clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub cluster: String,
    /// Includes the pseudo-headers `:method`, `:path`, `:authority`, which Envoy requires.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    pub max_response_bytes: usize,
}

impl HttpRequest {
    /// Replies larger than this are refused unless the request raises the limit.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

    pub fn new(cluster: &str, method: &str, authority: &str, path: &str) -> Self {
        HttpRequest {
            cluster: cluster.to_string(),
            headers: vec![
                (":method".into(), method.into()),
                (":path".into(), path.into()),
                (":authority".into(), authority.into()),
            ],
            body: Vec::new(),
            timeout: Duration::from_secs(5),
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    pub fn get(cluster: &str, authority: &str, path: &str) -> Self {
        HttpRequest::new(cluster, "GET", authority, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Hands the request to the host; the token identifies its reply.
    pub(crate) fn dispatch(&self, host: &dyn Host) -> Result<u32, HostError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        host.http_call(&self.cluster, &headers, &self.body, self.timeout)
    }
}

/// The reply to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailers, when the reply had any (gRPC's status, for one).
    pub trailers: Vec<(String, String)>,
}

impl HttpResponse {
    /// First value of a header, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// First value of a trailer, case-insensitive.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a callout produced no usable reply. Timeouts and "no healthy upstream"
/// come back from Envoy as ordinary 504/503 responses, not as errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The connection failed or was reset before a response arrived.
    Failed,
    /// The body was larger than the request's `max_response_bytes`.
    TooLarge { size: usize, limit: usize },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Failed => f.write_str("the call failed before a response arrived"),
            CallError::TooLarge { size, limit } => {
                write!(
                    f,
                    "response body of {size} bytes exceeds the limit of {limit}"
                )
            }
        }
    }
}

impl std::error::Error for CallError {}

/// Identifies an HTTP callout (the host's token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId(pub u32);
