//! `portico_headers.wasm`: rewrites request and response headers with the
//! configuration vocabulary of Envoy's `header_mutation` filter, plus rules,
//! rename/copy, path and host rewrites and status overrides.
//!
//! - `config.rs`: the JSON, checked and compiled as it is read;
//! - `names.rs`: which headers an operation may change;
//! - `template.rs`: values with `%REQ(...)%`-style substitutions;
//! - `ops.rs`: what each header operation does;
//! - `query_params.rs`: query parameter mutations;
//! - this file: which mutations run for a request, and when.

pub mod config;
mod names;
pub mod ops;
pub mod query_params;
mod start_time;
pub mod template;

use ops::Tally;
use portico::{
    Action, ConfigError, Counter, Env, Headers, HttpFilter, Plugin, Root, Stream, Verdict,
};
use std::time::SystemTime;
use template::Source;

/// Per VM: the compiled configuration and metric handles.
pub struct HeaderRewriter {
    config: config::Config,
    applied: Counter,
    rules_matched: Counter,
    dropped: Counter,
}

impl Plugin for HeaderRewriter {
    type Config = config::Config;
    type Filter = HeaderFilter;

    fn configure(config: config::Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let mut config = config;
        config.resolve_hostname(root.env_var("HOSTNAME").as_deref())?;
        let prefix = &config.stat_prefix;
        let plugin = HeaderRewriter {
            applied: root.counter(&prefix.metric("mutations_applied"))?,
            rules_matched: root.counter(&prefix.metric("rules_matched"))?,
            dropped: root.counter(&prefix.metric("values_dropped"))?,
            config,
        };
        log::info!(
            "headers: {} request, {} query, {} response mutations; {} rules",
            plugin.config.base.request.len(),
            plugin.config.base.query.len(),
            plugin.config.base.response.len(),
            plugin.config.rules.len()
        );
        Ok(plugin)
    }

    fn new_filter(&self, _: &Env<'_>) -> HeaderFilter {
        HeaderFilter {
            rule: None,
            captured: Vec::new(),
            pending: None,
        }
    }
}

/// Per request: the rule chosen on the request side and what the response
/// side needs from the request.
pub struct HeaderFilter {
    rule: Option<usize>,
    captured: Vec<Option<String>>,
    /// The request side's counts, added with the response side's: one
    /// host call per counter and request instead of two (each costs about
    /// a microsecond in V8). Counted in `on_done` if no response came.
    pending: Option<(Tally, bool)>,
}

impl HttpFilter for HeaderFilter {
    type Plugin = HeaderRewriter;

    fn on_request_headers(&mut self, plugin: &HeaderRewriter, s: &mut Stream<'_, Self>) -> Verdict {
        let config = &plugin.config;
        let headers = s.request_headers();
        // Rules see the request as the client sent it.
        self.rule = config
            .rules
            .iter()
            .position(|r| r.route.matches_request(&headers));
        let source = Values {
            env: s.env(),
            request: Request::Live(headers),
            response: None,
        };
        let mut tally = Tally::default();
        let mut scratch = String::new();
        let rule = self.rule.and_then(|i| config.rules.get(i));
        for m in std::iter::once(&config.base).chain(rule.map(|r| &r.mutations)) {
            for op in &m.request {
                op.apply(&headers, &source, &mut scratch, &mut tally);
            }
            if !m.query.is_empty() {
                if let Some(path) = headers.path() {
                    if let Some(new) = query_params::apply(&path, &m.query, &source, &mut scratch) {
                        headers.set(":path", &new);
                        tally.applied += m.query.len() as u64;
                    }
                }
            }
        }
        if !config.captures.is_empty() {
            self.captured = config
                .captures
                .iter()
                .map(|name| headers.get(name))
                .collect();
        }
        self.pending = Some((tally, rule.is_some()));
        Ok(Action::Continue)
    }

    fn on_response_headers(
        &mut self,
        plugin: &HeaderRewriter,
        s: &mut Stream<'_, Self>,
    ) -> Verdict {
        let config = &plugin.config;
        let headers = s.response_headers();
        let source = Values {
            env: s.env(),
            request: Request::Captured {
                names: &config.captures,
                values: &self.captured,
            },
            response: Some(headers),
        };
        let mut tally = Tally::default();
        let mut scratch = String::new();
        let rule = self.rule.and_then(|i| config.rules.get(i));
        for m in std::iter::once(&config.base).chain(rule.map(|r| &r.mutations)) {
            for op in &m.response {
                op.apply(&headers, &source, &mut scratch, &mut tally);
            }
        }
        let (request, rule_matched) = self.pending.take().unwrap_or_default();
        tally.applied += request.applied;
        tally.dropped += request.dropped;
        plugin.count(s.env(), tally, rule_matched);
        Ok(Action::Continue)
    }

    fn on_done(&mut self, plugin: &HeaderRewriter, s: &mut Stream<'_, Self>) {
        if let Some((tally, rule_matched)) = self.pending.take() {
            plugin.count(s.env(), tally, rule_matched);
        }
    }
}

impl HeaderRewriter {
    fn count(&self, env: &Env<'_>, tally: Tally, rule_matched: bool) {
        if tally.applied > 0 {
            self.applied.add(env, tally.applied);
        }
        if tally.dropped > 0 {
            self.dropped.add(env, tally.dropped);
        }
        if rule_matched {
            self.rules_matched.inc(env);
        }
    }
}

/// What values read: the request headers (live on the request side, as
/// captured on the response side), the response headers, the stream's attributes.
struct Values<'a, 'e> {
    env: &'e Env<'a>,
    request: Request<'a, 'e>,
    response: Option<Headers<'a>>,
}

enum Request<'a, 'e> {
    Live(Headers<'a>),
    Captured {
        names: &'e [String],
        values: &'e [Option<String>],
    },
}

impl Source for Values<'_, '_> {
    fn request_header(&self, name: &str) -> Option<String> {
        match &self.request {
            Request::Live(headers) => headers.get(name),
            Request::Captured { names, values } => {
                let i = names.iter().position(|c| c == name)?;
                values.get(i).cloned().flatten()
            }
        }
    }
    fn response_header(&self, name: &str) -> Option<String> {
        self.response.as_ref().and_then(|h| h.get(name))
    }
    fn remote_address(&self) -> Option<String> {
        self.env.source_address()
    }
    fn protocol(&self) -> Option<String> {
        self.env.request_protocol()
    }
    fn start_time(&self) -> SystemTime {
        self.env.request_start()
    }
}

// Exports the plugin from this crate's own .wasm; off (no `module`
// feature) when another module links the crate as a member of a chain
// (filters/edge), which exports its own.
#[cfg(feature = "module")]
portico::main!(HeaderRewriter);

// The name of this filter in a `portico::Chain`'s `filters` list.
portico::member!(HeaderRewriter, "headers");
