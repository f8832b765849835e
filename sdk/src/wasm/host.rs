//! Calls out of the VM: Portico's own declarations of proxy-wasm's
//! `env.proxy_*` imports and [`WasmHost`], the [`Host`] over them.

use super::pairs;
use crate::host::*;
use std::ptr::null_mut;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
    fn proxy_get_log_level(level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_close_stream(stream: u32) -> u32;
    fn proxy_get_status(code: *mut u32, message: *mut *mut u8, message_size: *mut usize) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        ret: *mut *mut u8,
        ret_size: *mut usize,
    ) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_get_metric(id: u32, value: *mut u64) -> u32;
}

fn status(code: u32) -> HostResult<()> {
    match code {
        0 => Ok(()),
        1 => Err(HostError::NotFound),
        2 => Err(HostError::BadArgument),
        3 => Err(HostError::SerializationFailure),
        8 => Err(HostError::CasMismatch),
        10 => Err(HostError::InternalFailure),
        12 => Err(HostError::Unimplemented),
        other => Err(HostError::Other(other)),
    }
}

/// Takes ownership of a buffer the host allocated in our memory (through
/// proxy-wasm's `proxy_on_memory_allocate`, which hands out boxed slices).
///
/// # Safety
/// `data`/`size` must come from a host call that just succeeded.
unsafe fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

fn path_bytes(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

/// Calls out of the VM over the proxy-wasm ABI.
pub struct WasmHost;

impl Host for WasmHost {
    fn log(&self, level: LogLevel, message: &str) {
        unsafe {
            proxy_log(level as u32, message.as_ptr(), message.len());
        }
    }

    fn log_level(&self) -> LogLevel {
        let mut level = 0u32;
        let code = unsafe { proxy_get_log_level(&mut level) };
        match (code, level) {
            (0, 0) => LogLevel::Trace,
            (0, 1) => LogLevel::Debug,
            (0, 2) => LogLevel::Info,
            (0, 3) => LogLevel::Warn,
            (0, 4) => LogLevel::Error,
            (0, _) => LogLevel::Critical,
            _ => LogLevel::Info,
        }
    }

    fn now(&self) -> SystemTime {
        let mut nanos = 0u64;
        unsafe {
            proxy_get_current_time_nanoseconds(&mut nanos);
        }
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn header_pairs(&self, map: MapType) -> HostResult<Pairs> {
        let (mut data, mut size) = (null_mut(), 0usize);
        status(unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) })?;
        let bytes = unsafe { take(data, size) };
        pairs::decode(&bytes).ok_or(HostError::SerializationFailure)
    }

    fn header_map(&self, map: MapType) -> HostResult<HeaderBuf> {
        let (mut data, mut size) = (null_mut(), 0usize);
        status(unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) })?;
        let bytes = unsafe { take(data, size) };
        HeaderBuf::decode(bytes).ok_or(HostError::SerializationFailure)
    }

    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>> {
        let (mut data, mut size) = (null_mut(), 0usize);
        let code = unsafe {
            proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size)
        };
        match status(code) {
            Ok(()) => Ok(Some(unsafe { take(data, size) })),
            Err(HostError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        status(unsafe {
            proxy_replace_header_map_value(
                map as u32,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        status(unsafe {
            proxy_add_header_map_value(
                map as u32,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()> {
        status(unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) })
    }

    fn buffer(&self, buffer: BufferType, start: usize, max: usize) -> HostResult<Option<Vec<u8>>> {
        let (mut data, mut size) = (null_mut(), 0usize);
        let code =
            unsafe { proxy_get_buffer_bytes(buffer as u32, start, max, &mut data, &mut size) };
        match status(code) {
            Ok(()) => Ok(Some(unsafe { take(data, size) })),
            Err(HostError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_buffer(
        &self,
        buffer: BufferType,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        status(unsafe {
            proxy_set_buffer_bytes(buffer as u32, start, size, data.as_ptr(), data.len())
        })
    }

    fn env_var(&self, name: &str) -> Option<String> {
        // WASI `environ_get`: Envoy fills it from `vm_config.environment_variables`.
        std::env::var(name).ok()
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        let path = path_bytes(path);
        let (mut data, mut size) = (null_mut(), 0usize);
        let code = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
        match status(code) {
            Ok(()) => Ok(Some(unsafe { take(data, size) })),
            Err(HostError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        let path = path_bytes(path);
        status(unsafe {
            proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len())
        })
    }

    fn send_local_response(
        &self,
        status_code: u16,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HostResult<()> {
        let headers = pairs::encode(headers);
        status(unsafe {
            proxy_send_local_response(
                u32::from(status_code),
                details.as_ptr(),
                details.len(),
                body.as_ptr(),
                body.len(),
                headers.as_ptr(),
                headers.len(),
                -1,
            )
        })
    }

    fn resume(&self, direction: Direction) -> HostResult<()> {
        let stream = match direction {
            Direction::Request => 0,
            Direction::Response => 1,
        };
        status(unsafe { proxy_continue_stream(stream) })
    }

    fn close_stream(&self, direction: Direction) -> HostResult<()> {
        let stream = match direction {
            Direction::Request => 0,
            Direction::Response => 1,
        };
        status(unsafe { proxy_close_stream(stream) })
    }

    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Vec<u8>> {
        let (mut data, mut size) = (null_mut(), 0usize);
        status(unsafe {
            proxy_call_foreign_function(
                name.as_ptr(),
                name.len(),
                args.as_ptr(),
                args.len(),
                &mut data,
                &mut size,
            )
        })?;
        Ok(unsafe { take(data, size) })
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        status(unsafe { proxy_set_effective_context(context_id) })
    }

    fn http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> HostResult<u32> {
        // Through the upstream wrapper: it registers the token with its
        // dispatcher, which routes the reply back to this context.
        let body = if body.is_empty() { None } else { Some(body) };
        proxy_wasm::hostcalls::dispatch_http_call(cluster, headers.to_vec(), body, vec![], timeout)
            .map_err(|s| status(s as u32).err().unwrap_or(HostError::Other(0)))
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        let service = envoy_grpc_service(call.cluster).ok_or(HostError::BadArgument)?;
        let metadata: Vec<(&str, &[u8])> = call
            .metadata
            .iter()
            .map(|(k, v)| (*k, v.as_bytes()))
            .collect();
        let message = if call.message.is_empty() {
            None
        } else {
            Some(call.message)
        };
        // Through the upstream wrapper, which registers the token with its
        // dispatcher (as for HTTP callouts).
        proxy_wasm::hostcalls::dispatch_grpc_call(
            &service,
            call.service,
            call.method,
            metadata,
            message,
            call.timeout,
        )
        .map_err(|s| status(s as u32).err().unwrap_or(HostError::Other(0)))
    }

    fn grpc_status(&self) -> HostResult<(u32, Option<String>)> {
        let (mut code, mut data, mut size) = (0u32, null_mut(), 0usize);
        status(unsafe { proxy_get_status(&mut code, &mut data, &mut size) })?;
        let message = unsafe { take(data, size) };
        let message = (!message.is_empty()).then(|| String::from_utf8_lossy(&message).into_owned());
        Ok((code, message))
    }

    fn shared_data(&self, key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
        let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
        let code = unsafe {
            proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas)
        };
        match status(code) {
            Ok(()) => Ok(Some((unsafe { take(data, size) }, cas))),
            Err(HostError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()> {
        status(unsafe {
            proxy_set_shared_data(
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
                cas.unwrap_or(0),
            )
        })
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        let mut id = 0u32;
        status(unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) })?;
        Ok(id)
    }

    fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()> {
        status(unsafe { proxy_increment_metric(id, delta) })
    }

    fn record_metric(&self, id: u32, value: u64) -> HostResult<()> {
        status(unsafe { proxy_record_metric(id, value) })
    }

    fn metric(&self, id: u32) -> HostResult<u64> {
        let mut value = 0u64;
        status(unsafe { proxy_get_metric(id, &mut value) })?;
        Ok(value)
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        let ms = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
        status(unsafe { proxy_set_tick_period_milliseconds(ms) })
    }
}

/// `cluster` as a serialized `envoy.config.core.v3.GrpcService` naming it in
/// `envoy_grpc.cluster_name`. Envoy also takes a bare cluster name, but only
/// when those bytes do not happen to parse as a `GrpcService` themselves.
/// `None` for a name the ABI's string cannot carry this way.
fn envoy_grpc_service(cluster: &str) -> Option<String> {
    // Field 1 (envoy_grpc), and inside it field 1 (cluster_name), both
    // length-delimited; one-byte lengths keep the bytes valid UTF-8.
    let inner = u8::try_from(cluster.len()).ok().filter(|n| *n < 0x7e)?;
    if cluster.is_empty() || !cluster.is_ascii() {
        return None;
    }
    let mut bytes = vec![0x0a, inner + 2, 0x0a, inner];
    bytes.extend_from_slice(cluster.as_bytes());
    String::from_utf8(bytes).ok()
}
