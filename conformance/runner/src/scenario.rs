//! A scenario: the script filter's configuration for it, the requests a
//! client sends, and what to compare. What the upstream answers is scripted
//! by the request itself (`x-up-*` headers, see [`crate::upstream`]), so both
//! hosts answer alike.

use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Sent after the body (chunked, with a `trailer` header naming them).
    pub trailers: Vec<(String, String)>,
}

impl Req {
    pub fn get(path: &str) -> Req {
        Req {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: String::new(),
            trailers: Vec::new(),
        }
    }

    pub fn post(path: &str, body: &str) -> Req {
        Req {
            method: "POST".into(),
            path: path.into(),
            headers: vec![("content-length".into(), body.len().to_string())],
            body: body.into(),
            trailers: Vec::new(),
        }
    }

    /// A POST whose body ends with trailers (chunked, no content-length).
    pub fn with_trailers(body: &str, trailers: &[(&str, &str)]) -> Req {
        let names: Vec<&str> = trailers.iter().map(|(k, _)| *k).collect();
        Req {
            method: "POST".into(),
            path: "/s".into(),
            headers: vec![("trailer".into(), names.join(", "))],
            body: body.into(),
            trailers: trailers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The headers as the client puts them on the wire.
    pub fn wire_headers(&self) -> Vec<(String, String)> {
        as_hyper_sends(&self.headers)
    }
}

/// Headers in the order hyper sends them: its `HeaderMap` keeps a name's
/// values together, names in the order they first came.
pub fn as_hyper_sends(headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (k, v) in headers {
        let at = out
            .iter()
            .rposition(|(o, _)| o.eq_ignore_ascii_case(k))
            .map_or(out.len(), |i| i + 1);
        out.insert(at, (k.clone(), v.clone()));
    }
    out
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// The script of this scenario (a `portico_script::Script` as JSON).
    pub script: Value,
    pub requests: Vec<Req>,
    /// Header names compared besides `x-c-*` (client and upstream side).
    pub also: Vec<String>,
    /// Counters this scenario reads (defined in the filter config).
    pub metrics: Vec<String>,
    /// Gauges this scenario reads.
    pub gauges: Vec<String>,
    /// Shared-data keys created at configure time.
    pub shared: Vec<(String, String)>,
    /// How long to let late events (callout replies, timers) happen after
    /// the last response, in ms.
    pub settle_ms: u64,
    /// The requests overlap (sent `STAGGER_MS` apart without waiting for
    /// the responses) on one worker: Envoy with one worker, one test-host VM.
    pub concurrent: bool,
}

impl Scenario {
    pub fn new(name: &str, script: Value) -> Scenario {
        Scenario {
            name: name.into(),
            script,
            requests: vec![Req::get("/s")],
            also: Vec::new(),
            metrics: Vec::new(),
            gauges: Vec::new(),
            shared: Vec::new(),
            settle_ms: 0,
            concurrent: false,
        }
    }

    pub fn concurrent(mut self) -> Scenario {
        self.concurrent = true;
        self
    }

    pub fn req(mut self, req: Req) -> Scenario {
        self.requests = vec![req];
        self
    }

    pub fn reqs(mut self, reqs: Vec<Req>) -> Scenario {
        self.requests = reqs;
        self
    }

    pub fn also(mut self, names: &[&str]) -> Scenario {
        self.also.extend(names.iter().map(|s| s.to_string()));
        self
    }

    pub fn metric(mut self, name: &str) -> Scenario {
        self.metrics.push(name.into());
        self
    }

    pub fn gauge(mut self, name: &str) -> Scenario {
        self.gauges.push(name.into());
        self
    }

    pub fn shared(mut self, key: &str, value: &str) -> Scenario {
        self.shared.push((key.into(), value.into()));
        self
    }

    pub fn settle(mut self, ms: u64) -> Scenario {
        self.settle_ms = ms;
        self
    }

    /// The requests as sent: with the scenario's `x-scenario` header.
    pub fn sent_requests(&self) -> Vec<Req> {
        self.requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.clone();
                r.headers
                    .insert(0, ("x-scenario".into(), self.name.clone()));
                if self.concurrent {
                    r.headers.insert(1, ("x-req".into(), i.to_string()));
                }
                r
            })
            .collect()
    }

    pub fn compared(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        name.starts_with("x-c-") || self.also.contains(&name)
    }
}

/// The filter configuration holding every scenario (one Envoy listener, one
/// test-host config).
pub fn config(scenarios: &[Scenario]) -> String {
    let mut map = serde_json::Map::new();
    let mut metrics = Vec::new();
    let mut gauges = Vec::new();
    let mut shared = Vec::new();
    for s in scenarios {
        map.insert(s.name.clone(), s.script.clone());
        metrics.extend(s.metrics.iter().cloned());
        gauges.extend(s.gauges.iter().cloned());
        shared.extend(s.shared.iter().cloned());
    }
    serde_json::json!({
        "scenarios": map,
        "metrics": metrics,
        "gauges": gauges,
        "shared": shared,
        "tick_ms": 50,
    })
    .to_string()
}

/// What one host showed for one scenario, as comparable lines.
pub type Observed = Vec<String>;

/// What a client got.
#[derive(Debug, Clone)]
pub enum ClientOutcome {
    /// No response in time: the stream is stuck.
    Stalled,
    /// The connection failed or was reset.
    Reset,
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        trailers: Vec<(String, String)>,
    },
}

/// A request as the (scripted) upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

pub fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// The compared header names in the order they first came: the sorted
/// lines above say what arrived, this says where. Both receivers are
/// hyper, whose map keeps only each name's first position.
pub fn compared_order(s: &Scenario, headers: &[(String, String)]) -> String {
    let mut names: Vec<String> = Vec::new();
    for (k, _) in headers.iter().filter(|(k, _)| s.compared(k)) {
        let k = k.to_ascii_lowercase();
        if !names.contains(&k) {
            names.push(k);
        }
    }
    names.join(",")
}

/// Headers to compare, sorted by name (values of one name keep their order).
pub fn compared_headers(s: &Scenario, headers: &[(String, String)]) -> Vec<String> {
    let mut picked: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| s.compared(k))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    picked.sort_by(|a, b| a.0.cmp(&b.0));
    picked
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

pub fn render_client(s: &Scenario, i: usize, out: &ClientOutcome, lines: &mut Observed) {
    match out {
        ClientOutcome::Stalled => lines.push(format!("req{i} client: stalled")),
        ClientOutcome::Reset => lines.push(format!("req{i} client: reset")),
        ClientOutcome::Response {
            status,
            headers,
            body,
            trailers,
        } => {
            lines.push(format!("req{i} client: status {status}"));
            for h in compared_headers(s, headers) {
                lines.push(format!("req{i} client header {h}"));
            }
            lines.push(format!(
                "req{i} client order {}",
                compared_order(s, headers)
            ));
            lines.push(format!("req{i} client body {}", text(body)));
            for h in compared_headers(s, trailers) {
                lines.push(format!("req{i} client trailer {h}"));
            }
        }
    }
}

pub fn render_received(s: &Scenario, what: &str, r: &Received, lines: &mut Observed) {
    lines.push(format!("{what}: {} {}", r.method, r.path));
    for h in compared_headers(s, &r.headers) {
        lines.push(format!("{what} header {h}"));
    }
    lines.push(format!("{what} order {}", compared_order(s, &r.headers)));
    lines.push(format!("{what} body {}", text(&r.body)));
    for h in compared_headers(s, &r.trailers) {
        lines.push(format!("{what} trailer {h}"));
    }
}

/// Callouts as the callout target received them. Parallel callouts arrive
/// in any order, so they are compared sorted.
pub fn render_callouts(s: &Scenario, calls: &[&Received], lines: &mut Observed) {
    let mut calls: Vec<&Received> = calls.to_vec();
    calls.sort_by(|a, b| (&a.path, &a.method, &a.body).cmp(&(&b.path, &b.method, &b.body)));
    for r in calls {
        render_received(s, "callout", r, lines);
    }
}

/// The filter's log lines of a scenario, ready to compare: for concurrent
/// requests, grouped by request (their interleaving is a race), each
/// request's lines in order.
pub fn order_logs(s: &Scenario, mut lines: Vec<String>) -> Vec<String> {
    if s.concurrent {
        let prefix = format!("{}#", s.name);
        let tag = |l: &String| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(&prefix).map(str::to_string))
                .unwrap_or_default()
        };
        lines.sort_by_key(tag);
    }
    lines
}

/// Requests the upstream received, in a comparable order: overlapping
/// requests arrive in any order, so they are sorted by their `x-req`.
pub fn sort_upstream(s: &Scenario, received: &mut [&Received]) {
    if s.concurrent {
        received.sort_by_key(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k == "x-req")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        });
    }
}
