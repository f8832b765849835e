//! Unary gRPC calls to an Envoy cluster, typed with `prost` messages.

use crate::host::{GrpcCall, Host, HostError};
use std::time::Duration;

/// A unary gRPC request: `service`/`method` on an Envoy cluster (which must
/// speak HTTP/2, as gRPC does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcRequest {
    pub cluster: String,
    /// Fully qualified, as in the `.proto`: `envoy.service.ratelimit.v3.RateLimitService`.
    pub service: String,
    pub method: String,
    /// Initial metadata (sent as request headers).
    pub metadata: Vec<(String, String)>,
    /// The serialized request message.
    pub message: Vec<u8>,
    pub timeout: Duration,
    /// Replies larger than this are refused ([`GrpcError::too_large`]).
    pub max_response_bytes: usize,
}

impl GrpcRequest {
    pub fn new(cluster: &str, service: &str, method: &str, message: &impl prost::Message) -> Self {
        GrpcRequest {
            cluster: cluster.to_string(),
            service: service.to_string(),
            method: method.to_string(),
            metadata: Vec::new(),
            message: message.encode_to_vec(),
            timeout: Duration::from_secs(5),
            max_response_bytes: crate::api::HttpRequest::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    pub fn metadata(mut self, name: &str, value: &str) -> Self {
        self.metadata
            .push((name.to_ascii_lowercase(), value.into()));
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

    pub(crate) fn dispatch(&self, host: &dyn Host) -> Result<u32, HostError> {
        let metadata: Vec<(&str, &str)> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        host.grpc_call(&GrpcCall {
            cluster: &self.cluster,
            service: &self.service,
            method: &self.method,
            metadata: &metadata,
            message: &self.message,
            timeout: self.timeout,
        })
    }
}

/// A gRPC status code (`google.rpc.Code`), with the names of the usual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrpcStatus(pub u32);

impl GrpcStatus {
    pub const OK: GrpcStatus = GrpcStatus(0);
    pub const CANCELLED: GrpcStatus = GrpcStatus(1);
    pub const UNKNOWN: GrpcStatus = GrpcStatus(2);
    pub const INVALID_ARGUMENT: GrpcStatus = GrpcStatus(3);
    pub const DEADLINE_EXCEEDED: GrpcStatus = GrpcStatus(4);
    pub const NOT_FOUND: GrpcStatus = GrpcStatus(5);
    pub const PERMISSION_DENIED: GrpcStatus = GrpcStatus(7);
    pub const RESOURCE_EXHAUSTED: GrpcStatus = GrpcStatus(8);
    pub const UNIMPLEMENTED: GrpcStatus = GrpcStatus(12);
    pub const INTERNAL: GrpcStatus = GrpcStatus(13);
    pub const UNAVAILABLE: GrpcStatus = GrpcStatus(14);
    pub const UNAUTHENTICATED: GrpcStatus = GrpcStatus(16);
}

/// Why a gRPC call gave no message: the status the server (or Envoy, for
/// a timeout or an unreachable cluster) closed it with, or a reply Portico
/// could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcError {
    pub status: GrpcStatus,
    pub message: Option<String>,
}

impl GrpcError {
    pub(crate) fn too_large(size: usize, limit: usize) -> Self {
        GrpcError {
            status: GrpcStatus::RESOURCE_EXHAUSTED,
            message: Some(format!(
                "portico: reply of {size} bytes exceeds the limit of {limit}"
            )),
        }
    }

    pub(crate) fn undecodable(err: &prost::DecodeError) -> Self {
        GrpcError {
            status: GrpcStatus::INTERNAL,
            message: Some(format!("portico: cannot decode the reply: {err}")),
        }
    }
}

impl std::fmt::Display for GrpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gRPC status {}", self.status.0)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GrpcError {}

/// Decodes a reply's bytes into the caller's message type.
pub(crate) fn decode<M: prost::Message + Default>(
    reply: Result<Vec<u8>, GrpcError>,
) -> Result<M, GrpcError> {
    let bytes = reply?;
    M::decode(bytes.as_slice()).map_err(|e| GrpcError::undecodable(&e))
}
