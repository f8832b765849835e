//! proxy-wasm's dispatcher calls in: the root and HTTP contexts that drive
//! the engine, and the `log` crate routed to Envoy's log.

use super::host::WasmHost;
use crate::api::Plugin;
use crate::engine::{Flow, HookHost, RootRuntime, StreamRuntime};
use crate::host::{BufferType, Host, LogLevel};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

/// Routes the `log` crate's macros to Envoy's log.
struct HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let level = match record.level() {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        };
        WasmHost.log(level, &record.args().to_string());
    }

    fn flush(&self) {}
}

static LOGGER: HostLogger = HostLogger;

fn sync_log_level() {
    let filter = match WasmHost.log_level() {
        LogLevel::Trace => log::LevelFilter::Trace,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => log::LevelFilter::Error,
    };
    log::set_max_level(filter);
}

/// Called by [`crate::main!`] when the VM starts.
pub fn start<P: Plugin>() {
    // No host calls here: Envoy refuses them while `_initialize` runs
    // ("restricted_callback"); the log level is read in `on_configure`.
    let _ = log::set_logger(&LOGGER);
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(WasmRoot::<P> {
            runtime: RootRuntime::new(context_id),
        })
    });
}

struct WasmRoot<P: Plugin> {
    runtime: RootRuntime<P>,
}

impl<P: Plugin> Context for WasmRoot<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        self.runtime.on_http_call_response(
            &HookHost::new(&WasmHost),
            token,
            num_headers,
            body_size,
            num_trailers,
        );
    }

    fn on_grpc_call_response(&mut self, token: u32, status: u32, size: usize) {
        self.grpc_reply(token, status, size);
    }
}

impl<P: Plugin> WasmRoot<P> {
    fn grpc_reply(&self, token: u32, status: u32, size: usize) {
        self.runtime
            .on_grpc_call_response(&HookHost::new(&WasmHost), token, status, size);
    }
}

impl<P: Plugin> RootContext for WasmRoot<P> {
    fn on_configure(&mut self, size: usize) -> bool {
        sync_log_level();
        let raw = WasmHost
            .buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.runtime.configure(&WasmHost, &raw).is_ok()
    }

    fn on_tick(&mut self) {
        self.runtime.on_tick(&HookHost::new(&WasmHost));
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Returning None would abort the VM in the upstream dispatcher; an
        // unconfigured plugin gets a stream that lets everything through
        // (Envoy does not route traffic to a plugin that failed to configure).
        Some(Box::new(WasmStream {
            runtime: self.runtime.new_stream(&WasmHost, context_id),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct WasmStream<P: Plugin> {
    runtime: Option<StreamRuntime<P>>,
}

fn action(flow: Flow) -> Action {
    match flow {
        Flow::Continue => Action::Continue,
        Flow::Pause => Action::Pause,
    }
}

impl<P: Plugin> WasmStream<P> {
    fn run(&self, f: impl FnOnce(&StreamRuntime<P>) -> Flow) -> Action {
        self.runtime
            .as_ref()
            .map_or(Action::Continue, |rt| action(f(rt)))
    }
}

impl<P: Plugin> Context for WasmStream<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        if let Some(rt) = &self.runtime {
            rt.on_http_call_response(
                &HookHost::new(&WasmHost),
                token,
                num_headers,
                body_size,
                num_trailers,
            );
        }
    }

    fn on_grpc_call_response(&mut self, token: u32, status: u32, size: usize) {
        if let Some(rt) = &self.runtime {
            rt.on_grpc_call_response(&HookHost::new(&WasmHost), token, status, size);
        }
    }
}

impl<P: Plugin> HttpContext for WasmStream<P> {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        self.run(|rt| rt.on_request_headers(&HookHost::new(&WasmHost), end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.run(|rt| rt.on_request_body(&HookHost::new(&WasmHost), body_size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _: usize) -> Action {
        self.run(|rt| rt.on_request_trailers(&HookHost::new(&WasmHost)))
    }

    fn on_http_response_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        self.run(|rt| rt.on_response_headers(&HookHost::new(&WasmHost), end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.run(|rt| rt.on_response_body(&HookHost::new(&WasmHost), body_size, end_of_stream))
    }

    fn on_http_response_trailers(&mut self, _: usize) -> Action {
        self.run(|rt| rt.on_response_trailers(&HookHost::new(&WasmHost)))
    }

    fn on_log(&mut self) {
        if let Some(rt) = &self.runtime {
            rt.on_done(&HookHost::new(&WasmHost));
        }
    }
}
