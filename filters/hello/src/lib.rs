//! `portico_hello.wasm`: adds a configured header to every request and its
//! response, and answers one path itself. The template for new filters:
//! configuration, checked as it is read, in `config.rs`; behaviour here.

mod config;

pub use config::Config;
use portico::{
    Action, ConfigError, Counter, Env, HttpFilter, LocalResponse, Plugin, Root, Stream, Verdict,
};

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

    fn new_filter(&self, _: &Env<'_>) -> HelloFilter {
        HelloFilter
    }
}

/// Per request: nothing; the plugin is lent to every phase.
pub struct HelloFilter;

impl HttpFilter for HelloFilter {
    type Plugin = Hello;

    fn on_request_headers(&mut self, hello: &Hello, s: &mut Stream<'_, Self>) -> Verdict {
        let config = &hello.config;
        if portico::query::path_only(&s.path()) == config.path {
            hello.greeted.inc(s);
            return Err(LocalResponse::new(200)
                .header("content-type", "text/plain; charset=utf-8")
                .body(config.greeting.as_bytes())
                .details("portico_hello"));
        }
        s.request_headers().set(&config.header, &config.value);
        hello.forwarded.inc(s);
        Ok(Action::Continue)
    }

    fn on_response_headers(&mut self, hello: &Hello, s: &mut Stream<'_, Self>) -> Verdict {
        // Runs for upstream responses and for our own local reply alike.
        let config = &hello.config;
        s.response_headers().set(&config.header, &config.value);
        Ok(Action::Continue)
    }
}

portico::main!(Hello);
