//! The SDK's wasm glue in a real Envoy, through the test-only probe filter:
//! properties, shared data under concurrency, callouts from a stream and from
//! the root, timers and wake-ups. The same facilities are unit-tested on the
//! test host in `sdk/tests/runtime.rs`.

use portico_harness::bootstrap::{wasm_filter, Bootstrap};
use portico_harness::{probe_wasm_path, Envoy, Upstream};
use std::collections::BTreeSet;

fn probe_envoy(upstream: &Upstream, fetch_delay: &str) -> Envoy {
    let wasm = probe_wasm_path().unwrap();
    let config = format!(r#"{{"cluster": "upstream", "fetch_delay": "{fetch_delay}"}}"#);
    let bootstrap = Bootstrap::new(upstream.port())
        .listener("main", vec![wasm_filter("portico.probe", &wasm, &config)])
        .render();
    Envoy::start(&bootstrap, 2)
}

#[test]
fn typed_properties_query_and_cookies_match_envoy() {
    let upstream = Upstream::start();
    let envoy = probe_envoy(&upstream, "0s");
    let reply = envoy
        .get("main", "/probe/props?q=hello%20x&other=1")
        .header("cookie", "d=1; c=42")
        .send();
    let echo = reply.echo().unwrap();
    let source = echo.header("x-probe-source").unwrap();
    assert!(
        source.starts_with("127.0.0.1:") && source.len() > 10,
        "{source}"
    );
    assert_eq!(echo.header("x-probe-source-ip"), Some("127.0.0.1"));
    let request_id = echo.header("x-request-id").unwrap();
    assert_eq!(echo.header("x-probe-request-id"), Some(request_id));
    assert_eq!(echo.header("x-probe-route"), Some("default"));
    assert_eq!(echo.header("x-probe-plugin"), Some("portico.probe"));
    assert_eq!(echo.header("x-probe-query"), Some("hello x"));
    assert_eq!(echo.header("x-probe-cookie"), Some("42"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let seen: u64 = echo.header("x-probe-now").unwrap().parse().unwrap();
    assert!(seen.abs_diff(now) < 60, "envoy clock {seen} vs {now}");
}

#[test]
fn shared_data_updates_are_not_lost_across_workers() {
    let upstream = Upstream::start();
    let envoy = probe_envoy(&upstream, "0s");
    let replies = portico_harness::runtime().block_on(async {
        let tasks: Vec<_> = (0..60)
            .map(|_| tokio::spawn(envoy.get("main", "/probe/count").send_async()))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    let counts: BTreeSet<u64> = replies
        .iter()
        .map(|r| {
            r.echo()
                .unwrap()
                .header("x-probe-count")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    // Every increment landed exactly once: 60 distinct values, 1..=60.
    assert_eq!(counts, (1..=60).collect::<BTreeSet<u64>>());
}

#[test]
fn a_stream_callout_resumes_the_request() {
    let upstream = Upstream::start();
    upstream.serve("/doc", 200, "text/plain", b"v1");
    let envoy = probe_envoy(&upstream, "0s");
    let reply = envoy.get("main", "/probe/callout").send();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.echo().unwrap().header("x-probe-callout"),
        Some("200 v1")
    );
}

#[test]
fn a_request_waits_for_the_root_fetch_and_is_woken() {
    let upstream = Upstream::start();
    upstream.serve("/doc", 200, "text/plain", b"keys");
    // The root fetches 2 s after start; Envoy is ready well before that.
    let envoy = probe_envoy(&upstream, "2s");
    let first = envoy.get("main", "/probe/wait").send();
    let echo = first.echo().unwrap();
    assert_eq!(echo.header("x-probe-waited"), Some("yes"));
    assert_eq!(echo.header("x-probe-doc"), Some("200 keys"));
    // Each worker fetched once, from its root context.
    assert!(
        (1..=3).contains(&upstream.hits("/doc")),
        "{}",
        upstream.hits("/doc")
    );
}
