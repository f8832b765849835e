//! The global mode in a real Envoy, side by side with Envoy's own
//! `envoy.filters.http.ratelimit` given the same JSON: both ask one Rate
//! Limit Service (`rls/`, counting in a real `redis-server`), which records
//! what it receives. For every request shape (generated headers present,
//! absent, repeated, empty; XFF; matches) the service must receive the same
//! descriptors from both, and the client the same answer: 429s with their
//! headers and body, a service that fails, is slow or is down. Then two
//! Envoys against one Redis hold one limit between them.

use portico_harness::bootstrap::{h2_cluster, wasm_filter, Bootstrap};
use portico_harness::{wasm_path, Backend, Envoy, Upstream};
use portico_rls::engine::Config as RlsConfig;
use portico_rls::{Extras, Mode, Received, Redis, Rls};
use serde_json::{json, Value};
use std::time::Duration;

const RLS_CONFIG: &str = r#"
domain: edge
descriptors:
  - key: key
    rate_limit: {unit: minute, requests_per_unit: 1000000}
    descriptors:
      - key: generic_key
        rate_limit: {unit: hour, requests_per_unit: 2000000, name: per-key-hourly}
  - key: limited
    rate_limit: {unit: minute, requests_per_unit: 3, name: three}
  - key: generic_key
    rate_limit: {unit: minute, requests_per_unit: 1000000}
  - key: header_match
    rate_limit: {unit: minute, requests_per_unit: 1000000}
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 1000000}
"#;

fn rls_configs() -> Vec<RlsConfig> {
    vec![serde_yaml::from_str(RLS_CONFIG).unwrap()]
}

/// Envoy `RateLimit` descriptors, the same JSON for both filters.
fn rate_limits() -> Value {
    json!([
        {"actions": [{"request_headers": {"header_name": "x-api-key", "descriptor_key": "key"}}]},
        {"actions": [
            {"request_headers": {"header_name": "x-api-key", "descriptor_key": "key"}},
            {"generic_key": {"descriptor_value": "hourly"}}
        ]},
        {"actions": [
            {"generic_key": {"descriptor_value": "g", "descriptor_key": "generic_key"}},
            {"request_headers": {"header_name": "x-user", "descriptor_key": "user", "skip_if_absent": true}}
        ], "hits_addend": {"number": 3}},
        {"actions": [{"header_value_match": {
            "descriptor_value": "gold",
            "headers": [{"name": "x-tier", "string_match": {"exact": "gold"}}]
        }}]},
        {"actions": [{"header_value_match": {
            "descriptor_key": "not_gold", "descriptor_value": "other", "expect_match": false,
            "headers": [{"name": "x-tier", "string_match": {"exact": "gold"}}, {"name": "x-plan", "present_match": true}]
        }}]},
        {"actions": [{"remote_address": {}}]},
        {"actions": [{"masked_remote_address": {"v4_prefix_mask_len": 24}}]},
        {"actions": [
            {"request_headers": {"header_name": "x-a", "descriptor_key": "a", "skip_if_absent": true}},
            {"request_headers": {"header_name": "x-b", "descriptor_key": "b", "skip_if_absent": true}}
        ]},
        {"actions": [{"request_headers": {"header_name": "x-limited", "descriptor_key": "limited"}}]}
    ])
}

fn common(stat_prefix: &str, extra: &Value) -> Value {
    let mut c = json!({
        "stat_prefix": stat_prefix,
        "domain": "edge",
        "timeout": "0.5s",
        "failure_mode_deny": false,
        "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
        "rate_limit_service": {
            "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}},
            "transport_api_version": "V3"
        },
        "rate_limits": rate_limits()
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

fn native_filter(extra: &Value) -> Value {
    let mut config = common("native", extra);
    config["@type"] =
        json!("type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit");
    json!({"name": "envoy.filters.http.ratelimit", "typed_config": config})
}

/// The same JSON, plus Portico's `xff_num_trusted_hops: 1`: a wasm filter
/// sees the connection's peer, and native the address the connection
/// manager takes from `x-forwarded-for` (its right-most entry, by default).
fn portico_filter(extra: &Value) -> Value {
    let wasm = wasm_path("ratelimit").unwrap();
    let mut config = common("portico", extra);
    config["xff_num_trusted_hops"] = json!(1);
    wasm_filter("portico.ratelimit", &wasm, &config.to_string())
}

struct World {
    _redis: Redis,
    rls: Rls,
    _upstream: Upstream,
    envoy: Envoy,
}

/// One Envoy with listener pairs `native-<name>` / `portico-<name>`, each
/// pair with the same extra config, all asking one service.
fn world(pairs: &[(&str, Value)]) -> World {
    let redis = Redis::start().unwrap();
    let rls = Rls::start(0, &redis.url(), rls_configs()).unwrap();
    let upstream = Upstream::start();
    let mut boot = Bootstrap::new(upstream.port()).raw_cluster(h2_cluster("rls", rls.port()));
    for (name, extra) in pairs {
        boot = boot
            .listener(&format!("native-{name}"), vec![native_filter(extra)])
            .listener(&format!("portico-{name}"), vec![portico_filter(extra)]);
    }
    let envoy = Envoy::start(&boot.render(), 1);
    World {
        _redis: redis,
        rls,
        _upstream: upstream,
        envoy,
    }
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        let i = usize::try_from(self.next() % options.len() as u64).unwrap_or(0);
        options[i]
    }
}

/// A hostile request shape: each header absent, present, empty, repeated,
/// oddly cased or spaced; XFF chains, garbage and IPv6.
fn shape(rng: &mut Rng) -> Vec<(String, String)> {
    let mut h = Vec::new();
    let mut maybe = |rng: &mut Rng, name: &str, values: &[&str]| match rng.next() % 4 {
        0 => {}
        1 | 2 => h.push((name.to_string(), rng.pick(values).to_string())),
        _ => {
            h.push((name.to_string(), rng.pick(values).to_string()));
            h.push((name.to_string(), rng.pick(values).to_string()));
        }
    };
    maybe(
        rng,
        "x-api-key",
        &["k1", "k2", "", " padded ", "K1", "a,b", "\u{e9}t\u{e9}"],
    );
    maybe(rng, "x-user", &["alice", "bob", ""]);
    maybe(rng, "x-tier", &["gold", "Gold", "silver", "", "gold "]);
    maybe(rng, "x-plan", &["p", ""]);
    maybe(rng, "x-a", &["1", "2", ""]);
    maybe(rng, "x-b", &["1", ""]);
    maybe(
        rng,
        "x-forwarded-for",
        &[
            "192.0.2.7",
            "198.51.100.3, 192.0.2.9",
            "garbage",
            "2001:db8::1",
            "10.0.0.1,10.0.0.2,10.0.0.3",
            "",
            " 203.0.113.5 ",
        ],
    );
    h
}

fn send(
    envoy: &Envoy,
    listener: &str,
    path: &str,
    headers: &[(String, String)],
) -> (u16, Vec<(String, String)>, String) {
    let mut req = envoy.get(listener, path);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let reply = req.send();
    let mut kept: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(k, _)| {
            k.starts_with("x-ratelimit")
                || k == "x-envoy-ratelimited"
                || k.starts_with("x-rls")
                || k == "content-type"
        })
        .cloned()
        .collect();
    kept.sort();
    // The upstream echoes the request (with its unique x-request-id): only
    // Envoy's own answers are compared by body.
    let body = if reply.echo().is_some() {
        String::new()
    } else {
        reply.text()
    };
    (reply.status, kept, body)
}

/// Without the counts: both filters' calls count in one service, so the
/// second to ask sees fewer remaining.
fn without_counts(h: &[(String, String)]) -> Vec<(String, String)> {
    h.iter()
        .filter(|(k, _)| k != "x-ratelimit-remaining" && k != "x-ratelimit-reset")
        .cloned()
        .collect()
}

/// What the service received for one request, without the domain.
fn last(rls: &Rls, before: usize) -> Vec<Received> {
    rls.requests().into_iter().skip(before).collect()
}

#[test]
fn the_service_receives_the_same_descriptors_from_both_for_hostile_request_shapes() {
    let pairs = [
        ("main", json!({})),
        ("internal", json!({"request_type": "internal"})),
        ("external", json!({"request_type": "external"})),
    ];
    let w = world(&pairs);
    let mut rng = Rng(20_261_207);
    let mut compared = 0;
    let mut with_call = 0;
    for i in 0..300 {
        let mut headers = shape(&mut rng);
        // A client's own claim to be internal (Envoy trusts it only from
        // an internal address; both filters must read it the same way).
        match rng.next() % 4 {
            0 => headers.push(("x-envoy-internal".into(), "true".into())),
            1 => headers.push(("x-envoy-internal".into(), "TRUE".into())),
            _ => {}
        }
        let path = format!("/r{i}");
        for (pair, _) in &pairs {
            let before = w.rls.requests().len();
            let native = send(&w.envoy, &format!("native-{pair}"), &path, &headers);
            let native_seen = last(&w.rls, before);
            let before = w.rls.requests().len();
            let portico = send(&w.envoy, &format!("portico-{pair}"), &path, &headers);
            let portico_seen = last(&w.rls, before);
            let what = format!("request {i} on {pair} with headers {headers:?}");
            assert_eq!(
                portico_seen, native_seen,
                "{what}: the service received different descriptors"
            );
            assert_eq!(portico.0, native.0, "{what}: status");
            assert_eq!(
                without_counts(&portico.1),
                without_counts(&native.1),
                "{what}: headers"
            );
            assert_eq!(portico.2, native.2, "{what}: body");
            compared += 1;
            with_call += usize::from(!native_seen.is_empty());
        }
    }
    assert_eq!(compared, 900);
    assert!(
        with_call > 400,
        "most shapes call the service ({with_call})"
    );
    eprintln!(
        "ratelimit_global: 300 request shapes on 3 listener pairs, {with_call} with a call, \
         descriptors identical"
    );
    // Counters in the route cluster's scope, named as native names them
    // (Envoy puts `wasmcustom.` in front of a wasm filter's).
    let native = w.envoy.stat("cluster.upstream.ratelimit.native.ok");
    let portico = w
        .envoy
        .stat("wasmcustom.cluster.upstream.ratelimit.portico.ok");
    if portico.is_none() {
        eprintln!(
            "{}",
            w.envoy
                .admin_get("/stats?filter=ratelimit")
                .unwrap_or_default()
        );
    }
    if Backend::current().shows_late_metrics() {
        assert_eq!(portico, native);
    } else {
        assert_eq!(
            portico, None,
            "Envoy freezes a dynamic module's stats at load"
        );
    }
    assert!(native.unwrap_or(0) > 100);
}

#[test]
fn over_the_limit_both_answer_the_same_429() {
    let w = world(&[
        ("main", json!({})),
        (
            "custom",
            json!({
                "rate_limited_status": {"code": 503},
                "disable_x_envoy_ratelimited_header": true,
                "response_headers_to_add": [{"header": {"key": "x-rls-config", "value": "c"}}]
            }),
        ),
    ]);
    w.rls.set_extras(Extras {
        response_headers: vec![
            ("x-rls-said".into(), "hello".into()),
            ("content-type".into(), "application/problem+json".into()),
        ],
        request_headers: vec![("x-rls-upstream".into(), "u".into())],
        raw_body: b"over the limit".to_vec(),
    });
    for pair in ["main", "custom"] {
        let mut answers = Vec::new();
        for side in ["native", "portico"] {
            let headers = vec![("x-limited".to_string(), format!("{side}-{pair}"))];
            let got: Vec<_> = (0..5)
                .map(|i| {
                    send(
                        &w.envoy,
                        &format!("{side}-{pair}"),
                        &format!("/l{i}"),
                        &headers,
                    )
                })
                .collect();
            answers.push(got);
        }
        let (native, portico) = (&answers[0], &answers[1]);
        let statuses: Vec<u16> = native.iter().map(|a| a.0).collect();
        let limited = if pair == "main" { 429 } else { 503 };
        assert_eq!(statuses, vec![200, 200, 200, limited, limited], "{pair}");
        for (n, p) in native.iter().zip(portico) {
            assert_eq!(p.0, n.0, "{pair}: status");
            // Reset counts down within the minute: the same second or the next.
            let strip = |h: &[(String, String)]| {
                h.iter()
                    .filter(|(k, _)| k != "x-ratelimit-reset")
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip(&p.1), strip(&n.1), "{pair}: headers");
            assert_eq!(p.2, n.2, "{pair}: body");
        }
    }
}

#[test]
fn a_failing_slow_or_absent_service_is_handled_the_same() {
    let w = world(&[
        ("allow", json!({})),
        ("deny", json!({"failure_mode_deny": true})),
        (
            "deny-503",
            json!({"failure_mode_deny": true, "status_on_error": {"code": 503}}),
        ),
        ("short", json!({"timeout": "0.05s"})),
    ]);
    let headers = vec![("x-api-key".to_string(), "k1".to_string())];
    for (mode, pairs) in [
        (Mode::Fail(14), vec!["allow", "deny", "deny-503"]),
        (Mode::Fail(8), vec!["allow", "deny"]),
        (Mode::Delay(Duration::from_millis(200)), vec!["short"]),
        (Mode::Normal, vec!["allow", "deny", "short"]),
    ] {
        w.rls.set_mode(mode);
        for pair in pairs {
            let native = send(&w.envoy, &format!("native-{pair}"), "/f", &headers);
            let portico = send(&w.envoy, &format!("portico-{pair}"), "/f", &headers);
            assert_eq!(portico.0, native.0, "{mode:?} {pair}: status");
            assert_eq!(
                without_counts(&portico.1),
                without_counts(&native.1),
                "{mode:?} {pair}: headers"
            );
            assert_eq!(portico.2, native.2, "{mode:?} {pair}: body");
        }
    }
    for name in ["error", "failure_mode_allowed"] {
        let n = w
            .envoy
            .stat(&format!("cluster.upstream.ratelimit.native.{name}"));
        let p = w.envoy.stat(&format!(
            "wasmcustom.cluster.upstream.ratelimit.portico.{name}"
        ));
        if Backend::current().shows_late_metrics() {
            assert_eq!(p, n, "{name}");
        } else {
            assert_eq!(
                p, None,
                "{name}: Envoy freezes a dynamic module's stats at load"
            );
        }
        assert!(n.unwrap_or(0) > 0, "{name}");
    }
}

#[test]
fn a_service_that_is_down_fails_the_same_way() {
    let upstream = Upstream::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut boot = Bootstrap::new(upstream.port()).raw_cluster(h2_cluster("rls", closed));
    for (name, extra) in [
        ("allow", json!({})),
        ("deny", json!({"failure_mode_deny": true})),
    ] {
        boot = boot
            .listener(&format!("native-{name}"), vec![native_filter(&extra)])
            .listener(&format!("portico-{name}"), vec![portico_filter(&extra)]);
    }
    let envoy = Envoy::start(&boot.render(), 1);
    let headers = vec![("x-api-key".to_string(), "k1".to_string())];
    for pair in ["allow", "deny"] {
        let native = send(&envoy, &format!("native-{pair}"), "/d", &headers);
        let portico = send(&envoy, &format!("portico-{pair}"), "/d", &headers);
        assert_eq!(portico, native, "{pair}");
        assert_eq!(native.0, if pair == "allow" { 200 } else { 500 });
    }
}

#[test]
fn two_envoys_against_one_redis_hold_one_limit() {
    let redis = Redis::start().unwrap();
    // A service per Envoy, one Redis behind both: the counters are Redis's.
    let services: Vec<Rls> = (0..2)
        .map(|_| Rls::start(0, &redis.url(), rls_configs()).unwrap())
        .collect();
    let upstream = Upstream::start();
    let envoys: Vec<Envoy> = services
        .iter()
        .map(|rls| {
            let boot = Bootstrap::new(upstream.port())
                .raw_cluster(h2_cluster("rls", rls.port()))
                .listener("portico", vec![portico_filter(&json!({}))]);
            Envoy::start(&boot.render(), 2)
        })
        .collect();
    let headers = vec![("x-limited".to_string(), "shared".to_string())];
    let mut passed = [0usize; 2];
    for i in 0..12 {
        let e = i % 2;
        let (status, _, _) = send(&envoys[e], "portico", &format!("/t{i}"), &headers);
        if status == 200 {
            passed[e] += 1;
        } else {
            assert_eq!(status, 429);
        }
    }
    // `limited` allows 3 a minute in total.
    assert_eq!(passed.iter().sum::<usize>(), 3, "{passed:?}");
    assert!(
        passed.iter().all(|p| *p >= 1),
        "both Envoys counted: {passed:?}"
    );
    for rls in &services {
        assert!(rls.requests().len() >= 6);
    }
}

#[test]
fn a_local_bucket_in_front_sheds_load_before_the_call() {
    let redis = Redis::start().unwrap();
    let rls = Rls::start(0, &redis.url(), rls_configs()).unwrap();
    let upstream = Upstream::start();
    let local = json!({
        "stat_prefix": "shed",
        "token_bucket": {"max_tokens": 4, "tokens_per_fill": 1, "fill_interval": "3600s"}
    });
    let wasm = wasm_path("ratelimit").unwrap();
    let boot = Bootstrap::new(upstream.port())
        .raw_cluster(h2_cluster("rls", rls.port()))
        .listener(
            "chain",
            vec![
                wasm_filter("portico.shed", &wasm, &local.to_string()),
                portico_filter(&json!({})),
            ],
        );
    let envoy = Envoy::start(&boot.render(), 1);
    let headers = vec![("x-limited".to_string(), "chained".to_string())];
    let statuses: Vec<u16> = (0..6)
        .map(|i| send(&envoy, "chain", &format!("/c{i}"), &headers).0)
        .collect();
    // The service allows 3; the local bucket lets 4 reach it; the rest
    // never leave Envoy.
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429]);
    assert_eq!(rls.requests().len(), 4, "only the local bucket's 4 asked");
    assert_eq!(
        envoy.stat("wasmcustom.shed.http_local_rate_limit.rate_limited"),
        Some(2)
    );
}

#[test]
fn a_request_body_waits_with_its_headers_for_the_answer() {
    let w = world(&[("main", json!({}))]);
    w.rls.set_mode(Mode::Delay(Duration::from_millis(150)));
    let body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    for side in ["native", "portico"] {
        let reply = w
            .envoy
            .request(&format!("{side}-main"), "POST", "/upload")
            .header("x-api-key", "k1")
            .body(body.clone())
            .send();
        assert_eq!(reply.status, 200, "{side}");
        let echo = reply.echo().unwrap();
        assert_eq!(
            echo.body.len(),
            body.len(),
            "{side}: the whole body arrived"
        );
    }
    assert_eq!(w.rls.requests().len(), 2);
}
