//! Reading a callout's reply from the host, bounded by the call's limit.

use crate::api::{CallError, HttpResponse};
use crate::host::{BufferType, Host, MapType};

pub(super) fn http(
    host: &dyn Host,
    num_headers: usize,
    body_size: usize,
    limit: usize,
) -> Result<HttpResponse, CallError> {
    if num_headers == 0 {
        return Err(CallError::Failed);
    }
    let headers: Vec<(String, String)> = host
        .header_pairs(MapType::HttpCallResponseHeaders)
        .map_err(|_| CallError::Failed)?
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
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
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}
