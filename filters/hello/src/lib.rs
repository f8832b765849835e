//! `portico_hello.wasm`: adds a configured header to every request and its
//! response, and answers one path itself. The template for new filters:
//! configuration, checked as it is read, in `config.rs`; behaviour here.

mod config;

pub use config::Config;
use portico::{Action, ConfigError, Counter, Env, HttpFilter, LocalResponse, Plugin, Root, Stream};
use std::rc::Rc;

/// Per VM: the validated configuration and metric handles.
pub struct Hello {
    config: Config,
    greeted: Counter,
    forwarded: Counter,
}

impl Plugin for Hello {
    type Config = Config;
    type Filter = HelloFilter;

    fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        log::info!("hello: adding {}, answering {}", config.header, config.path);
        Ok(Hello {
            config,
            greeted: root.counter("hello.greeted")?,
            forwarded: root.counter("hello.forwarded")?,
        })
    }

    fn new_filter(plugin: &Rc<Self>, _: &Env<'_>) -> HelloFilter {
        HelloFilter {
            plugin: Rc::clone(plugin),
        }
    }
}

/// Per request: nothing but a handle on the plugin.
pub struct HelloFilter {
    plugin: Rc<Hello>,
}

impl HttpFilter for HelloFilter {
    fn on_request_headers(&mut self, s: &mut Stream<'_, Self>) -> Action {
        let config = &self.plugin.config;
        if portico::query::path_only(&s.path()) == config.path {
            self.plugin.greeted.inc(s);
            return LocalResponse::new(200)
                .header("content-type", "text/plain; charset=utf-8")
                .body(config.greeting.as_bytes())
                .details("portico_hello")
                .into_action();
        }
        s.request_headers().set(&config.header, &config.value);
        self.plugin.forwarded.inc(s);
        Action::Continue
    }

    fn on_response_headers(&mut self, s: &mut Stream<'_, Self>) -> Action {
        // Runs for upstream responses and for our own local reply alike.
        let config = &self.plugin.config;
        s.response_headers().set(&config.header, &config.value);
        Action::Continue
    }
}

portico::main!(Hello);
