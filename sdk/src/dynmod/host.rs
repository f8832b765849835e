//! [`DynHost`]: the [`Host`] seam over Envoy's dynamic-module callbacks.
//!
//! One `DynHost` is made for each hook Envoy calls, knowing where it runs:
//! on a stream (its Envoy filter pointer) or on the filter configuration
//! (the "root": configuration, timers, callouts not tied to a request).

use super::abi::{self, api, attribute, EnvoyBuffer, EnvoyHeader, ModuleBuffer, ModuleHeader, Ptr};
use super::shared::{CallOwner, Parts, Reply, Synthetic};
use crate::host::{
    BufferType, Direction, GrpcCall, Host, HostError, HostResult, LogLevel, MapType, MetricKind,
    Pairs,
};
use std::cell::RefCell;
use std::time::{Duration, SystemTime};

/// Where the current hook runs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Current {
    Root,
    Stream { id: u32, filter: Ptr },
}

/// A local reply a phase asked for, held until the phase returns: the
/// adapter first runs the filter's own response phases on it, as Envoy's
/// wasm host does, then sends it.
#[derive(Debug, Default)]
pub(super) struct LocalReply {
    pub status: u16,
    pub details: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

pub(super) struct DynHost<'a> {
    pub parts: &'a Parts,
    pub current: Current,
    /// The callout reply being delivered.
    pub reply: Option<&'a Reply>,
    /// A local reply asked for during this hook.
    pub local: RefCell<Option<LocalReply>>,
    /// While a local reply runs through the response phases: its headers
    /// and body stand for the response's.
    pub synthetic: Option<&'a RefCell<Synthetic>>,
}

fn level_number(level: LogLevel) -> u32 {
    level as u32
}

fn header_type(map: MapType) -> Option<u32> {
    match map {
        MapType::RequestHeaders => Some(abi::REQUEST_HEADER),
        MapType::RequestTrailers => Some(abi::REQUEST_TRAILER),
        MapType::ResponseHeaders => Some(abi::RESPONSE_HEADER),
        MapType::ResponseTrailers => Some(abi::RESPONSE_TRAILER),
        MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => None,
    }
}

/// The bytes of an Envoy header list, copied.
///
/// # Safety
/// `headers` must be null or valid for `n` entries for the current hook.
pub(super) unsafe fn copy_headers(headers: *const EnvoyHeader, n: usize) -> Pairs {
    if headers.is_null() || n == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    let list = unsafe { std::slice::from_raw_parts(headers, n) };
    list.iter()
        .map(|h| {
            // SAFETY: Envoy's buffers, valid for the hook.
            let key = unsafe { h.key.to_vec() };
            let value = unsafe { h.value.to_vec() };
            (String::from_utf8_lossy(&key).into_owned(), value)
        })
        .collect()
}

/// Body chunks of a callout reply, joined.
///
/// # Safety
/// `chunks` must be null or valid for `n` entries for the current hook.
pub(super) unsafe fn copy_chunks(chunks: *const EnvoyBuffer, n: usize) -> Vec<u8> {
    if chunks.is_null() || n == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's contract.
    let list = unsafe { std::slice::from_raw_parts(chunks, n) };
    let mut out = Vec::new();
    for c in list {
        // SAFETY: Envoy's buffers, valid for the hook.
        out.extend_from_slice(&unsafe { c.to_vec() });
    }
    out
}

impl DynHost<'_> {
    fn filter(&self) -> HostResult<Ptr> {
        match self.current {
            Current::Stream { filter, .. } => Ok(filter),
            Current::Root => Err(HostError::BadArgument),
        }
    }

    fn api(&self) -> HostResult<&'static abi::Api> {
        api().ok_or(HostError::InternalFailure)
    }

    fn synthetic_map(&self, map: MapType) -> Option<&RefCell<Synthetic>> {
        (map == MapType::ResponseHeaders)
            .then_some(self.synthetic)
            .flatten()
    }

    fn body_type(&self, buffer: BufferType) -> Option<(u32, u32)> {
        match buffer {
            BufferType::RequestBody => {
                Some((abi::BUFFERED_REQUEST_BODY, abi::RECEIVED_REQUEST_BODY))
            }
            BufferType::ResponseBody => {
                Some((abi::BUFFERED_RESPONSE_BODY, abi::RECEIVED_RESPONSE_BODY))
            }
            _ => None,
        }
    }

    fn chunks(&self, filter: Ptr, body: u32) -> HostResult<Vec<u8>> {
        let api = self.api()?;
        // SAFETY: `filter` is the live stream of this hook.
        let n = unsafe { (api.http_get_body_chunks_size)(filter, body) };
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut chunks = vec![EnvoyBuffer::NULL; n];
        // SAFETY: `chunks` has room for the `n` entries Envoy reported.
        if !unsafe { (api.http_get_body_chunks)(filter, body, chunks.as_mut_ptr()) } {
            return Ok(Vec::new());
        }
        // SAFETY: filled by Envoy for this hook.
        Ok(unsafe { copy_chunks(chunks.as_ptr(), n) })
    }

    /// The body as a phase sees it: what Envoy buffered so far, then the
    /// chunk that just arrived (wasm's view of a paused stream's body).
    pub(super) fn body(&self, buffer: BufferType) -> HostResult<Vec<u8>> {
        if let (BufferType::ResponseBody, Some(s)) = (buffer, self.synthetic) {
            return Ok(s.borrow().body.clone());
        }
        let filter = self.filter()?;
        let (buffered, received) = self.body_type(buffer).ok_or(HostError::BadArgument)?;
        let mut out = self.chunks(filter, buffered)?;
        out.extend_from_slice(&self.chunks(filter, received)?);
        Ok(out)
    }

    fn attribute_string(&self, id: u32) -> HostResult<Option<Vec<u8>>> {
        let api = self.api()?;
        let filter = self.filter()?;
        let mut out = EnvoyBuffer::NULL;
        // SAFETY: a live stream and an out-pointer.
        if unsafe { (api.http_filter_get_attribute_string)(filter, id, &mut out) } {
            // SAFETY: Envoy's buffer, valid for this hook.
            Ok(Some(unsafe { out.to_vec() }))
        } else {
            Ok(None)
        }
    }

    fn attribute_int(&self, id: u32) -> HostResult<Option<Vec<u8>>> {
        let api = self.api()?;
        let filter = self.filter()?;
        let mut out = 0u64;
        // SAFETY: a live stream and an out-pointer.
        if unsafe { (api.http_filter_get_attribute_int)(filter, id, &mut out) } {
            Ok(Some(out.to_le_bytes().to_vec()))
        } else {
            Ok(None)
        }
    }

    fn owner(&self) -> CallOwner {
        match self.current {
            Current::Root => CallOwner::Root,
            Current::Stream { id, .. } => CallOwner::Stream(id),
        }
    }
}

impl Host for DynHost<'_> {
    fn log(&self, level: LogLevel, message: &str) {
        if let Some(api) = api() {
            // SAFETY: a module buffer valid for the call.
            unsafe { (api.log)(level_number(level), ModuleBuffer::of(message.as_bytes())) }
        }
    }

    fn log_level(&self) -> LogLevel {
        let Some(api) = api() else {
            return LogLevel::Critical;
        };
        for level in [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ] {
            // SAFETY: a plain query.
            if unsafe { (api.log_enabled)(level_number(level)) } {
                return level;
            }
        }
        LogLevel::Critical
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn header_pairs(&self, map: MapType) -> HostResult<Pairs> {
        if let Some(s) = self.synthetic_map(map) {
            return Ok(s.borrow().headers.clone());
        }
        if let Some(reply) = self.reply {
            match map {
                MapType::HttpCallResponseHeaders => return Ok(reply.headers.clone()),
                MapType::HttpCallResponseTrailers => return Ok(reply.trailers.clone()),
                _ => {}
            }
        }
        let ty = header_type(map).ok_or(HostError::NotFound)?;
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: a live stream.
        let n = unsafe { (api.http_get_headers_size)(filter, ty) };
        if n == 0 {
            return Ok(Vec::new());
        }
        let empty = EnvoyHeader {
            key: EnvoyBuffer::NULL,
            value: EnvoyBuffer::NULL,
        };
        let mut list = vec![empty; n];
        // SAFETY: `list` has room for the `n` headers Envoy reported.
        if !unsafe { (api.http_get_headers)(filter, ty, list.as_mut_ptr()) } {
            return Err(HostError::BadArgument);
        }
        // SAFETY: filled by Envoy for this hook.
        Ok(unsafe { copy_headers(list.as_ptr(), n) })
    }

    fn header(&self, map: MapType, name: &str) -> HostResult<Option<Vec<u8>>> {
        if self.synthetic_map(map).is_some() || self.reply.is_some() && header_type(map).is_none() {
            let pairs = self.header_pairs(map)?;
            return Ok(pairs
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v));
        }
        let ty = header_type(map).ok_or(HostError::NotFound)?;
        let api = self.api()?;
        let filter = self.filter()?;
        let mut out = EnvoyBuffer::NULL;
        let mut count = 0usize;
        let key = ModuleBuffer::of(name.as_bytes());
        // SAFETY: a live stream and out-pointers.
        let ok = unsafe { (api.http_get_header)(filter, ty, key, &mut out, 0, &mut count) };
        if !ok || count == 0 {
            return Ok(None);
        }
        // The first value, as the wasm host reads a repeated header.
        // SAFETY: Envoy's buffer, valid for this hook.
        Ok(Some(unsafe { out.to_vec() }))
    }

    fn set_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        if let Some(s) = self.synthetic_map(map) {
            let mut s = s.borrow_mut();
            s.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            s.headers.push((name.to_ascii_lowercase(), value.to_vec()));
            return Ok(());
        }
        let ty = header_type(map).ok_or(HostError::BadArgument)?;
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: a live stream; module buffers valid for the call.
        let ok = unsafe {
            (api.http_set_header)(
                filter,
                ty,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::of(value),
            )
        };
        ok.then_some(()).ok_or(HostError::BadArgument)
    }

    fn add_header(&self, map: MapType, name: &str, value: &[u8]) -> HostResult<()> {
        if let Some(s) = self.synthetic_map(map) {
            s.borrow_mut()
                .headers
                .push((name.to_ascii_lowercase(), value.to_vec()));
            return Ok(());
        }
        let ty = header_type(map).ok_or(HostError::BadArgument)?;
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: as in `set_header`.
        let ok = unsafe {
            (api.http_add_header)(
                filter,
                ty,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::of(value),
            )
        };
        ok.then_some(()).ok_or(HostError::BadArgument)
    }

    fn remove_header(&self, map: MapType, name: &str) -> HostResult<()> {
        if let Some(s) = self.synthetic_map(map) {
            s.borrow_mut()
                .headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            return Ok(());
        }
        let ty = header_type(map).ok_or(HostError::BadArgument)?;
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: a null value removes the header.
        let ok = unsafe {
            (api.http_set_header)(
                filter,
                ty,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::NULL,
            )
        };
        ok.then_some(()).ok_or(HostError::BadArgument)
    }

    fn buffer(&self, buffer: BufferType, start: usize, max: usize) -> HostResult<Option<Vec<u8>>> {
        let whole = match buffer {
            BufferType::HttpCallResponseBody | BufferType::GrpcReceiveBuffer => match self.reply {
                Some(r) => r.body.clone(),
                None => return Ok(None),
            },
            BufferType::RequestBody | BufferType::ResponseBody => self.body(buffer)?,
            BufferType::PluginConfiguration => return Ok(None),
        };
        let from = start.min(whole.len());
        let to = start.saturating_add(max).min(whole.len());
        Ok(whole.get(from..to).map(<[u8]>::to_vec))
    }

    fn set_buffer(
        &self,
        buffer: BufferType,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        if let (BufferType::ResponseBody, Some(s)) = (buffer, self.synthetic) {
            let mut s = s.borrow_mut();
            let from = start.min(s.body.len());
            let to = start.saturating_add(size).min(s.body.len());
            s.body.splice(from..to, data.iter().copied());
            return Ok(());
        }
        let (buffered, received) = self.body_type(buffer).ok_or(HostError::BadArgument)?;
        let api = self.api()?;
        let filter = self.filter()?;
        let mut whole = self.body(buffer)?;
        let from = start.min(whole.len());
        let to = start.saturating_add(size).min(whole.len());
        whole.splice(from..to, data.iter().copied());
        // The whole view is rewritten: what Envoy buffered is drained, and
        // the result takes the place of the chunk that arrived.
        // SAFETY: a live stream; `usize::MAX` drains all of a body.
        unsafe {
            (api.http_drain_body)(filter, buffered, usize::MAX);
            (api.http_drain_body)(filter, received, usize::MAX);
        }
        // SAFETY: a module buffer valid for the call.
        let ok = unsafe { (api.http_append_body)(filter, received, ModuleBuffer::of(&whole)) };
        ok.then_some(()).ok_or(HostError::BadArgument)
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        match path {
            ["source", "address"] => self.attribute_string(attribute::SOURCE_ADDRESS),
            ["source", "port"] => self.attribute_int(attribute::SOURCE_PORT),
            ["destination", "address"] => self.attribute_string(attribute::DESTINATION_ADDRESS),
            ["destination", "port"] => self.attribute_int(attribute::DESTINATION_PORT),
            ["connection", "id"] => self.attribute_int(attribute::CONNECTION_ID),
            ["request", "id"] => self.attribute_string(attribute::REQUEST_ID),
            ["request", "protocol"] => self.attribute_string(attribute::REQUEST_PROTOCOL),
            ["request", "time"] => self.attribute_int(attribute::REQUEST_TIME),
            ["xds", "route_name"] => self.attribute_string(attribute::XDS_ROUTE_NAME),
            ["xds", "cluster_name"] => {
                let api = self.api()?;
                let filter = self.filter()?;
                let mut out = EnvoyBuffer::NULL;
                // SAFETY: a live stream and an out-pointer.
                if unsafe { (api.http_get_cluster_name)(filter, &mut out) } {
                    // SAFETY: Envoy's buffer, valid for this hook.
                    Ok(Some(unsafe { out.to_vec() }))
                } else {
                    self.attribute_string(attribute::XDS_CLUSTER_NAME)
                }
            }
            ["plugin_name"] => Ok(Some(self.parts.filter_name.as_bytes().to_vec())),
            [name] => {
                // Filter state set by `set_filter_state`, under the key the
                // wasm host uses, so access logs read it the same way.
                let api = self.api()?;
                let filter = self.filter()?;
                let key = format!("wasm.{name}");
                let mut out = EnvoyBuffer::NULL;
                // SAFETY: a live stream and an out-pointer.
                if unsafe {
                    (api.http_get_filter_state_bytes)(
                        filter,
                        ModuleBuffer::of(key.as_bytes()),
                        &mut out,
                    )
                } {
                    // SAFETY: Envoy's buffer, valid for this hook.
                    Ok(Some(unsafe { out.to_vec() }))
                } else {
                    Ok(None)
                }
            }
            _ => Ok(None),
        }
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        let [name] = path else {
            return Err(HostError::BadArgument);
        };
        let api = self.api()?;
        let filter = self.filter()?;
        let key = format!("wasm.{name}");
        // SAFETY: a live stream; module buffers valid for the call.
        let ok = unsafe {
            (api.http_set_filter_state_bytes)(
                filter,
                ModuleBuffer::of(key.as_bytes()),
                ModuleBuffer::of(value),
            )
        };
        ok.then_some(()).ok_or(HostError::BadArgument)
    }

    fn send_local_response(
        &self,
        status: u16,
        details: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HostResult<()> {
        self.filter()?;
        *self.local.borrow_mut() = Some(LocalReply {
            status,
            details: details.to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.to_vec(),
        });
        Ok(())
    }

    fn resume(&self, direction: Direction) -> HostResult<()> {
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: the live stream of this hook, on its own worker thread.
        unsafe {
            match direction {
                Direction::Request => (api.http_filter_continue_decoding)(filter),
                Direction::Response => (api.http_filter_continue_encoding)(filter),
            }
        }
        Ok(())
    }

    fn close_stream(&self, _direction: Direction) -> HostResult<()> {
        let api = self.api()?;
        let filter = self.filter()?;
        // SAFETY: the live stream of this hook.
        unsafe {
            (api.http_filter_reset_stream)(
                filter,
                abi::RESET_LOCAL,
                ModuleBuffer::of(b"portico_reset"),
            )
        };
        Ok(())
    }

    fn call_foreign_function(&self, name: &str, _args: &[u8]) -> HostResult<Vec<u8>> {
        match name {
            "clear_route_cache" => {
                let api = self.api()?;
                let filter = self.filter()?;
                // SAFETY: the live stream of this hook.
                unsafe { (api.http_clear_route_cache)(filter) };
                Ok(Vec::new())
            }
            _ => Err(HostError::NotFound),
        }
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        // The engine switches only to streams `reaches` allowed: this one.
        match self.current {
            Current::Stream { id, .. } if id == context_id => Ok(()),
            _ if context_id == super::shared::ROOT_ID => Ok(()),
            _ => Err(HostError::BadArgument),
        }
    }

    fn http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> HostResult<u32> {
        let api = self.api()?;
        let mut list: Vec<ModuleHeader> = headers
            .iter()
            .map(|(k, v)| ModuleHeader::of(k, v.as_bytes()))
            .collect();
        let mut id = 0u64;
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let cluster = ModuleBuffer::of(cluster.as_bytes());
        // SAFETY: module buffers and the header list live for the call.
        let result = unsafe {
            match self.current {
                Current::Stream { filter, .. } => (api.http_filter_http_callout)(
                    filter,
                    &mut id,
                    cluster,
                    list.as_mut_ptr(),
                    list.len(),
                    ModuleBuffer::of(body),
                    ms,
                ),
                Current::Root => (api.http_filter_config_http_callout)(
                    self.parts.config.0,
                    &mut id,
                    cluster,
                    list.as_mut_ptr(),
                    list.len(),
                    ModuleBuffer::of(body),
                    ms,
                ),
            }
        };
        match result {
            abi::CALLOUT_SUCCESS => Ok(self.parts.register_call(self.owner(), id, false)),
            abi::CALLOUT_CLUSTER_NOT_FOUND => Err(HostError::BadArgument),
            _ => Err(HostError::InternalFailure),
        }
    }

    fn grpc_call(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        let api = self.api()?;
        let path = format!("/{}/{}", call.service, call.method);
        let ms = u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX);
        let grpc_timeout = format!("{ms}m");
        let mut list = vec![
            ModuleHeader::of(":method", b"POST"),
            ModuleHeader::of(":path", path.as_bytes()),
            ModuleHeader::of(":authority", call.cluster.as_bytes()),
            ModuleHeader::of("content-type", b"application/grpc"),
            ModuleHeader::of("te", b"trailers"),
            ModuleHeader::of("grpc-timeout", grpc_timeout.as_bytes()),
        ];
        for (k, v) in call.metadata {
            list.push(ModuleHeader::of(k, v.as_bytes()));
        }
        // One length-prefixed, uncompressed message.
        let len = u32::try_from(call.message.len()).map_err(|_| HostError::BadArgument)?;
        let mut frame = Vec::with_capacity(5 + call.message.len());
        frame.push(0);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(call.message);
        let mut id = 0u64;
        let cluster = ModuleBuffer::of(call.cluster.as_bytes());
        // SAFETY: module buffers and the header list live for the call.
        let result = unsafe {
            match self.current {
                Current::Stream { filter, .. } => (api.http_filter_start_http_stream)(
                    filter,
                    &mut id,
                    cluster,
                    list.as_mut_ptr(),
                    list.len(),
                    ModuleBuffer::of(&frame),
                    true,
                    ms,
                ),
                Current::Root => (api.http_filter_config_start_http_stream)(
                    self.parts.config.0,
                    &mut id,
                    cluster,
                    list.as_mut_ptr(),
                    list.len(),
                    ModuleBuffer::of(&frame),
                    true,
                    ms,
                ),
            }
        };
        match result {
            abi::CALLOUT_SUCCESS => Ok(self.parts.register_call(self.owner(), id, true)),
            // As Envoy's gRPC client refuses a cluster it does not know.
            abi::CALLOUT_CLUSTER_NOT_FOUND => Err(HostError::BadArgument),
            _ => Err(HostError::InternalFailure),
        }
    }

    fn grpc_status(&self) -> HostResult<(u32, Option<String>)> {
        let reply = self.reply.ok_or(HostError::NotFound)?;
        Ok((reply.grpc_status, reply.grpc_message.clone()))
    }

    fn shared_data(&self, key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
        Ok(self.parts.store_get(key))
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()> {
        self.parts.store_set(key, value, cas)
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        self.parts.define_metric(kind, name)
    }

    fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()> {
        self.parts.increment_metric(id, delta)
    }

    fn record_metric(&self, id: u32, value: u64) -> HostResult<()> {
        self.parts.record_metric(id, value)
    }

    fn metric(&self, id: u32) -> HostResult<u64> {
        // The ABI cannot read a metric back: what this module added.
        self.parts.metric_value(id)
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        if let Current::Stream { id, filter } = self.current {
            // A stream timer fires on the root's tick, then comes back to
            // the stream through its scheduler.
            self.parts.ensure_scheduler(id, filter);
        }
        self.parts.set_tick(period);
        Ok(())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        // No VM boundary: the process's environment (wasm sees only what
        // `vm_config.environment_variables` lists). `HOSTNAME` is the
        // machine's name when the environment lacks it, as Envoy's own
        // `%HOSTNAME%` reads it.
        std::env::var(name).ok().or_else(|| {
            (name == "HOSTNAME")
                .then(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .flatten()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
    }

    fn monotonic_nanos(&self) -> Option<u64> {
        // `Instant` is CLOCK_MONOTONIC, the clock under Envoy's steady time;
        // counted from the first read in this process, plus one so it is
        // never zero.
        static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let base = BASE.get_or_init(std::time::Instant::now);
        Some(
            u64::try_from(base.elapsed().as_nanos())
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        )
    }

    fn reaches(&self, context_id: u32) -> bool {
        matches!(self.current, Current::Stream { id, .. } if id == context_id)
    }

    fn schedule(&self, context_id: u32) -> HostResult<()> {
        self.parts.schedule(context_id)
    }
}
