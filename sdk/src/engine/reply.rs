//! Reading a callout's reply from the host, bounded by the call's limit.

use crate::api::{CallError, GrpcError, GrpcStatus, HttpResponse};
use crate::host::{BufferType, Host, MapType};

/// A reply as the host announced it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw {
    Http(Sizes),
    Grpc { status: u32, size: usize },
}

impl Raw {
    pub(crate) fn http(headers: usize, body: usize, trailers: usize) -> Raw {
        Raw::Http(Sizes {
            headers,
            body,
            trailers,
        })
    }
}

/// What the host said an HTTP reply holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub headers: usize,
    pub body: usize,
    pub trailers: usize,
}

fn pairs(host: &dyn Host, map: MapType) -> Result<Vec<(String, String)>, CallError> {
    Ok(host
        .header_pairs(map)
        .map_err(|_| CallError::Failed)?
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect())
}

pub(super) fn http(host: &dyn Host, sizes: Sizes, limit: usize) -> Result<HttpResponse, CallError> {
    let body_size = sizes.body;
    if sizes.headers == 0 {
        return Err(CallError::Failed);
    }
    let headers = pairs(host, MapType::HttpCallResponseHeaders)?;
    let status = headers
        .iter()
        .find(|(k, _)| k == ":status")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or(CallError::Failed)?;
    if body_size > limit {
        return Err(CallError::TooLarge {
            size: body_size,
            limit,
        });
    }
    let body = if body_size == 0 {
        Vec::new()
    } else {
        host.buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    let trailers = if sizes.trailers == 0 {
        Vec::new()
    } else {
        pairs(host, MapType::HttpCallResponseTrailers)?
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
        trailers,
    })
}

/// A unary gRPC reply: the message's bytes when the call closed with `OK`.
pub(super) fn grpc(
    host: &dyn Host,
    status: u32,
    size: usize,
    limit: usize,
) -> Result<Vec<u8>, GrpcError> {
    if status != 0 {
        let message = host.grpc_status().ok().and_then(|(_, m)| m);
        return Err(GrpcError {
            status: GrpcStatus(status),
            message,
        });
    }
    if size > limit {
        return Err(GrpcError::too_large(size, limit));
    }
    if size == 0 {
        return Ok(Vec::new());
    }
    host.buffer(BufferType::GrpcReceiveBuffer, 0, size)
        .map(Option::unwrap_or_default)
        .map_err(|e| GrpcError {
            status: GrpcStatus::INTERNAL,
            message: Some(format!("portico: cannot read the reply: {e}")),
        })
}
