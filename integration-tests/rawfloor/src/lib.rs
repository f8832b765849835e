//! `portico_hello`'s per-request work on a plain request, on the bare
//! proxy-wasm crate: read `:path`, set a request header, count the request,
//! set a response header. `cargo xtask bench` runs it beside `portico_hello`
//! so the SDK's own per-request cost shows apart from Envoy's fixed cost of
//! any wasm filter.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot { counter: 0 }) });
}}

struct FloorRoot {
    counter: u32,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        match hostcalls::define_metric(MetricType::Counter, "rawfloor.forwarded") {
            Ok(id) => {
                self.counter = id;
                true
            }
            Err(_) => false,
        }
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor {
            counter: self.counter,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Floor {
    counter: u32,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        if self.get_http_request_header(":path").as_deref() == Some("/hello") {
            return Action::Continue;
        }
        self.set_http_request_header("x-portico-hello", Some("v"));
        let _ = hostcalls::increment_metric(self.counter, 1);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.set_http_response_header("x-portico-hello", Some("v"));
        Action::Continue
    }
}
