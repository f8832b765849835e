//! Red-team probes of the global mode, each side by side with Envoy's own
//! `envoy.filters.http.ratelimit` in one Envoy, both asking one test Rate
//! Limit Service (`rls/`): configurations a migrating user brings, request
//! shapes an attacker sends, answers an odd or broken service gives.
//! Divergences found are tests marked `#[ignore = "divergence: ..."]`.

use portico_harness::bootstrap::{h2_cluster, wasm_filter, Bootstrap};
use portico_harness::{wasm_path, Backend, Envoy, Upstream};
use portico_rls::engine::Config as RlsConfig;
use portico_rls::proto::{
    code, unit, DescriptorStatus, Duration as PbDuration, HeaderValue, RateLimit, RateLimitResponse,
};
use portico_rls::{Mode, Received, Redis, Rls};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

const RLS_CONFIG: &str = r#"
domain: edge
descriptors:
  - key: limited
    rate_limit: {unit: minute, requests_per_unit: 1, name: one}
  - key: k
    rate_limit: {unit: minute, requests_per_unit: 1000000}
"#;

fn service() -> Value {
    json!({
        "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}},
        "transport_api_version": "V3"
    })
}

/// A full filter configuration: the defaults below, `extra` merged over.
fn config(stat_prefix: &str, extra: &Value) -> Value {
    let mut c = json!({
        "stat_prefix": stat_prefix,
        "domain": "edge",
        "timeout": "1s",
        "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
        "rate_limit_service": service(),
        "rate_limits": [
            {"actions": [{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]},
            {"actions": [{"request_headers": {"header_name": "x-limited", "descriptor_key": "limited"}}]}
        ]
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

fn native_filter(extra: &Value) -> Value {
    let mut c = config("native", extra);
    c["@type"] = json!("type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit");
    json!({"name": "envoy.filters.http.ratelimit", "typed_config": c})
}

/// The same JSON plus `xff_num_trusted_hops: 1` (see ratelimit_global.rs).
fn portico_filter(extra: &Value) -> Value {
    let wasm = wasm_path("ratelimit").unwrap();
    let mut c = config("portico", extra);
    c["xff_num_trusted_hops"] = json!(1);
    wasm_filter("portico.ratelimit", &wasm, &c.to_string())
}

struct World {
    _redis: Redis,
    rls: Rls,
    upstream: Upstream,
    envoy: Envoy,
}

/// Listener pairs `native-<name>` / `portico-<name>`; `routes`, when set,
/// replaces every listener's routes.
fn world_routes(pairs: &[(&str, Value)], routes: Option<Value>) -> World {
    let redis = Redis::start().unwrap();
    let rls = Rls::start(0, &redis.url(), vec![rls_config()]).unwrap();
    let upstream = Upstream::start();
    let mut boot = Bootstrap::new(upstream.port()).raw_cluster(h2_cluster("rls", rls.port()));
    for (name, extra) in pairs {
        boot = boot
            .listener(&format!("native-{name}"), vec![native_filter(extra)])
            .listener(&format!("portico-{name}"), vec![portico_filter(extra)]);
    }
    let mut doc: Value = serde_json::from_str(&boot.render()).unwrap();
    if let Some(routes) = routes {
        for l in doc["static_resources"]["listeners"].as_array_mut().unwrap() {
            l["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
                [0]["routes"] = routes.clone();
        }
    }
    let envoy = Envoy::start(&doc.to_string(), 1);
    World {
        _redis: redis,
        rls,
        upstream,
        envoy,
    }
}

fn world(pairs: &[(&str, Value)]) -> World {
    world_routes(pairs, None)
}

fn rls_config() -> RlsConfig {
    serde_yaml::from_str(RLS_CONFIG).unwrap()
}

/// What a client and the upstream saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    /// The response's headers but those that differ by nature (date,
    /// x-request-id, server timing), in order.
    headers: Vec<(String, String)>,
    /// Envoy's own body; the upstream's echo is summarised in `upstream`.
    body: String,
    /// Headers the upstream received that a rate limit filter may add.
    upstream: Option<Vec<(String, String)>>,
}

fn send(envoy: &Envoy, listener: &str, path: &str, headers: &[(&str, &str)]) -> Seen {
    let mut req = envoy.get(listener, path);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let reply = req.send();
    let headers = reply
        .headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "date" | "x-envoy-upstream-service-time" | "content-length" | "x-request-id"
            )
        })
        .cloned()
        .collect();
    let echo = reply.echo();
    let upstream = echo.as_ref().map(|e| {
        e.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-rls") || k.starts_with("x-svc"))
            .cloned()
            .collect()
    });
    let body = if echo.is_some() {
        String::new()
    } else {
        reply.text()
    };
    Seen {
        status: reply.status,
        headers,
        body,
        upstream,
    }
}

fn strip_counts(s: &Seen) -> Seen {
    let mut s = s.clone();
    s.headers
        .retain(|(k, _)| k != "x-ratelimit-remaining" && k != "x-ratelimit-reset");
    s
}

/// Sends one request to both sides of `pair` and returns what the service
/// received from each and what the client saw.
fn both(
    w: &World,
    pair: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> ((Vec<Received>, Seen), (Vec<Received>, Seen)) {
    let mut out = Vec::new();
    for side in ["native", "portico"] {
        let before = w.rls.requests().len();
        let seen = send(&w.envoy, &format!("{side}-{pair}"), path, headers);
        let got: Vec<Received> = w.rls.requests().into_iter().skip(before).collect();
        out.push((got, seen));
    }
    let p = out.pop().unwrap();
    let n = out.pop().unwrap();
    (n, p)
}

/// Compares both sides over `cases`, returning every difference.
fn compare(w: &World, pair: &str, cases: &[(&str, Vec<(&str, &str)>)]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (i, (path, headers)) in cases.iter().enumerate() {
        let ((nr, ns), (pr, ps)) = both(w, pair, &format!("{path}{}", i), headers);
        if nr != pr {
            diffs.push(format!(
                "{pair} {headers:?}: service received native {nr:?} portico {pr:?}"
            ));
        }
        if strip_counts(&ns) != strip_counts(&ps) {
            diffs.push(format!(
                "{pair} {headers:?}: client saw native {ns:?} portico {ps:?}"
            ));
        }
    }
    diffs
}

fn report(what: &str, total: usize, diffs: &[String]) {
    eprintln!(
        "{what}: {} of {total} cases differ\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

// ---------------------------------------------------------------------
// Configurations: does Envoy load both the same?

/// Whether Envoy (`--mode validate`) loads a listener with this filter.
fn loads(filter: Value) -> (bool, String) {
    let boot = Bootstrap::new(1)
        .raw_cluster(h2_cluster("rls", 1))
        .listener("l", vec![filter]);
    Envoy::validate(&boot.render())
}

fn rl(actions: Value) -> Value {
    json!({"rate_limits": [{"actions": actions}]})
}

/// Configurations on which native and Portico agree (load or refuse alike).
fn agreeing_configs() -> Vec<(&'static str, Value)> {
    vec![
        ("defaults", json!({})),
        ("request_type empty", json!({"request_type": ""})),
        ("request_type internal", json!({"request_type": "internal"})),
        ("request_type bogus", json!({"request_type": "sometimes"})),
        ("timeout absent", json!({"timeout": null})),
        ("domain empty", json!({"domain": ""})),
        ("domain absent", json!({"domain": null})),
        (
            "transport V2",
            json!({"rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V2"}}),
        ),
        (
            "failure_mode_deny with filter_enforced 0",
            json!({"failure_mode_deny": true, "filter_enforced": {"default_value": {"numerator": 0}}}),
        ),
        ("actions empty", json!({"rate_limits": [{"actions": []}]})),
        (
            "masked v4 33",
            rl(json!([{"masked_remote_address": {"v4_prefix_mask_len": 33}}])),
        ),
        (
            "masked v6 129",
            rl(json!([{"masked_remote_address": {"v6_prefix_mask_len": 129}}])),
        ),
        (
            "request_headers empty name",
            rl(json!([{"request_headers": {"header_name": "", "descriptor_key": "k"}}])),
        ),
        (
            "request_headers empty key",
            rl(json!([{"request_headers": {"header_name": "x", "descriptor_key": ""}}])),
        ),
        (
            "request_headers :authority",
            rl(json!([{"request_headers": {"header_name": ":authority", "descriptor_key": "k"}}])),
        ),
        (
            "hits_addend 1e9+1",
            json!({"rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "hits_addend": {"number": 1_000_000_001u64}}]}),
        ),
        (
            "status_on_error 503",
            json!({"status_on_error": {"code": 503}}),
        ),
        (
            "filter_enabled runtime key",
            json!({"filter_enabled": {"default_value": {"numerator": 100}, "runtime_key": "rl.enabled"}}),
        ),
        (
            "response header formatter",
            json!({"response_headers_to_add": [{"header": {"key": "x-c", "value": "%REQ(x-k)%"}}]}),
        ),
        (
            "response header :status",
            json!({"response_headers_to_add": [{"header": {"key": ":status", "value": "200"}}]}),
        ),
        (
            "request_headers Upper name",
            rl(json!([{"request_headers": {"header_name": "X-K", "descriptor_key": "k"}}])),
        ),
        (
            "generic_key key empty",
            rl(json!([{"generic_key": {"descriptor_value": "v", "descriptor_key": ""}}])),
        ),
        (
            "descriptor stage 1",
            json!({"rate_limits": [{"stage": 1, "actions": [{"generic_key": {"descriptor_value": "g"}}]}]}),
        ),
        (
            "descriptor disable_key",
            json!({"rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "disable_key": "d"}]}),
        ),
        (
            "hits_addend {}",
            json!({"rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "hits_addend": {}}]}),
        ),
        ("stat_prefix absent", json!({"stat_prefix": null})),
        ("stat_prefix with dots", json!({"stat_prefix": "a.b"})),
        (
            "initial_metadata upper key",
            json!({"rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}, "initial_metadata": [{"key": "X-Up", "value": "v"}]}, "transport_api_version": "V3"}}),
        ),
        (
            "matcher with two rules",
            rl(
                json!([{"header_value_match": {"descriptor_value": "v", "headers": [{"name": "x", "exact_match": "a", "prefix_match": "b"}]}}]),
            ),
        ),
        // Found here: Portico loaded these three, which native refuses.
        (
            "generic_key value empty",
            rl(json!([{"generic_key": {"descriptor_value": ""}}])),
        ),
        (
            "header_value_match value empty",
            rl(
                json!([{"header_value_match": {"descriptor_value": "", "headers": [{"name": "x", "present_match": true}]}}]),
            ),
        ),
        (
            "header_value_match headers empty",
            rl(json!([{"header_value_match": {"descriptor_value": "v", "headers": []}}])),
        ),
        (
            "rate_limited_status by name",
            json!({"rate_limited_status": {"code": "ServiceUnavailable"}}),
        ),
    ]
}

#[test]
fn envoy_loads_these_configurations_alike() {
    let cases = agreeing_configs();
    let mut diffs = Vec::new();
    for (name, extra) in &cases {
        let (native, _) = loads(native_filter(extra));
        let (portico, why) = loads(portico_filter(extra));
        if native != portico {
            diffs.push(format!(
                "{name}: native loads {native}, portico loads {portico} ({})",
                why.lines().rfind(|l| l.contains("ratelimit")).unwrap_or("")
            ));
        }
    }
    report("configurations", cases.len(), &diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

/// Runs the config matrix for `cases`, expecting every one to differ.
fn config_divergences(cases: &[(&str, Value)]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (name, extra) in cases {
        let (native, _) = loads(native_filter(extra));
        let (portico, why) = loads(portico_filter(extra));
        let reason = why
            .lines()
            .rfind(|l| l.contains("ratelimit") && l.contains("rror"))
            .unwrap_or("")
            .to_string();
        eprintln!("{name}: native {native}, portico {portico} {reason}");
        if native != portico {
            diffs.push(format!("{name}: native {native}, portico {portico}"));
        }
    }
    diffs
}

#[test]
#[ignore = "divergence: configurations native loads and Portico refuses, or the reverse (see the list)"]
fn envoy_loads_these_configurations_alike_but_does_not() {
    let cases: Vec<(&str, Value)> = vec![
        // Documented: native quietly uses 429 / 500 below 400.
        (
            "rate_limited_status 200",
            json!({"rate_limited_status": {"code": 200}}),
        ),
        (
            "status_on_error 200",
            json!({"status_on_error": {"code": 200}}),
        ),
        // Portico takes any 4xx/5xx number; native only StatusCode's values.
        (
            "rate_limited_status 499",
            json!({"rate_limited_status": {"code": 499}}),
        ),
        (
            "rate_limited_status 599",
            json!({"rate_limited_status": {"code": 599}}),
        ),
        // Portico knows 5 of StatusCode's names.
        (
            "rate_limited_status Unauthorized",
            json!({"rate_limited_status": {"code": "Unauthorized"}}),
        ),
        // Documented in the table: only stage 0.
        ("stage 1", json!({"stage": 1})),
        // Native: 0 is no timeout.
        ("timeout 0s", json!({"timeout": "0s"})),
        // Documented: the route's rate_limits, invisible to a wasm filter.
        ("rate_limits empty", json!({"rate_limits": []})),
        ("rate_limits absent", json!({"rate_limits": null})),
        (
            "header_value_match range_match",
            rl(
                json!([{"header_value_match": {"descriptor_value": "v", "headers": [{"name": "x", "range_match": {"start": 1, "end": 10}}]}}]),
            ),
        ),
        // Envoy 1.40's `query_parameters` action (Portico has its own `query_parameter`).
        (
            "query_parameters action",
            rl(json!([{"query_parameters": {"query_parameter_name": "q", "descriptor_key": "q"}}])),
        ),
        (
            "query_parameter (Portico's)",
            rl(json!([{"query_parameter": {"name": "q"}}])),
        ),
        (
            "query_parameter_value_match",
            rl(
                json!([{"query_parameter_value_match": {"descriptor_value": "v", "query_parameters": [{"name": "q", "present_match": true}]}}]),
            ),
        ),
        // Documented: only 0 and 100%.
        (
            "filter_enforced 50%",
            json!({"filter_enforced": {"default_value": {"numerator": 50}}}),
        ),
        (
            "failure_mode_deny_percent",
            json!({"failure_mode_deny_percent": {"default_value": {"numerator": 100}}}),
        ),
        // Portico ignores append_action whatever its value, and accepts host.
        (
            "response header bad append_action",
            json!({"response_headers_to_add": [{"header": {"key": "x-c", "value": "v"}, "append_action": "NONSENSE"}]}),
        ),
        (
            "response header host",
            json!({"response_headers_to_add": [{"header": {"key": "host", "value": "x"}}]}),
        ),
        (
            "initial_metadata key with a space",
            json!({"rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}, "initial_metadata": [{"key": "Bad Key", "value": "v"}]}, "transport_api_version": "V3"}}),
        ),
    ];
    let diffs = config_divergences(&cases);
    report("diverging configurations", cases.len(), &diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

// ---------------------------------------------------------------------
// Descriptors: what the service receives for hostile request shapes.

/// One descriptor per action, so an action that yields nothing drops only
/// its own descriptor.
fn descriptor_probe_actions() -> Vec<Value> {
    let hvm = |key: &str, matcher: Value| json!({"header_value_match": {"descriptor_key": key, "descriptor_value": "y", "headers": [matcher]}});
    vec![
        json!({"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}),
        json!({"request_headers": {"header_name": ":path", "descriptor_key": "path"}}),
        json!({"request_headers": {"header_name": ":authority", "descriptor_key": "authority"}}),
        json!({"request_headers": {"header_name": ":method", "descriptor_key": "method"}}),
        json!({"request_headers": {"header_name": "host", "descriptor_key": "host"}}),
        json!({"request_headers": {"header_name": "X-Upper", "descriptor_key": "upper"}}),
        json!({"request_headers": {"header_name": "cookie", "descriptor_key": "cookie"}}),
        json!({"request_headers": {"header_name": "user-agent", "descriptor_key": "ua"}}),
        json!({"request_headers": {"header_name": "x-forwarded-for", "descriptor_key": "xff"}}),
        hvm(
            "exact",
            json!({"name": "x-t", "string_match": {"exact": "gold"}}),
        ),
        hvm(
            "exact_ic",
            json!({"name": "x-t", "string_match": {"exact": "gold", "ignore_case": true}}),
        ),
        hvm("prefix", json!({"name": "x-t", "prefix_match": "go"})),
        hvm("suffix", json!({"name": "x-t", "suffix_match": "ld"})),
        hvm("contains", json!({"name": "x-t", "contains_match": "ol"})),
        hvm(
            "regex",
            json!({"name": "x-t", "safe_regex_match": {"regex": "g.l?d"}}),
        ),
        hvm(
            "regex_sm",
            json!({"name": "x-t", "string_match": {"safe_regex": {"regex": "^[a-z]+$"}}}),
        ),
        hvm(
            "exact_legacy",
            json!({"name": "x-t", "exact_match": "gold"}),
        ),
        hvm("present", json!({"name": "x-t", "present_match": true})),
        hvm("absent", json!({"name": "x-t", "present_match": false})),
        hvm(
            "present_inv",
            json!({"name": "x-t", "present_match": true, "invert_match": true}),
        ),
        hvm(
            "absent_inv",
            json!({"name": "x-t", "present_match": false, "invert_match": true}),
        ),
        hvm(
            "exact_inv",
            json!({"name": "x-t", "string_match": {"exact": "gold"}, "invert_match": true}),
        ),
        hvm(
            "prefix_inv",
            json!({"name": "x-t", "prefix_match": "go", "invert_match": true}),
        ),
        hvm(
            "empty_missing",
            json!({"name": "x-t", "string_match": {"exact": ""}, "treat_missing_header_as_empty": true}),
        ),
        hvm(
            "inv_missing",
            json!({"name": "x-t", "string_match": {"exact": "gold"}, "invert_match": true, "treat_missing_header_as_empty": true}),
        ),
        hvm("no_rule", json!({"name": "x-t"})),
        hvm("no_rule_inv", json!({"name": "x-t", "invert_match": true})),
        json!({"header_value_match": {"descriptor_key": "not_both", "descriptor_value": "y", "expect_match": false,
            "headers": [{"name": "x-t", "prefix_match": "g"}, {"name": "x-u", "present_match": true}]}}),
        json!({"remote_address": {}}),
        json!({"masked_remote_address": {}}),
        json!({"masked_remote_address": {"v4_prefix_mask_len": 16, "v6_prefix_mask_len": 64}}),
        json!({"masked_remote_address": {"v4_prefix_mask_len": 0, "v6_prefix_mask_len": 0}}),
        json!({"generic_key": {"descriptor_value": "g"}}),
        json!({"generic_key": {"descriptor_value": "g2", "descriptor_key": ""}}),
        json!({"header_value_match": {"descriptor_key": "", "descriptor_value": "y2", "headers": [{"name": "x-t", "present_match": true}]}}),
    ]
}

fn descriptor_probe_config(actions: &[Value]) -> Value {
    let limits: Vec<Value> = actions.iter().map(|a| json!({"actions": [a]})).collect();
    json!({"rate_limits": limits})
}

fn probe_shapes() -> Vec<Vec<(&'static str, &'static str)>> {
    let tiers: &[&[&str]] = &[
        &[],
        &["gold"],
        &["Gold"],
        &["silver"],
        &[""],
        &["gold", "silver"],
        &["silver", "gold"],
        &["gold,silver"],
        &["golld"],
        &[" gold"],
        &["gd"],
    ];
    let mut shapes = Vec::new();
    for t in tiers {
        let mut h: Vec<(&str, &str)> = t.iter().map(|v| ("x-t", *v)).collect();
        h.push(("x-k", "k1"));
        shapes.push(h);
    }
    let xffs = [
        "1.2.3.4,",
        "1.2.3.4, ",
        "1.2.3.4,,",
        ",",
        " ",
        "::1.2.3.4",
        "::ffff:1.2.3.4",
        "::ffff:102:304",
        "[2001:db8::1]",
        "2001:DB8:0:0:0:0:0:1",
        "2001:db8::1, ::",
        "1.2.3.4:8080",
        "01.2.3.4",
        "1.2.3",
        "0x7f.0.0.1",
        "255.255.255.255",
        "1.2.3.4 5.6.7.8",
        "1.2.3.4\t",
        "unknown, 1.2.3.4",
        "1.2.3.4, unknown",
    ];
    for x in xffs {
        shapes.push(vec![("x-forwarded-for", x)]);
    }
    shapes.push(vec![
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-for", "5.6.7.8"),
    ]);
    shapes.push(vec![("X-Upper", "v"), ("x-upper", "w")]);
    shapes.push(vec![("cookie", "a=1"), ("cookie", "b=2")]);
    shapes.push(vec![("user-agent", "a"), ("user-agent", "b")]);
    shapes.push(vec![("x-k", "a"), ("x-k", "b")]);
    shapes.push(vec![("x-k", "")]);
    shapes.push(vec![("x-t", "gold"), ("x-u", "")]);
    shapes.push(vec![("x-t", "silver"), ("x-u", "1")]);
    shapes.push(vec![("host", "other.example:99")]);
    shapes
}

#[test]
fn the_service_receives_the_same_descriptors_for_every_action_and_matcher() {
    let actions = descriptor_probe_actions();
    let w = world(&[("d", descriptor_probe_config(&actions))]);
    let shapes = probe_shapes();
    let cases: Vec<(&str, Vec<(&str, &str)>)> =
        shapes.iter().map(|h| ("/p?q=1&x=%41", h.clone())).collect();
    let diffs = compare(&w, "d", &cases);
    report("descriptors", cases.len(), &diffs);
    assert!(diffs.is_empty());
}

// ---------------------------------------------------------------------
// Answers: what each filter makes of an odd or broken service.

fn status(per_unit: u32, u: i32, name: &str, remaining: u32, reset: i64) -> DescriptorStatus {
    DescriptorStatus {
        code: code::OK,
        current_limit: Some(RateLimit {
            requests_per_unit: per_unit,
            unit: u,
            name: name.into(),
        }),
        limit_remaining: remaining,
        duration_until_reset: Some(PbDuration {
            seconds: reset,
            nanos: 0,
        }),
    }
}

fn hv(k: &str, v: &str) -> HeaderValue {
    HeaderValue {
        key: k.into(),
        value: v.into(),
    }
}

fn answer(overall: i32, statuses: Vec<DescriptorStatus>) -> RateLimitResponse {
    RateLimitResponse {
        overall_code: overall,
        statuses,
        response_headers_to_add: vec![hv("X-Rls-Resp", "r")],
        request_headers_to_add: vec![hv("X-Rls-Up", "u")],
        raw_body: b"body from the service".to_vec(),
    }
}

const ANSWER_PAIRS: [&str; 3] = ["allow", "deny", "shadow"];

fn answer_world() -> World {
    world(&[
        ("allow", json!({})),
        ("deny", json!({"failure_mode_deny": true})),
        (
            "shadow",
            json!({"filter_enforced": {"default_value": {"numerator": 0}}}),
        ),
    ])
}

/// Canned answers on which both filters agree.
fn agreeing_answers() -> Vec<(&'static str, RateLimitResponse)> {
    let mut v = vec![
        (
            "ok",
            answer(code::OK, vec![status(10, unit::MINUTE, "m", 3, 20)]),
        ),
        (
            "over",
            answer(code::OVER_LIMIT, vec![status(10, unit::MINUTE, "m", 0, 20)]),
        ),
        (
            "units",
            answer(
                code::OK,
                vec![
                    status(1, unit::WEEK, "w", 9, 1),
                    status(2, unit::MONTH, "", 8, 2),
                    status(3, unit::YEAR, "y", 7, 3),
                    status(4, unit::UNKNOWN, "u", 6, 4),
                    status(5, 99, "bogus", 5, 5),
                    status(6, -1, "", 4, 0),
                    status(7, unit::SECOND, "quo\"te", 4, 0),
                ],
            ),
        ),
        (
            "statuses without limits or durations",
            answer(
                code::OVER_LIMIT,
                vec![
                    DescriptorStatus::default(),
                    DescriptorStatus {
                        code: code::OVER_LIMIT,
                        current_limit: Some(RateLimit {
                            requests_per_unit: u32::MAX,
                            unit: unit::DAY,
                            name: String::new(),
                        }),
                        limit_remaining: u32::MAX,
                        duration_until_reset: None,
                    },
                ],
            ),
        ),
        ("over, no statuses", answer(code::OVER_LIMIT, vec![])),
    ];
    let mut odd = answer(code::OVER_LIMIT, vec![]);
    odd.response_headers_to_add = vec![
        hv("Content-Type", "application/json"),
        hv("x-rls-dup", "1"),
        hv("X-RLS-DUP", "2"),
        hv("x-rls-empty", ""),
        hv("x-envoy-ratelimited", "service"),
        hv("x-ratelimit-limit", "service"),
    ];
    odd.request_headers_to_add = vec![hv("X-Rls-Up", "1"), hv("x-rls-up", "2"), hv("x-k", "svc")];
    v.push(("odd headers, over", odd.clone()));
    odd.overall_code = code::OK;
    v.push(("odd headers, ok", odd.clone()));
    let mut ct = answer(code::OVER_LIMIT, vec![]);
    ct.response_headers_to_add = vec![hv("content-type", "a/b"), hv("content-type", "c/d")];
    v.push(("two content-types", ct.clone()));
    ct.raw_body = Vec::new();
    v.push(("content-type, no body", ct));
    let mut big = answer(code::OVER_LIMIT, vec![]);
    big.raw_body = vec![b'z'; 60 * 1024];
    v.push(("60 KiB body", big));
    v
}

fn compare_answers(w: &World, answers: &[(&str, RateLimitResponse)]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (name, a) in answers {
        w.rls.set_canned(Some(a.clone()));
        for pair in ANSWER_PAIRS {
            let ((_, mut n), (_, mut p)) = both(w, pair, "/a", &[("x-k", "k1")]);
            if !Backend::current().writes_empty_headers() {
                // libportico.so cannot write an empty header into a
                // message (the ABI); its local replies can carry one.
                n.headers.retain(|(_, v)| !v.is_empty());
                p.headers.retain(|(_, v)| !v.is_empty());
            }
            if n != p {
                diffs.push(format!(
                    "{name} on {pair}:\n  native  {n:?}\n  portico {p:?}"
                ));
            }
        }
    }
    w.rls.set_canned(None);
    diffs
}

#[test]
fn odd_answers_are_handled_alike() {
    let w = answer_world();
    let answers = agreeing_answers();
    let diffs = compare_answers(&w, &answers);
    report("answers", answers.len() * ANSWER_PAIRS.len(), &diffs);
    assert!(diffs.is_empty());
}

#[test]
fn unknown_codes_and_broken_answers_are_handled_alike() {
    let w = answer_world();
    let mut lf = answer(
        code::OK,
        vec![status(10, unit::MINUTE, "a\nx-injected: 1", 3, 20)],
    );
    lf.response_headers_to_add.clear();
    // Found here: Portico took UNKNOWN and unknown codes for errors (500
    // with failure_mode_deny); native's client lets them through as OK.
    let answers = vec![
        (
            "unknown",
            answer(code::UNKNOWN, vec![status(10, unit::MINUTE, "m", 3, 20)]),
        ),
        (
            "code 7",
            answer(7, vec![status(10, unit::MINUTE, "m", 3, 20)]),
        ),
        ("LF in a limit's name", lf),
    ];
    let mut diffs = compare_answers(&w, &answers);
    for mode in [Mode::Reset, Mode::Garbage, Mode::Empty] {
        w.rls.set_mode(mode);
        for pair in ANSWER_PAIRS {
            let ((_, n), (_, p)) = both(&w, pair, "/m", &[("x-k", "k1")]);
            if n != p {
                diffs.push(format!(
                    "{mode:?} on {pair}:\n  native  {n:?}\n  portico {p:?}"
                ));
            }
        }
    }
    w.rls.set_mode(Mode::Normal);
    report(
        "unknown codes and broken answers",
        6 * ANSWER_PAIRS.len(),
        &diffs,
    );
    assert!(diffs.is_empty());
    for name in ["ok", "error", "over_limit", "failure_mode_allowed"] {
        let n = w
            .envoy
            .stat(&format!("cluster.upstream.ratelimit.native.{name}"));
        let p = w.envoy.stat(&format!(
            "wasmcustom.cluster.upstream.ratelimit.portico.{name}"
        ));
        // Native creates a counter on first use; Portico defines all four
        // at the first answer (0 where native shows none).
        if Backend::current().shows_late_metrics() {
            assert_eq!(p.unwrap_or(0), n.unwrap_or(0), "{name}");
        } else {
            assert_eq!(
                p, None,
                "{name}: Envoy freezes a dynamic module's stats at load"
            );
        }
    }
}

#[test]
#[ignore = "divergence: a negative duration_until_reset; native writes it as u64 (18446744073709551609), Portico as -7"]
fn a_negative_reset_is_written_alike() {
    let w = answer_world();
    let answers = vec![(
        "reset -7",
        answer(code::OK, vec![status(6, unit::MINUTE, "", 4, -7)]),
    )];
    let diffs = compare_answers(&w, &answers);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
#[ignore = "divergence (documented): an answer over 64 KiB is an error for Portico; native returns the 429 with its 100 KiB body"]
fn a_100_kib_body_is_answered_alike() {
    let w = answer_world();
    let mut huge = answer(code::OVER_LIMIT, vec![]);
    huge.raw_body = vec![b'z'; 100 * 1024];
    let diffs = compare_answers(&w, &[("100 KiB body", huge)]);
    assert!(diffs.is_empty(), "{} differ", diffs.len());
}

#[test]
#[ignore = "deliberate (filters/ratelimit/README.md): Portico keys an XFF address without its IPv6 zone (fe80::1), native with it (fe80::1%1, interface names resolved)"]
fn an_ipv6_zone_in_xff_gives_the_same_descriptors() {
    let w = world(&[(
        "z",
        json!({"rate_limits": [{"actions": [{"remote_address": {}}]}, {"actions": [{"generic_key": {"descriptor_value": "g"}}]}]}),
    )]);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/z", vec![("x-forwarded-for", "fe80::1%1")]),
        ("/z", vec![("x-forwarded-for", "fe80::1%eth0")]),
    ];
    let diffs = compare(&w, "z", &cases);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

// ---------------------------------------------------------------------
// The request's life: a client gone mid-call, routes without a cluster.

#[test]
fn a_client_that_leaves_mid_call_is_forgotten_alike() {
    let w = world(&[("slow", json!({"timeout": "2s"}))]);
    w.rls.set_mode(Mode::Delay(Duration::from_millis(400)));
    let before = w.upstream.request_count();
    for side in ["native", "portico"] {
        let port = w.envoy.port(&format!("{side}-slow"));
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET /gone HTTP/1.1\r\nhost: x\r\nx-k: k1\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(w.rls.requests().len(), 2, "both asked");
    assert_eq!(w.upstream.request_count(), before, "nothing went upstream");
    w.rls.set_mode(Mode::Normal);
    let ((_, n), (_, p)) = both(&w, "slow", "/after", &[("x-k", "k1")]);
    assert_eq!(strip_counts(&p), strip_counts(&n));
    assert_eq!(n.status, 200);
    // Native cancels the call: the answer that comes late is not counted.
    for name in ["ok", "error"] {
        let n = w
            .envoy
            .stat(&format!("cluster.upstream.ratelimit.native.{name}"));
        let p = w.envoy.stat(&format!(
            "wasmcustom.cluster.upstream.ratelimit.portico.{name}"
        ));
        if Backend::current().shows_late_metrics() {
            assert_eq!(p.unwrap_or(0), n.unwrap_or(0), "{name}");
        } else {
            assert_eq!(
                p, None,
                "{name}: Envoy freezes a dynamic module's stats at load"
            );
        }
    }
}

#[test]
fn direct_responses_and_unknown_clusters_make_no_call_alike() {
    let routes = json!([
        {"match": {"prefix": "/direct"}, "direct_response": {"status": 200, "body": {"inline_string": "direct"}}},
        {"match": {"prefix": "/hdr"}, "route": {"cluster_header": "x-cluster"}},
        {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}
    ]);
    let w = world_routes(&[("r", json!({}))], Some(routes));
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/direct", vec![("x-k", "k1")]),
        ("/hdr", vec![("x-k", "k1"), ("x-cluster", "nope")]),
        ("/hdr", vec![("x-k", "k1"), ("x-cluster", "upstream")]),
        ("/hdr", vec![("x-k", "k1")]),
        ("/other", vec![("x-k", "k1")]),
    ];
    let diffs = compare(&w, "r", &cases);
    report("routes", cases.len(), &diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
}
