//! The real host: every scenario through one Envoy (two workers) running the
//! built script filter on one listener, before the scripted upstream.

use crate::scenario::{self, ClientOutcome, Observed, Req, Scenario};
use crate::upstream;
use crate::Host;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use portico_harness::{bootstrap, Envoy};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long the client waits for a response before calling the stream stalled.
pub const STALL: Duration = Duration::from_millis(1500);

/// Overlapping requests start this far apart, so each is where the
/// scenario expects (parked, or done) when the next one arrives.
pub const STAGGER_MS: u64 = 250;

pub struct EnvoyHost {
    envoy: Envoy,
    /// One worker, for scenarios whose requests overlap on one VM.
    single: Envoy,
    upstream: upstream::Log,
    /// Observations by scenario; logs are filled in by `finish`.
    observed: HashMap<String, Observed>,
    order: Vec<String>,
}

impl EnvoyHost {
    pub fn start(wasm: &Path, scenarios: &[Scenario]) -> EnvoyHost {
        let (port, log) = upstream::start();
        // A cluster whose endpoint refuses connections: a port that was free.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let config = bootstrap::Bootstrap::new(port)
            .cluster("closed", closed)
            .listener(
                "conf",
                vec![bootstrap::wasm_filter(
                    "script",
                    wasm,
                    &scenario::config(scenarios),
                )],
            )
            // HTTP/1 trailers pass only where enabled, downstream and upstream.
            .hcm_settings(serde_json::json!({
                "http_protocol_options": { "enable_trailers": true }
            }))
            .render();
        let mut doc: serde_json::Value = serde_json::from_str(&config).expect("bootstrap JSON");
        if let Some(upstream) = doc["static_resources"]["clusters"].get_mut(0) {
            upstream["typed_extension_protocol_options"] = serde_json::json!({
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {
                        "http_protocol_options": { "enable_trailers": true }
                    }
                }
            });
        }
        let config = doc.to_string();
        EnvoyHost {
            envoy: Envoy::start(&config, 2),
            single: Envoy::start(&config, 1),
            upstream: log,
            observed: HashMap::new(),
            order: Vec::new(),
        }
    }
}

async fn send(address: String, req: Req) -> ClientOutcome {
    let attempt = async {
        let stream = TcpStream::connect(&address).await.map_err(|_| ())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| ())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut builder = hyper::Request::builder()
            .method(req.method.as_str())
            .uri(req.path.as_str())
            .header("host", "portico.test");
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder
            .body(upstream::frames(
                req.body.clone().into_bytes(),
                &req.trailers,
            ))
            .map_err(|_| ())?;
        let resp = sender.send_request(request).await.map_err(|_| ())?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let collected = resp.into_body().collect().await.map_err(|_| ())?;
        let trailers = collected
            .trailers()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok::<_, ()>(ClientOutcome::Response {
            status,
            headers,
            body: collected.to_bytes().to_vec(),
            trailers,
        })
    };
    match tokio::time::timeout(STALL, attempt).await {
        Err(_) => ClientOutcome::Stalled,
        Ok(Err(())) => ClientOutcome::Reset,
        Ok(Ok(out)) => out,
    }
}

impl Host for EnvoyHost {
    fn name(&self) -> &'static str {
        "envoy"
    }

    fn run(&mut self, s: &Scenario) -> Observed {
        let envoy = if s.concurrent {
            &self.single
        } else {
            &self.envoy
        };
        let address = format!("127.0.0.1:{}", envoy.port("conf"));
        let mut lines = Vec::new();
        if s.concurrent {
            let outs = portico_harness::runtime().block_on(async {
                let mut tasks = Vec::new();
                for req in s.sent_requests() {
                    tasks.push(tokio::spawn(send(address.clone(), req)));
                    tokio::time::sleep(Duration::from_millis(STAGGER_MS)).await;
                }
                let mut outs = Vec::new();
                for t in tasks {
                    outs.push(t.await.unwrap_or(ClientOutcome::Reset));
                }
                outs
            });
            for (i, out) in outs.iter().enumerate() {
                scenario::render_client(s, i, out, &mut lines);
            }
        } else {
            for (i, req) in s.sent_requests().into_iter().enumerate() {
                let out = portico_harness::runtime().block_on(send(address.clone(), req));
                scenario::render_client(s, i, &out, &mut lines);
            }
        }
        std::thread::sleep(Duration::from_millis(s.settle_ms));
        let received = self
            .upstream
            .lock()
            .expect("upstream log")
            .remove(&s.name)
            .unwrap_or_default();
        let (callouts, mut main): (Vec<_>, Vec<_>) = received
            .iter()
            .partition(|r| r.path.starts_with("/callout/"));
        scenario::sort_upstream(s, &mut main);
        for (n, r) in main.iter().enumerate() {
            scenario::render_received(s, &format!("upstream{n}"), r, &mut lines);
        }
        scenario::render_callouts(s, &callouts, &mut lines);
        for m in s.metrics.iter().chain(&s.gauges) {
            let v = envoy.stat(&format!("wasmcustom.{m}"));
            lines.push(format!("metric {m} = {v:?}"));
        }
        self.order.push(s.name.clone());
        self.observed.insert(s.name.clone(), lines.clone());
        lines
    }

    fn logs(&mut self) -> HashMap<String, Vec<String>> {
        // The log is flushed every 100 ms.
        std::thread::sleep(Duration::from_millis(300));
        let mut logs = split_log(&self.envoy.log());
        for (name, lines) in split_log(&self.single.log()) {
            logs.entry(name).or_default().extend(lines);
        }
        logs
    }
}

/// The filter's log lines by scenario: `@@conf <scenario> ...` lines name
/// it; Portico's own lines (`portico: ...`) belong to the scenario of the
/// line before them (scenarios run one after the other).
fn split_log(log: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut current = String::new();
    for line in log.lines() {
        let Some(at) = line.find("wasm log ") else {
            continue;
        };
        let level = line
            .split(']')
            .nth(2)
            .map(|l| l.trim_start_matches('[').to_string())
            .unwrap_or_default();
        let rest = line.get(at..).unwrap_or_default();
        let Some(colon) = rest.find(": ") else {
            continue;
        };
        let message = rest.get(colon + 2..).unwrap_or_default();
        if let Some(tail) = message.strip_prefix(portico_script::MARK) {
            if let Some(name) = tail.split_whitespace().next() {
                // `name#N` is request N of a concurrent scenario.
                current = name.split('#').next().unwrap_or(name).to_string();
            }
        }
        out.entry(current.clone())
            .or_default()
            .push(format!("log {} {message}", crate::level_name(&level)));
    }
    out
}
