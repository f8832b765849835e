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

/// The probe's labelled family (`integration-tests/probe`).
const LABELLED: &str = "probe_requests";
const LABELS: [&str; 2] = ["route", "method"];

/// The probe with Envoy's tag extraction for its labelled family, an access
/// log that prints its filter state, and a route chosen by `x-route-to`.
fn probe_envoy_with_extras(upstream: &Upstream, log: &std::path::Path) -> Envoy {
    let wasm = probe_wasm_path().unwrap();
    let config = r#"{"cluster": "upstream", "fetch_delay": "0s"}"#;
    let bootstrap = Bootstrap::new(upstream.port())
        .listener("main", vec![wasm_filter("portico.probe", &wasm, config)])
        .hcm_settings(serde_json::json!({
            "access_log": [{
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": log.display().to_string(),
                    "log_format": {"text_format_source": {"inline_string": "%REQ(:PATH)% state=%FILTER_STATE(wasm.probe.seen:PLAIN)%\n"}}
                }
            }],
            "route_config": {
                "name": "local",
                "virtual_hosts": [{
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {"name": "other", "match": {"prefix": "/", "headers": [{"name": "x-route-to", "string_match": {"exact": "other"}}]},
                         "direct_response": {"status": 299, "body": {"inline_string": "rerouted"}}},
                        {"name": "default", "match": {"prefix": "/"}, "route": {"cluster": "upstream"}}
                    ]
                }]
            }
        }))
        .render();
    let mut doc: serde_json::Value = serde_json::from_str(&bootstrap).unwrap();
    doc["stats_config"] = serde_json::json!({
        "stats_tags": portico::labels::stats_tags(LABELLED, &LABELS)
    });
    Envoy::start(&doc.to_string(), 2)
}

#[test]
fn labelled_metrics_come_out_as_tags_filter_state_reaches_the_access_log_and_route_cache_clears() {
    let upstream = Upstream::start();
    let dir = std::env::temp_dir().join(format!("portico-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("access.log");
    let envoy = probe_envoy_with_extras(&upstream, &log);

    for (path, method) in [
        ("/probe/labels/a", "GET"),
        ("/probe/labels/a", "GET"),
        ("/probe/labels/b.c", "POST"),
    ] {
        assert_eq!(envoy.request("main", method, path).send().status, 200);
    }
    let prometheus = envoy.admin_get("/stats/prometheus").unwrap();
    let series = |route: &str, method: &str| {
        prometheus
            .lines()
            .find(|l| {
                l.starts_with("probe_requests{")
                    && l.contains(&format!("route=\"{route}\""))
                    && l.contains(&format!("method=\"{method}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    assert_eq!(series("a", "GET"), Some(2), "{prometheus}");
    // `.` is the separator, so a value keeps none.
    assert_eq!(series("b_c", "POST"), Some(1), "{prometheus}");

    let reply = envoy.get("main", "/probe/state").send();
    assert_eq!(reply.echo().unwrap().header("x-probe-state"), Some("yes"));

    // Routed to the upstream first; the filter's header and cleared cache
    // make Envoy pick the `other` route.
    let rerouted = envoy.get("main", "/probe/reroute").send();
    assert_eq!(
        (rerouted.status, rerouted.text().as_str()),
        (299, "rerouted")
    );

    // Envoy flushes access logs about once a second.
    let mut logged = String::new();
    for _ in 0..50 {
        logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("/probe/state") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(logged.contains("/probe/state state=yes"), "{logged}");
    // Other requests have no such state.
    assert!(logged.contains("/probe/labels/a state=-"), "{logged}");
    drop(envoy);
    let _ = std::fs::remove_dir_all(&dir);
}
