//! Reading a callout's reply from the host, bounded by the call's limit.

use crate::api::{CallError, HttpResponse};
use crate::host::{BufferType, Host, MapType};

/// What the host said a reply holds.
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
