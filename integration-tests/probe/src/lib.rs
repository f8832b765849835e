//! A test-only filter that reports, as request headers the echo upstream
//! sends back, what the SDK's wasm glue sees in a real Envoy.
//!
//! - `/probe/props`: properties and the clock;
//! - `/probe/count`: a shared-data counter across workers;
//! - `/probe/callout`: a callout from the stream, resumed by its reply;
//! - `/probe/wait`: waits for a document the root fetches from a timer
//!   (`fetch_delay` after start), then is woken;
//! - `/probe/labels/<x>`: counts in the labelled family `probe_requests`
//!   (`route` = `<x>`, `method`);
//! - `/probe/state`: sets the filter state `probe.seen` (for an access log);
//! - `/probe/reroute`: sets `x-route-to: other` and clears the route cache;
//! - `/probe/grpc/<method>?cluster=<c>&timeout_ms=<n>`: a unary gRPC call to
//!   `portico.test.Echo/<method>` with `Echo { text: "hi" }`, reported in
//!   `x-probe-grpc`.

use portico::{
    Action, ConfigError, Env, HttpFilter, HttpRequest, IntoVerdict, LocalResponse, Plugin, Root,
    Stream, StreamId, Verdict,
};
use serde::Deserialize;
use std::cell::RefCell;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    cluster: String,
    fetch_delay: portico::config::Duration,
}

const COUNT_KEY: &str = "probe.count";

/// The message of the test gRPC service `portico.test.Echo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Echo {
    #[prost(string, tag = "1")]
    pub text: String,
}

/// The labelled family of `/probe/labels/<x>` and its labels.
pub const LABELLED: &str = "probe_requests";
pub const LABELS: [&str; 2] = ["route", "method"];

pub struct Probe {
    cluster: String,
    requests: portico::CounterFamily,
    doc: RefCell<Option<String>>,
    waiting: RefCell<Vec<StreamId>>,
}

impl Plugin for Probe {
    type Config = Config;
    type Filter = ProbeFilter;

    fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let cluster = config.cluster.clone();
        root.set_timer(*config.fetch_delay, move |_, root| {
            let request = HttpRequest::get(&cluster, "upstream", "/doc");
            let sent = root.http_call(request, |plugin, root, reply| {
                let text = match reply {
                    Ok(r) => format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
                    Err(e) => format!("error {e}"),
                };
                *plugin.doc.borrow_mut() = Some(text);
                let waiting: Vec<StreamId> = plugin.waiting.borrow_mut().drain(..).collect();
                for id in waiting {
                    root.wake(id);
                }
            });
            if let Err(err) = sent {
                log::error!("probe: root callout refused: {err}");
            }
        });
        // Envoy creates a missing key whatever CAS the writer passes, so two
        // workers counting from nothing could both write 1. Creating the key
        // before traffic (as the SDK docs advise) leaves only real CAS updates.
        let created = match root.shared_get(COUNT_KEY) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => root.shared_set(COUNT_KEY, b"0", None),
            Err(e) => Err(e),
        };
        created.map_err(|e| ConfigError::at(".", format!("cannot create {COUNT_KEY}: {e}")))?;
        Ok(Probe {
            requests: root.counter_family(LABELLED, &LABELS)?,
            cluster: config.cluster,
            doc: RefCell::new(None),
            waiting: RefCell::new(Vec::new()),
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> ProbeFilter {
        ProbeFilter {}
    }
}

pub struct ProbeFilter {}

impl HttpFilter for ProbeFilter {
    type Plugin = Probe;

    fn on_request_headers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        let h = s.request_headers();
        let path = s.path();
        if let Some(route) = portico::query::path_only(&path).strip_prefix("/probe/labels/") {
            let method = s.request_headers().method().unwrap_or_default();
            plugin.requests.inc(s, &[route, &method]);
            return Ok(Action::Continue);
        }
        if let Some(method) = portico::query::path_only(&path).strip_prefix("/probe/grpc/") {
            let cluster = s.query_param("cluster").unwrap_or_else(|| "grpc".into());
            let timeout = s
                .query_param("timeout_ms")
                .and_then(|t| t.parse().ok())
                .unwrap_or(1000);
            let message = Echo { text: "hi".into() };
            let request =
                portico::GrpcRequest::new(&cluster, "portico.test.Echo", method, &message)
                    .metadata("x-probe-meta", "m1")
                    .timeout(std::time::Duration::from_millis(timeout));
            let sent = s.grpc_call(
                request,
                |_, _, s, reply: Result<Echo, portico::GrpcError>| {
                    let seen = match reply {
                        Ok(echo) => format!("ok {}", echo.text),
                        Err(e) => format!("error {} {}", e.status.0, e.message.unwrap_or_default()),
                    };
                    s.request_headers().set("x-probe-grpc", &seen);
                    Action::Continue
                },
            );
            return match sent {
                Ok(_) => Ok(Action::Pause),
                Err(e) => {
                    h.set("x-probe-grpc", &format!("refused {e}"));
                    Ok(Action::Continue)
                }
            };
        }
        match portico::query::path_only(&path) {
            "/probe/state" => {
                s.set_filter_state("probe.seen", b"yes")?;
                let back = s.filter_state("probe.seen").unwrap_or_default();
                h.set("x-probe-state", &String::from_utf8_lossy(&back));
                Ok(Action::Continue)
            }
            "/probe/reroute" => {
                h.set("x-route-to", "other");
                s.clear_route_cache()?;
                Ok(Action::Continue)
            }
            "/probe/props" => {
                h.set("x-probe-source", &s.source_address().unwrap_or_default());
                h.set("x-probe-source-ip", &s.source_ip().unwrap_or_default());
                h.set("x-probe-request-id", &s.request_id().unwrap_or_default());
                h.set("x-probe-route", &s.route_name().unwrap_or_default());
                h.set("x-probe-plugin", &s.plugin_name().unwrap_or_default());
                h.set("x-probe-now", &s.unix_seconds().to_string());
                h.set("x-probe-query", &s.query_param("q").unwrap_or_default());
                h.set("x-probe-cookie", &s.cookie("c").unwrap_or_default());
                Ok(Action::Continue)
            }
            "/probe/count" => {
                let n = s.shared_update(COUNT_KEY, |cur| {
                    let n = cur
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|t| t.parse::<u64>().ok())
                        .unwrap_or(0)
                        + 1;
                    (Some(n.to_string().into_bytes()), n)
                });
                match n {
                    Ok(n) => h.set("x-probe-count", &n.to_string()),
                    Err(e) => h.set("x-probe-count", &format!("error {e}")),
                }
                Ok(Action::Continue)
            }
            "/probe/callout" => {
                let request = HttpRequest::get(&plugin.cluster, "upstream", "/doc");
                let sent = s.http_call(request, |_, _, s, reply| match reply {
                    Ok(r) => {
                        let body = String::from_utf8_lossy(&r.body).into_owned();
                        s.request_headers()
                            .set("x-probe-callout", &format!("{} {body}", r.status));
                        Ok(Action::Continue)
                    }
                    Err(e) => LocalResponse::new(502).body(e.to_string()).into_verdict(),
                });
                match sent {
                    Ok(_) => Ok(Action::Pause),
                    Err(e) => LocalResponse::new(500)
                        .body(format!("callout refused: {e}"))
                        .into_verdict(),
                }
            }
            "/probe/wait" => match plugin.doc.borrow().as_ref() {
                Some(doc) => {
                    h.set("x-probe-doc", doc);
                    h.set("x-probe-waited", "no");
                    Ok(Action::Continue)
                }
                None => {
                    plugin.waiting.borrow_mut().push(s.id());
                    Ok(Action::Pause)
                }
            },
            "/probe/crash" => crash(),
            _ => Ok(Action::Continue),
        }
    }

    fn on_wake(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        let doc = plugin.doc.borrow().clone().unwrap_or_default();
        let h = s.request_headers();
        h.set("x-probe-doc", &doc);
        h.set("x-probe-waited", "yes");
        Ok(Action::Continue)
    }
}

/// A filter bug, on purpose: the VM traps, as it would on any panic, so the
/// tests can watch what Envoy's `failure_policy` does next.
#[allow(clippy::panic)]
fn crash() -> Verdict {
    panic!("probe: crashing on request")
}

portico::main!(Probe);
