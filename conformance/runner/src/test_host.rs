//! The SDK's test host (`portico::testing`) as a conformance host: a fresh
//! `TestHost` per scenario with two VMs (two workers; requests alternate
//! between them), the scripted upstream answering callouts, and the fake
//! clock moved in small steps so timers and callout deadlines happen as in
//! real time.

use crate::scenario::{self, ClientOutcome, Observed, Received, Scenario};
use crate::upstream;
use crate::Host;
use portico::testing::{TestHost, TestVm};
use portico_script::ScriptPlugin;
use std::collections::HashMap;
use std::time::Duration;

const STEP_MS: u64 = 5;

#[derive(Default)]
pub struct TestHostAdapter {
    logs: HashMap<String, Vec<String>>,
}

fn level(l: portico::host::LogLevel) -> &'static str {
    use portico::host::LogLevel::*;
    match l {
        Trace => "trace",
        Debug => "debug",
        Info => "info",
        Warn => "warning",
        Error => "error",
        Critical => "critical",
    }
}

struct Calls {
    /// Callouts seen so far, by id.
    seen: std::collections::HashSet<u32>,
    /// Answers of the scripted upstream: id -> (arrival ms, answer).
    answers: HashMap<u32, (u64, upstream::Answer)>,
    received: Vec<Received>,
}

impl Calls {
    /// Notes new callouts and answers those whose upstream delay has passed.
    fn serve(&mut self, host: &TestHost, now: u64) {
        for call in host.calls_made() {
            if !self.seen.insert(call.id) {
                continue;
            }
            if call.cluster == "closed" {
                // Nothing listens there: Envoy answers itself.
                if host.pending_calls().iter().any(|c| c.id == call.id) {
                    host.refuse_call(call.id);
                }
                continue;
            }
            let answer = upstream::answer(call.path(), &call.headers, &call.body);
            self.received.push(Received {
                method: call.header(":method").unwrap_or("").to_string(),
                path: call.path().to_string(),
                headers: call.headers.clone(),
                body: call.body.clone(),
                trailers: Vec::new(),
            });
            self.answers.insert(call.id, (now, answer));
        }
        let pending: Vec<u32> = host.pending_calls().iter().map(|c| c.id).collect();
        for id in pending {
            let Some((at, a)) = self.answers.get(&id) else {
                continue;
            };
            // An earlier answer may have ended the stream (and cancelled this call).
            let still_pending = host.pending_calls().iter().any(|c| c.id == id);
            if still_pending && at + a.delay_ms <= now {
                let headers: Vec<(&str, &str)> = a
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let trailers: Vec<(&str, &str)> = a
                    .trailers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                host.respond_with_trailers(id, a.status, &headers, &a.body, &trailers);
            }
        }
    }
}

impl Host for TestHostAdapter {
    fn name(&self) -> &'static str {
        "test host"
    }

    fn run(&mut self, s: &Scenario) -> Observed {
        let host = TestHost::new()
            .with_cluster("upstream")
            .with_cluster("closed");
        // What the Envoy config names: the filter and the route.
        host.set_property(&["plugin_name"], b"script");
        host.set_property(&["xds", "route_name"], b"default");
        let config = scenario::config(std::slice::from_ref(s));
        let vms: Vec<TestVm<ScriptPlugin>> = (0..2)
            .map(|_| host.vm::<ScriptPlugin>(&config).expect("script config"))
            .collect();
        let mut lines = Vec::new();
        let mut calls = Calls {
            seen: std::collections::HashSet::new(),
            answers: HashMap::new(),
            received: Vec::new(),
        };
        let mut upstream_seen = Vec::new();
        let mut now = 0u64;
        let stall = crate::envoy_host::STALL.as_millis() as u64;
        let requests = s.sent_requests();
        let mut exchanges = Vec::new();
        for (i, req) in requests.iter().enumerate() {
            // Overlapping requests share one worker; others alternate.
            let vm = if s.concurrent { &vms[0] } else { &vms[i % 2] };
            exchanges.push(send(vm, req));
            let start = now;
            let until = if s.concurrent && i + 1 < requests.len() {
                // The next request starts later, as Envoy's client sends it.
                Some(start + crate::envoy_host::STAGGER_MS)
            } else {
                None
            };
            drive(
                &host,
                &mut calls,
                &mut exchanges,
                &mut now,
                until,
                start + stall,
            );
            if !s.concurrent {
                let ex = exchanges.pop().expect("the exchange just sent");
                observe(s, i, ex, &mut lines, &mut upstream_seen);
            }
        }
        for (i, ex) in exchanges.into_iter().enumerate() {
            observe(s, i, ex, &mut lines, &mut upstream_seen);
        }
        // Late events: callout replies and timers after the last response.
        let end = now + s.settle_ms;
        while now < end {
            calls.serve(&host, now);
            host.advance(Duration::from_millis(STEP_MS));
            now += STEP_MS;
        }
        calls.serve(&host, now);
        let mut upstream_seen: Vec<&Received> = upstream_seen.iter().collect();
        scenario::sort_upstream(s, &mut upstream_seen);
        for (n, r) in upstream_seen.iter().enumerate() {
            scenario::render_received(s, &format!("upstream{n}"), r, &mut lines);
        }
        let callouts: Vec<&Received> = calls.received.iter().collect();
        scenario::render_callouts(s, &callouts, &mut lines);
        for m in s.metrics.iter().chain(&s.gauges) {
            let v = host.metric(m);
            lines.push(format!("metric {m} = {v:?}"));
        }
        let logs = host
            .logs()
            .into_iter()
            .filter(|l| l.level >= portico::host::LogLevel::Info)
            .map(|l| format!("log {} {}", level(l.level), l.message))
            .collect();
        self.logs.insert(s.name.clone(), logs);
        drop(vms);
        lines
    }

    fn logs(&mut self) -> HashMap<String, Vec<String>> {
        std::mem::take(&mut self.logs)
    }
}

type Ex = portico::testing::Exchange<ScriptPlugin>;

/// A request as the client sends it, answered by the scripted upstream.
fn send(vm: &TestVm<ScriptPlugin>, req: &crate::scenario::Req) -> Ex {
    let mut r = vm
        .request(&req.method, &req.path)
        .header(":authority", "portico.test");
    for (k, v) in &req.wire_headers() {
        r = r.header(k, v);
    }
    let a = upstream::answer(&req.path, &req.headers, req.body.as_bytes());
    let headers: Vec<(&str, &str)> = a
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut r = r
        .body(req.body.as_bytes())
        .upstream_response(a.status, &headers, &a.body);
    for (k, v) in &req.trailers {
        r = r.trailer(k, v);
    }
    if !a.trailers.is_empty() {
        let trailers: Vec<(&str, &str)> = a
            .trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        r = r.upstream_trailers(&trailers);
    }
    r.send()
}

/// Moves the clock in small steps, answering callouts and continuing
/// exchanges the filter resumed, until `until`, or (without `until`) until
/// nothing is pending, or the client's patience (`stall_at`) runs out.
fn drive(
    host: &TestHost,
    calls: &mut Calls,
    exchanges: &mut [Ex],
    now: &mut u64,
    until: Option<u64>,
    stall_at: u64,
) {
    loop {
        calls.serve(host, *now);
        let mut progressed = false;
        for ex in exchanges.iter_mut() {
            if ex.paused() && ex.resumable() {
                ex.proceed();
                progressed = true;
            }
        }
        if progressed {
            continue;
        }
        let idle = exchanges.iter().all(|ex| !ex.paused()) && host.pending_calls().is_empty();
        match until {
            Some(t) if *now >= t => return,
            None if idle || *now >= stall_at => return,
            _ => {}
        }
        host.advance(Duration::from_millis(STEP_MS));
        *now += STEP_MS;
    }
}

/// What the client and the upstream saw of one exchange.
fn observe(
    s: &Scenario,
    i: usize,
    mut ex: Ex,
    lines: &mut Observed,
    upstream_seen: &mut Vec<Received>,
) {
    let out = if ex.stalled().is_some() {
        // The client gives up, as Envoy's client does.
        ex.abort();
        ClientOutcome::Stalled
    } else if ex.reset() {
        ClientOutcome::Reset
    } else {
        ClientOutcome::Response {
            status: ex.status(),
            headers: ex.response_headers(),
            body: ex.body().into_bytes(),
            trailers: ex.response_trailers(),
        }
    };
    scenario::render_client(s, i, &out, lines);
    if let Some(up) = ex.upstream_request() {
        let pseudo = |name: &str| {
            up.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        upstream_seen.push(Received {
            method: pseudo(":method"),
            path: pseudo(":path"),
            headers: up.to_vec(),
            body: ex.upstream_body(),
            trailers: ex.upstream_trailers().to_vec(),
        });
    }
}
