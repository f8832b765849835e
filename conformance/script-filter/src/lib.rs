//! A test-only filter for `cargo xtask host-conformance`: its configuration
//! scripts, per scenario (chosen by the request's `x-scenario` header) and
//! per phase, what to do to the stream and which `Action` to return, and it
//! reports what it observed as log lines `@@conf <scenario> <text>`. The
//! same configuration runs on the test host and in Envoy, so the two log
//! streams (and what the client and the upstream saw) must be equal.
//!
//! Body chunking is not under the test's control in Envoy, so a body phase
//! reports only at `end_of_stream` (or at trailers): the whole body it saw,
//! whatever the chunks were.

use portico::{
    Action, ConfigError, Counter, Env, Gauge, HttpFilter, HttpRequest, LocalResponse, Plugin, Root,
    Stream, StreamId, TimerId, Verdict,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// The marker every report line starts with.
pub const MARK: &str = "@@conf";

mod config;
pub use config::{Act, Config, Op, Reply, Script, Step};

pub struct ScriptPlugin {
    scenarios: HashMap<String, Rc<Script>>,
    counters: HashMap<String, Counter>,
    gauges: HashMap<String, Gauge>,
    waiting: RefCell<Vec<(StreamId, String)>>,
    /// Parked streams and what the root does for them on the next tick.
    parked: RefCell<Vec<(StreamId, String, Parked)>>,
    /// Streams parked on named lists, for other streams to wake.
    lists: RefCell<HashMap<String, Vec<StreamId>>>,
}

enum Parked {
    Fetch(String),
    WakeAfter(u64),
}

impl Plugin for ScriptPlugin {
    type Config = Config;
    type Filter = ScriptFilter;

    fn configure(config: Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let mut counters = HashMap::new();
        for name in &config.metrics {
            counters.insert(name.clone(), root.counter(name)?);
        }
        let mut gauges = HashMap::new();
        for name in &config.gauges {
            gauges.insert(name.clone(), root.gauge(name)?);
        }
        for (key, value) in &config.shared {
            if root.shared_get(key).ok().flatten().is_none() {
                root.shared_set(key, value.as_bytes(), None)
                    .map_err(|e| ConfigError::at("shared", e.to_string()))?;
            }
        }
        root.every(Duration::from_millis(config.tick_ms), |plugin, root| {
            let waiting: Vec<(StreamId, String)> = plugin.waiting.borrow_mut().drain(..).collect();
            for (id, scenario) in waiting {
                let woke = root.wake(id);
                log::info!("{MARK} {scenario} timer woke={woke}");
            }
            let parked: Vec<(StreamId, String, Parked)> =
                plugin.parked.borrow_mut().drain(..).collect();
            for (id, scenario, what) in parked {
                match what {
                    Parked::Fetch(path) => {
                        let request = HttpRequest::get("upstream", "conf", &path)
                            .header("x-scenario", &scenario);
                        let name = scenario.clone();
                        let sent = root.http_call(request, move |_, root, reply| {
                            let got = match reply {
                                Ok(r) => format!("status={} body={}", r.status, text(&r.body)),
                                Err(e) => format!("error={e}"),
                            };
                            log::info!("{MARK} {name} root fetch {got}");
                            let woke = root.wake(id);
                            log::info!("{MARK} {name} root woke={woke}");
                        });
                        if let Err(e) = sent {
                            log::info!("{MARK} {scenario} root fetch refused: {e}");
                        }
                    }
                    Parked::WakeAfter(ms) => {
                        root.set_timer(Duration::from_millis(ms), move |_, root| {
                            let woke = root.wake(id);
                            log::info!("{MARK} {scenario} once timer woke={woke}");
                        });
                    }
                }
            }
        });
        Ok(ScriptPlugin {
            scenarios: config
                .scenarios
                .into_iter()
                .map(|(k, v)| (k, Rc::new(v)))
                .collect(),
            counters,
            gauges,
            waiting: RefCell::new(Vec::new()),
            parked: RefCell::new(Vec::new()),
            lists: RefCell::new(HashMap::new()),
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> ScriptFilter {
        ScriptFilter {
            name: String::new(),
            script: None,
            seen: [Vec::new(), Vec::new()],
            buffering: [false, false],
            cas: HashMap::new(),
            timers: HashMap::new(),
            role: String::new(),
            scenario: String::new(),
        }
    }
}

pub struct ScriptFilter {
    name: String,
    script: Option<Rc<Script>>,
    /// The body seen so far, per direction (request, response).
    seen: [Vec<u8>; 2],
    /// Whether the last body call of a direction paused (buffered).
    buffering: [bool; 2],
    cas: HashMap<String, u32>,
    /// Stream timers by label, for `cancel_timer`.
    timers: HashMap<String, TimerId>,
    /// The request's `x-role`, for steps that differ by request.
    role: String,
    /// The scenario's name (`name` adds `#N` for overlapping requests).
    scenario: String,
}

fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

impl ScriptFilter {
    fn report(&self, what: &str) {
        log::info!("{MARK} {} {what}", self.name);
    }

    fn headers<'a>(s: &Stream<'a, Self>, map: &str) -> Option<portico::Headers<'a>> {
        match map {
            "request_headers" => Some(s.request_headers()),
            "response_headers" => Some(s.response_headers()),
            "request_trailers" => Some(s.request_trailers()),
            "response_trailers" => Some(s.response_trailers()),
            _ => None,
        }
    }

    fn run(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>, step: &Step) -> Verdict {
        if let Some(role) = &step.role {
            if *role != self.role {
                return match &step.otherwise {
                    Some(other) => self.run(p, s, other),
                    None => Ok(Action::Continue),
                };
            }
        }
        for op in &step.ops {
            self.op(p, s, op);
        }
        match &step.action {
            Act::Continue => Ok(Action::Continue),
            Act::Pause => Ok(Action::Pause),
            Act::Respond(r) => {
                let mut reply = LocalResponse::new(r.status)
                    .body(r.body.clone())
                    .details(r.details.clone());
                for (k, v) in &r.headers {
                    reply = reply.header(k.clone(), v.clone());
                }
                Err(reply)
            }
        }
    }

    fn op(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>, op: &Op) {
        match op {
            Op::Get { map, name } => {
                let v = Self::headers(s, map).and_then(|h| h.get(name));
                self.report(&format!("get {map} {name} = {v:?}"));
            }
            Op::GetAll { map, name } => {
                let v = Self::headers(s, map).map(|h| h.get_all(name));
                self.report(&format!("get_all {map} {name} = {v:?}"));
            }
            Op::Set { map, name, value } => {
                if let Some(h) = Self::headers(s, map) {
                    h.set(name, value);
                }
            }
            Op::Add { map, name, value } => {
                if let Some(h) = Self::headers(s, map) {
                    h.add(name, value);
                }
            }
            Op::Remove { map, name } => {
                if let Some(h) = Self::headers(s, map) {
                    h.remove(name);
                }
            }
            Op::Order { map } => {
                let names = Self::headers(s, map).map(|h| {
                    h.names()
                        .into_iter()
                        .filter(|k| k.starts_with(':') || k.starts_with("x-c-"))
                        .collect::<Vec<_>>()
                        .join(",")
                });
                self.report(&format!("order {map} = {names:?}"));
            }
            Op::Body => {
                let body = s.body();
                self.report(&format!("body size={} {}", s.body_size(), text(&body)));
            }
            Op::SetBody { value } => {
                if let Err(e) = s.set_body(value.as_bytes()) {
                    self.report(&format!("set_body refused: {e}"));
                }
            }
            Op::AppendBody { value } => {
                let r = s.append_body(value.as_bytes());
                self.report(&format!("append_body {r:?} size={}", s.body_size()));
            }
            Op::PrependBody { value } => {
                let r = s.prepend_body(value.as_bytes());
                self.report(&format!("prepend_body {r:?} size={}", s.body_size()));
            }
            Op::ReplaceBody { start, end, value } => {
                let r = s.replace_body(*start..*end, value.as_bytes());
                self.report(&format!("replace_body {r:?} size={}", s.body_size()));
            }
            Op::BodyRange { start, end } => {
                let part = s.body_range(*start..*end);
                self.report(&format!("body_range {start}..{end} = {}", text(&part)));
            }
            Op::Log { level, msg } => {
                let msg = format!("{MARK} {} log {msg}", self.name);
                match level.as_str() {
                    "debug" => log::debug!("{msg}"),
                    "warn" => log::warn!("{msg}"),
                    "error" => log::error!("{msg}"),
                    _ => log::info!("{msg}"),
                }
            }
            Op::Inc { name } => match p.counters.get(name) {
                Some(c) => c.inc(s),
                None => self.report(&format!("no counter {name}")),
            },
            Op::GaugeSet { name, value } => match p.gauges.get(name) {
                Some(g) => g.set(s, *value),
                None => self.report(&format!("no gauge {name}")),
            },
            Op::GaugeAdd { name, delta } => match p.gauges.get(name) {
                Some(g) => g.add(s, *delta),
                None => self.report(&format!("no gauge {name}")),
            },
            Op::Park { list } => p
                .lists
                .borrow_mut()
                .entry(list.clone())
                .or_default()
                .push(s.id()),
            Op::WakeList { list } => {
                let ids = p.lists.borrow_mut().remove(list).unwrap_or_default();
                for id in ids {
                    let woke = s.wake(id);
                    self.report(&format!("wake {list} woke={woke}"));
                }
            }
            Op::SetFilterState { name, value } => {
                let r = s.set_filter_state(name, value.as_bytes());
                let back = s.filter_state(name).map(|b| text(&b));
                self.report(&format!("set_filter_state {name} = {r:?}, reads {back:?}"));
            }
            Op::ClearRouteCache => {
                let r = s.clear_route_cache();
                self.report(&format!("clear_route_cache {r:?}"));
            }
            Op::Reset => {
                let r = s.reset();
                self.report(&format!("reset {r:?}"));
            }
            Op::StreamTimer { label, ms, then } => {
                let label_in = label.clone();
                let then = then.clone();
                let id = s.set_timer(Duration::from_millis(*ms), move |f, p, s| {
                    f.report(&format!("stream_timer {label_in}"));
                    f.run(p, s, &then)
                });
                self.timers.insert(label.clone(), id);
            }
            Op::CancelTimer { label } => match self.timers.remove(label) {
                Some(id) => s.cancel_timer(id),
                None => self.report(&format!("no timer {label}")),
            },
            Op::WakeSelf => {
                let woke = s.wake(s.id());
                self.report(&format!("wake self woke={woke}"));
            }
            Op::RootFetch { path } => {
                p.parked
                    .borrow_mut()
                    .push((s.id(), self.name.clone(), Parked::Fetch(path.clone())))
            }
            Op::WakeAfter { ms } => {
                p.parked
                    .borrow_mut()
                    .push((s.id(), self.name.clone(), Parked::WakeAfter(*ms)))
            }
            Op::MetricValue { name } => {
                let v = p.counters.get(name).map(|c| c.value(s));
                self.report(&format!("metric {name} = {v:?}"));
            }
            Op::Callout {
                label,
                cluster,
                method,
                path,
                timeout_ms,
                headers,
                body,
                drop,
                max_bytes,
                then,
            } => {
                let mut request = HttpRequest::new(cluster, method, "conf", path)
                    .timeout(Duration::from_millis(*timeout_ms))
                    .body(body.clone())
                    .header("x-scenario", &self.scenario);
                request.headers.retain(|(k, _)| !drop.contains(k));
                if let Some(limit) = max_bytes {
                    request = request.max_response_bytes(*limit);
                }
                for (k, v) in headers {
                    request = request.header(k, v);
                }
                let cb_label = label.clone();
                let then = then.clone();
                let sent = s.http_call(request, move |f, p, s, reply| {
                    let label = cb_label;
                    match reply {
                        Ok(r) => {
                            let mut line = format!(
                                "callout {label} status={} body={}",
                                r.status,
                                text(&r.body)
                            );
                            for (k, v) in &r.headers {
                                if k.starts_with("x-c-") {
                                    line.push_str(&format!(" {k}={v}"));
                                }
                            }
                            for (k, v) in &r.trailers {
                                line.push_str(&format!(" trailer {k}={v}"));
                            }
                            f.report(&line);
                        }
                        Err(e) => f.report(&format!("callout {label} error={e}")),
                    }
                    f.run(p, s, &then)
                });
                if let Err(e) = sent {
                    self.report(&format!("callout {label} refused: {e}"));
                }
            }
            Op::SharedGet { key } => match s.shared_get(key) {
                Ok(Some((v, cas))) => {
                    self.cas.insert(key.clone(), cas);
                    self.report(&format!("shared_get {key} = {}", text(&v)));
                }
                Ok(None) => self.report(&format!("shared_get {key} = none")),
                Err(e) => self.report(&format!("shared_get {key} error {e}")),
            },
            Op::SharedSet { key, value, cas } => {
                let cas = match cas.as_str() {
                    "none" => None,
                    "last" => Some(self.cas.get(key).copied().unwrap_or(0)),
                    other => match other.strip_prefix("from:") {
                        Some(stash) => s
                            .shared_get(stash)
                            .ok()
                            .flatten()
                            .and_then(|(v, _)| String::from_utf8(v).ok())
                            .and_then(|t| t.parse().ok()),
                        None => other.parse().ok(),
                    },
                };
                let r = s.shared_set(key, value.as_bytes(), cas);
                self.report(&format!("shared_set {key} = {r:?}"));
            }
            Op::StashCas { key, into } => {
                let token = self.cas.get(key).copied().unwrap_or(0).to_string();
                let r = s.shared_set(into, token.as_bytes(), None);
                self.report(&format!("stash_cas {key} = {r:?}"));
            }
            Op::SharedAdd { key } => {
                let r = s.shared_update(key, |cur| {
                    let n = cur
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|t| t.parse::<u64>().ok())
                        .unwrap_or(0)
                        .saturating_add(1);
                    (Some(n.to_string().into_bytes()), n)
                });
                self.report(&format!("shared_add {key} = {r:?}"));
            }
            Op::Property { path } => {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                let v = s.property(&path).map(|b| text(&b));
                self.report(&format!("property {} = {v:?}", path.join(".")));
            }
            Op::Env { what } => {
                let v = match what.as_str() {
                    "source_ip" => s.source_ip(),
                    "request_id" => s.request_id(),
                    "route_name" => s.route_name(),
                    "plugin_name" => s.plugin_name(),
                    "protocol" => s.request_protocol(),
                    "path" => Some(s.path()),
                    "query_q" => s.query_param("q"),
                    "cookie_c" => s.cookie("c"),
                    _ => Some(format!("unknown {what}")),
                };
                self.report(&format!("env {what} = {v:?}"));
            }
            Op::EndOfStream => {
                let eos = s.end_of_stream();
                self.report(&format!("end_of_stream = {eos}"));
            }
            Op::WillReplaceBody => s.will_replace_body(),
            Op::Responded => {
                let r = s.responded_locally();
                self.report(&format!("responded_locally = {r}"));
            }
            Op::WaitTick => {
                p.waiting.borrow_mut().push((s.id(), self.name.clone()));
            }
        }
    }

    fn headers_phase(
        &mut self,
        p: &ScriptPlugin,
        s: &mut Stream<'_, Self>,
        phase: &str,
        pick: PickStep,
    ) -> Verdict {
        let Some(script) = self.script.clone() else {
            return Ok(Action::Continue);
        };
        self.report(&format!("{phase} eos={}", s.end_of_stream()));
        self.run(p, s, pick(&script))
    }

    fn body_phase(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>, dir: usize) -> Verdict {
        let Some(script) = self.script.clone() else {
            return Ok(Action::Continue);
        };
        let chunk = s.body();
        let (phase, step, chunk_act) = if dir == 0 {
            (
                "request_body",
                &script.request_body,
                &script.request_body_chunk,
            )
        } else {
            (
                "response_body",
                &script.response_body,
                &script.response_body_chunk,
            )
        };
        if let (Some(seen), Some(buffering)) = (self.seen.get_mut(dir), self.buffering.get(dir)) {
            if *buffering {
                *seen = chunk;
            } else {
                seen.extend_from_slice(&chunk);
            }
        }
        let action = if s.end_of_stream() {
            let seen = self.seen.get(dir).map(|b| text(b)).unwrap_or_default();
            self.report(&format!("{phase} eos seen={seen}"));
            self.run(p, s, step)
        } else {
            let step = Step {
                ops: Vec::new(),
                action: chunk_act.clone(),
                role: None,
                otherwise: None,
            };
            self.run(p, s, &step)
        };
        if let Some(b) = self.buffering.get_mut(dir) {
            *b = matches!(action, Ok(Action::Pause));
        }
        action
    }

    fn trailers_phase(
        &mut self,
        p: &ScriptPlugin,
        s: &mut Stream<'_, Self>,
        phase: &str,
        dir: usize,
        pick: PickStep,
    ) -> Verdict {
        let Some(script) = self.script.clone() else {
            return Ok(Action::Continue);
        };
        let seen = self.seen.get(dir).map(|b| text(b)).unwrap_or_default();
        self.report(&format!("{phase} seen={seen}"));
        self.run(p, s, pick(&script))
    }
}

type PickStep = fn(&Script) -> &Step;

impl HttpFilter for ScriptFilter {
    type Plugin = ScriptPlugin;

    fn on_request_headers(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        let Some(name) = s.request_headers().get("x-scenario") else {
            return Ok(Action::Continue);
        };
        self.script = p.scenarios.get(&name).cloned();
        self.role = s.request_headers().get("x-role").unwrap_or_default();
        // Concurrent requests of one scenario tag their reports.
        self.scenario = name.clone();
        self.name = match s.request_headers().get("x-req") {
            Some(n) => format!("{name}#{n}"),
            None => name,
        };
        if self.script.is_none() {
            self.report("unknown scenario");
        }
        self.headers_phase(p, s, "request_headers", |sc| &sc.request_headers)
    }

    fn on_request_body(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        self.body_phase(p, s, 0)
    }

    fn on_request_trailers(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        self.trailers_phase(p, s, "request_trailers", 0, |sc| &sc.request_trailers)
    }

    fn on_response_headers(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        let Some(script) = self.script.clone() else {
            return Ok(Action::Continue);
        };
        let status = s.response_headers().status();
        self.report(&format!(
            "response_headers eos={} status={status:?} local={}",
            s.end_of_stream(),
            s.responded_locally()
        ));
        self.run(p, s, &script.response_headers)
    }

    fn on_response_body(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        self.body_phase(p, s, 1)
    }

    fn on_response_trailers(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        self.trailers_phase(p, s, "response_trailers", 1, |sc| &sc.response_trailers)
    }

    fn on_wake(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) -> Verdict {
        let Some(script) = self.script.clone() else {
            return Ok(Action::Continue);
        };
        self.report("on_wake");
        self.run(p, s, &script.on_wake)
    }

    fn on_done(&mut self, p: &ScriptPlugin, s: &mut Stream<'_, Self>) {
        let Some(script) = self.script.clone() else {
            return;
        };
        self.report("done");
        for op in &script.on_done {
            self.op(p, s, op);
        }
    }
}

portico::main!(ScriptPlugin);
