//! What Envoy 1.40 does when a Portico filter fails, under each
//! `failure_policy`, and that the shipped configs pick a safe one.
//! - A filter that cannot start (its configuration is refused) stops Envoy
//!   at load under every policy.
//! - A filter that crashes at runtime (the probe filter traps on
//!   `/probe/crash`, as any panic would) gets, after that request's 503:
//!   FAIL_CLOSED: 503 for every later request, until Envoy restarts;
//!   FAIL_OPEN: later requests skip the filter and reach the upstream unchecked;
//!   FAIL_RELOAD: 503 until the reload backoff (1 s) has passed, then a fresh
//!   VM serves again.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use portico_harness::bootstrap::{wasm_filter, Bootstrap};
use portico_harness::shipped::{self, FILES};
use portico_harness::{probe_wasm_path, Envoy, Upstream};
use serde_json::{json, Value};
use std::time::Duration;

fn probe(config: &str, policy: &str) -> Value {
    let wasm = probe_wasm_path().unwrap();
    let mut filter = wasm_filter("portico.probe", &wasm, config);
    filter["typed_config"]["config"]["failure_policy"] = json!(policy);
    filter
}

const CONFIG: &str = r#"{"cluster": "upstream", "fetch_delay": "0s"}"#;

/// Statuses of: a request before the crash, the crashing one, three right
/// after, and one after the reload backoff.
fn crash_and_watch(policy: &str, upstream: &Upstream) -> (Vec<u16>, Envoy) {
    let bootstrap = Bootstrap::new(upstream.port())
        .listener("main", vec![probe(CONFIG, policy)])
        .render();
    let envoy = Envoy::start(&bootstrap, 1);
    let mut statuses = vec![envoy.get("main", "/before").send().status];
    statuses.push(envoy.get("main", "/probe/crash").send().status);
    for _ in 0..3 {
        statuses.push(envoy.get("main", "/after").send().status);
    }
    std::thread::sleep(Duration::from_millis(1500));
    statuses.push(envoy.get("main", "/later").send().status);
    (statuses, envoy)
}

#[test]
fn fail_closed_refuses_everything_after_a_crash() {
    let upstream = Upstream::start();
    let (statuses, envoy) = crash_and_watch("FAIL_CLOSED", &upstream);
    assert_eq!(statuses, [200, 503, 503, 503, 503, 503]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        envoy.log().contains("unreachable"),
        "the trap is logged:\n{}",
        envoy.log()
    );
    assert_eq!(upstream.hits("/after") + upstream.hits("/later"), 0);
}

#[test]
fn fail_open_lets_traffic_past_a_crashed_filter() {
    let upstream = Upstream::start();
    let (statuses, _envoy) = crash_and_watch("FAIL_OPEN", &upstream);
    assert_eq!(statuses, [200, 503, 200, 200, 200, 200]);
    // Unchecked: this is why no shipped config uses it.
    assert_eq!(upstream.hits("/after"), 3);
}

#[test]
fn fail_reload_refuses_then_recovers_with_a_fresh_vm() {
    let upstream = Upstream::start();
    let (statuses, envoy) = crash_and_watch("FAIL_RELOAD", &upstream);
    assert_eq!(statuses, [200, 503, 503, 503, 503, 200]);
    assert_eq!(upstream.hits("/after"), 0);
    assert!(
        envoy
            .stat("wasm.portico.probe.vm_reload_success")
            .unwrap_or(0)
            >= 1
    );
}

#[test]
fn a_filter_that_cannot_start_stops_envoy_under_every_policy() {
    for policy in ["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD"] {
        let bootstrap = Bootstrap::new(9)
            .listener("main", vec![probe(r#"{"cluster": 5}"#, policy)])
            .render();
        let refusal = Envoy::start_expecting_refusal(&bootstrap);
        assert!(refusal.status.is_some_and(|s| !s.success()), "{policy}");
        assert!(
            refusal
                .log
                .contains("Unable to create Wasm plugin portico.probe"),
            "{policy}:\n{}",
            refusal.log
        );
    }
}

#[test]
fn shipped_configs_never_fail_open() {
    for name in FILES {
        let config = shipped::load(name).unwrap();
        let mut filters = 0;
        for filter in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["http_filters"]
            .as_array()
            .unwrap()
        {
            if filter
                .pointer("/typed_config/dynamic_module_config")
                .is_some()
            {
                // A dynamic module has no VM to fail open around: a bad
                // configuration is refused at load, a crash is Envoy's.
                filters += 1;
                continue;
            }
            let Some(plugin) = filter.pointer("/typed_config/config") else {
                continue;
            };
            filters += 1;
            assert_eq!(
                plugin["failure_policy"], "FAIL_RELOAD",
                "{name}: {}",
                filter["name"]
            );
        }
        assert!(filters > 0, "{name}");
    }
}
