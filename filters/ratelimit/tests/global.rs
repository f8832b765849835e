//! The global mode on the SDK's test host: the descriptors sent to the
//! Rate Limit Service, and what each of its answers does to the request.
//! The same behaviours run side by side with Envoy's own `ratelimit`
//! filter in `integration-tests/tests/ratelimit_global.rs`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use portico::testing::{TestHost, TestVm};
use portico_ratelimit::rls_proto::{
    code, unit, DescriptorStatus, Duration as PbDuration, HeaderValue, RateLimit, RateLimitRequest,
    RateLimitResponse,
};
use portico_ratelimit::RateLimiter;
use prost::Message;
use serde_json::{json, Value};
use std::time::Duration;

fn config(extra: Value) -> Value {
    let mut c = json!({
        "domain": "edge",
        "rate_limit_service": {
            "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}},
            "transport_api_version": "V3"
        },
        "descriptors": [
            {"actions": [{"request_headers": {"header_name": "x-api-key", "descriptor_key": "key"}}]},
            {"actions": [{"generic_key": {"descriptor_value": "all"}}], "hits_addend": {"number": 2}}
        ]
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

fn host() -> TestHost {
    let host = TestHost::new().with_cluster("rls");
    host.set_property(&["xds", "cluster_name"], b"backend");
    host
}

fn vm(host: &TestHost, config: &Value) -> TestVm<RateLimiter> {
    host.vm::<RateLimiter>(&config.to_string())
        .map_err(|e| e.to_string())
        .expect("config accepted")
}

/// The request the one pending call carries.
fn asked(host: &TestHost) -> (u32, RateLimitRequest) {
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1, "one call to the service");
    let call = calls.first().unwrap();
    let target = call.grpc.clone().expect("a gRPC call");
    assert_eq!(call.cluster, "rls");
    assert_eq!(
        (target.service.as_str(), target.method.as_str()),
        (
            "envoy.service.ratelimit.v3.RateLimitService",
            "ShouldRateLimit"
        )
    );
    (
        call.id,
        RateLimitRequest::decode(call.body.as_slice()).unwrap(),
    )
}

fn entries(r: &RateLimitRequest) -> Vec<Vec<(String, String)>> {
    r.descriptors
        .iter()
        .map(|d| {
            d.entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect()
        })
        .collect()
}

fn limited_status(remaining: u32) -> DescriptorStatus {
    DescriptorStatus {
        code: code::OK,
        current_limit: Some(RateLimit {
            requests_per_unit: 10,
            unit: unit::MINUTE,
            name: "per-key".into(),
        }),
        limit_remaining: remaining,
        duration_until_reset: Some(PbDuration {
            seconds: 30,
            nanos: 0,
        }),
    }
}

fn counter(host: &TestHost, name: &str) -> u64 {
    host.metric(name).unwrap_or(0)
}

#[test]
fn descriptors_are_sent_and_ok_lets_the_request_through_with_the_services_headers() {
    let host = host();
    let vm = vm(
        &host,
        &config(json!({"enable_x_ratelimit_headers": "DRAFT_VERSION_03"})),
    );
    let mut ex = vm
        .get("/")
        .header("x-api-key", "k1")
        .upstream_response(200, &[("x-up", "1")], b"ok")
        .send();
    assert!(ex.paused(), "the request waits for the service");
    let (id, request) = asked(&host);
    assert_eq!(request.domain, "edge");
    assert_eq!(
        entries(&request),
        vec![
            vec![("key".to_string(), "k1".to_string())],
            vec![("generic_key".to_string(), "all".to_string())]
        ]
    );
    assert_eq!(request.descriptors[0].hits_addend, None);
    assert_eq!(
        request.descriptors[1].hits_addend.as_ref().map(|h| h.value),
        Some(2)
    );
    assert_eq!(request.hits_addend, 0);
    let answer = RateLimitResponse {
        overall_code: code::OK,
        statuses: vec![limited_status(4), DescriptorStatus::default()],
        response_headers_to_add: vec![HeaderValue {
            key: "X-From-Rls".into(),
            value: "r".into(),
        }],
        request_headers_to_add: vec![HeaderValue {
            key: "x-quota".into(),
            value: "q".into(),
        }],
        raw_body: Vec::new(),
    };
    host.respond_grpc(id, &answer.encode_to_vec());
    ex.proceed();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.upstream_header("x-quota").as_deref(), Some("q"));
    assert_eq!(ex.response_header("x-from-rls").as_deref(), Some("r"));
    assert_eq!(
        ex.response_header("x-ratelimit-limit").as_deref(),
        Some("10, 10;w=60;name=\"per-key\"")
    );
    assert_eq!(
        ex.response_header("x-ratelimit-remaining").as_deref(),
        Some("4")
    );
    assert_eq!(
        ex.response_header("x-ratelimit-reset").as_deref(),
        Some("30")
    );
    assert_eq!(ex.response_header("x-envoy-ratelimited"), None);
    assert_eq!(counter(&host, "cluster.backend.ratelimit.ok"), 1);
}

#[test]
fn over_limit_is_a_429_with_the_services_body_and_headers() {
    let host = host();
    let vm = vm(
        &host,
        &config(json!({
            "stat_prefix": "edge",
            "response_headers_to_add": [{"header": {"key": "x-why", "value": "limited"}}]
        })),
    );
    let mut ex = vm.get("/").header("x-api-key", "k1").send();
    let (id, _) = asked(&host);
    let answer = RateLimitResponse {
        overall_code: code::OVER_LIMIT,
        statuses: vec![limited_status(0)],
        response_headers_to_add: vec![HeaderValue {
            key: "x-from-rls".into(),
            value: "r".into(),
        }],
        request_headers_to_add: Vec::new(),
        raw_body: b"slow down".to_vec(),
    };
    host.respond_grpc(id, &answer.encode_to_vec());
    if ex.paused() {
        ex.proceed();
    }
    assert_eq!(ex.status(), 429);
    assert!(!ex.reached_upstream());
    assert_eq!(ex.body(), "slow down");
    assert_eq!(
        ex.response_header("x-envoy-ratelimited").as_deref(),
        Some("true")
    );
    assert_eq!(ex.response_header("x-from-rls").as_deref(), Some("r"));
    assert_eq!(ex.response_header("x-why").as_deref(), Some("limited"));
    // Draft-03 headers are off unless asked for.
    assert_eq!(ex.response_header("x-ratelimit-limit"), None);
    assert_eq!(
        ex.local_reply().map(|r| r.details),
        Some("request_rate_limited".into())
    );
    assert_eq!(
        counter(&host, "cluster.backend.ratelimit.edge.over_limit"),
        1
    );
}

#[test]
fn not_enforced_over_limit_goes_upstream_marked() {
    let host = host();
    let vm = vm(
        &host,
        &config(json!({"filter_enforced": {"default_value": {"numerator": 0}}})),
    );
    let mut ex = vm.get("/").header("x-api-key", "k1").send();
    let (id, _) = asked(&host);
    let answer = RateLimitResponse {
        overall_code: code::OVER_LIMIT,
        ..Default::default()
    };
    host.respond_grpc(id, &answer.encode_to_vec());
    ex.proceed();
    assert!(ex.reached_upstream());
    assert_eq!(
        ex.response_header("x-envoy-ratelimited").as_deref(),
        Some("true")
    );
}

#[test]
fn failures_follow_failure_mode_deny() {
    for (deny, extra) in [
        (false, json!({})),
        (true, json!({"failure_mode_deny": true})),
        (
            true,
            json!({"failure_mode_deny": true, "status_on_error": {"code": 503}}),
        ),
    ] {
        for how in ["status", "timeout"] {
            let host = host();
            let vm = vm(&host, &config(extra.clone()));
            let mut ex = vm.get("/").header("x-api-key", "k1").send();
            let (id, _) = asked(&host);
            match how {
                "status" => host.fail_grpc(id, 14, "no healthy upstream"),
                // Native's default timeout is 20 ms.
                _ => host.advance(Duration::from_millis(25)),
            }
            if ex.paused() && ex.resumable() {
                ex.proceed();
            }
            assert_eq!(
                counter(&host, "cluster.backend.ratelimit.error"),
                1,
                "{how}"
            );
            if deny {
                let want = if extra.get("status_on_error").is_some() {
                    503
                } else {
                    500
                };
                assert_eq!(ex.status(), want, "{how} {extra}");
                assert!(!ex.reached_upstream());
                assert_eq!(
                    ex.local_reply().map(|r| r.details),
                    Some("rate_limiter_error".into())
                );
            } else {
                assert!(ex.reached_upstream(), "{how}");
                assert_eq!(
                    counter(&host, "cluster.backend.ratelimit.failure_mode_allowed"),
                    1
                );
            }
        }
    }
}

#[test]
fn an_unknown_overall_code_is_ok_as_in_native_even_when_failing_closed() {
    // Native's client limits only on `OVER_LIMIT`: `UNKNOWN` (0) or a code
    // it does not know goes on, counted `ok` (found side by side in Envoy).
    for overall_code in [0, 7] {
        let host = host();
        let vm = vm(&host, &config(json!({"failure_mode_deny": true})));
        let mut ex = vm.get("/").header("x-api-key", "k1").send();
        let (id, _) = asked(&host);
        let answer = RateLimitResponse {
            overall_code,
            ..RateLimitResponse::default()
        };
        host.respond_grpc(id, &answer.encode_to_vec());
        if ex.paused() && ex.resumable() {
            ex.proceed();
        }
        assert!(ex.reached_upstream(), "{overall_code}");
        assert_eq!(counter(&host, "cluster.backend.ratelimit.ok"), 1);
        assert_eq!(counter(&host, "cluster.backend.ratelimit.error"), 0);
    }
}

#[test]
fn a_descriptor_that_cannot_be_built_is_not_sent_and_one_with_every_entry_skipped_is_sent_empty() {
    let host = host();
    let only_key = json!({"descriptors": [
        {"actions": [
            {"generic_key": {"descriptor_value": "g"}},
            {"request_headers": {"header_name": "x-api-key", "descriptor_key": "key"}}
        ]},
        {"actions": [
            {"request_headers": {"header_name": "x-user", "descriptor_key": "user", "skip_if_absent": true}},
            {"request_headers": {"header_name": "x-team", "descriptor_key": "team", "skip_if_absent": true}}
        ]}
    ]});
    let vm = vm(&host, &config(only_key));
    // As native (pinned side by side in Envoy): the first descriptor drops
    // out, the second is sent with no entries.
    let mut ex = vm.get("/").send();
    let (id, request) = asked(&host);
    assert_eq!(entries(&request), vec![Vec::<(String, String)>::new()]);
    host.respond_grpc(
        id,
        &RateLimitResponse {
            overall_code: code::OK,
            ..Default::default()
        }
        .encode_to_vec(),
    );
    ex.proceed();
    let _ex = vm.get("/").header("x-team", "t").send();
    let calls = host.pending_calls();
    let call = calls.last().unwrap();
    let request = RateLimitRequest::decode(call.body.as_slice()).unwrap();
    assert_eq!(
        entries(&request),
        vec![vec![("team".to_string(), "t".to_string())]]
    );
}

#[test]
fn no_descriptor_means_no_call() {
    let host = host();
    let vm = vm(
        &host,
        &config(json!({"descriptors": [
            {"actions": [{"request_headers": {"header_name": "x-api-key", "descriptor_key": "key"}}]}
        ]})),
    );
    let ex = vm.get("/").send();
    assert!(ex.reached_upstream(), "nothing to ask: no call, no wait");
    assert!(host.calls_made().is_empty());
}

#[test]
fn requests_without_a_cluster_or_of_the_other_type_are_not_limited() {
    let host = TestHost::new().with_cluster("rls");
    let vm1 = vm(&host, &config(json!({})));
    let ex = vm1.get("/").header("x-api-key", "k").send();
    assert!(ex.reached_upstream(), "a direct response has no cluster");
    assert!(host.calls_made().is_empty());

    let host = self::host();
    let vm2 = vm(&host, &config(json!({"request_type": "external"})));
    let ex = vm2
        .get("/")
        .header("x-api-key", "k")
        .header("x-envoy-internal", "true")
        .send();
    assert!(ex.reached_upstream());
    assert!(host.calls_made().is_empty());
    let ex = vm2.get("/").header("x-api-key", "k").send();
    assert!(ex.paused());
}

fn refused(config: Value) -> String {
    TestHost::new()
        .vm::<RateLimiter>(&config.to_string())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| format!("<accepted: {config}>"))
}

#[test]
fn global_refusals_name_the_json_path() {
    let service = json!({"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V3"});
    let actions = json!([{"actions": [{"generic_key": {"descriptor_value": "g"}}]}]);
    let cases = [
        (
            json!({"rate_limit_service": service, "descriptors": actions}),
            "missing field `domain`",
        ),
        (
            json!({"domain": "", "rate_limit_service": service, "descriptors": actions}),
            "domain: must not be empty",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service}),
            "descriptors: needs at least one descriptor",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "rate_limits": actions}),
            "rate_limits: `descriptors` and `rate_limits` are one list",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "rate_limits": [{"match": {"prefix": "/"}}]}),
            "rate_limits[0].actions: needs at least one action",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}),
            "token_bucket: belongs to the local mode",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]}),
            "descriptors[0].token_bucket: belongs to the local mode",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "status": {"code": 429}}),
            "status: is `rate_limited_status` in the global mode",
        ),
        (
            json!({"domain": "d", "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V2"}, "descriptors": actions}),
            "rate_limit_service.transport_api_version: unknown variant `V2`",
        ),
        (
            json!({"domain": "d", "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}}, "descriptors": actions}),
            "rate_limit_service: missing field `transport_api_version`",
        ),
        (
            json!({"domain": "d", "rate_limit_service": {"grpc_service": {"google_grpc": {}}, "transport_api_version": "V3"}, "descriptors": actions}),
            "rate_limit_service.grpc_service.google_grpc: Envoy's Google gRPC client",
        ),
        (
            json!({"domain": "d", "rate_limit_service": {"grpc_service": {}, "transport_api_version": "V3"}, "descriptors": actions}),
            "rate_limit_service.grpc_service: needs `envoy_grpc`",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "hits_addend": {"format": "%BYTES%"}}]}),
            "descriptors[0].hits_addend.format: substitution formats are not supported",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "hits_addend": {"number": 1_000_000_001u64}}]}),
            "descriptors[0].hits_addend.number: must be at most 1000000000",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "stage": 2}]}),
            "descriptors[0].stage: only stage 0",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "timeout": "0s"}),
            "timeout: must be more than 0",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "request_type": "sometimes"}),
            "request_type: unknown variant",
        ),
        (
            json!({"domain": "d", "rate_limit_service": service, "descriptors": actions, "failure_mode_deny_percent": {}}),
            "failure_mode_deny_percent: is not supported",
        ),
        (
            json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}, "domain": "d"}),
            "domain: belongs to the global mode",
        ),
        (
            json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}, "failure_mode_deny": true}),
            "failure_mode_deny: belongs to the global mode",
        ),
    ];
    for (config, expected) in cases {
        let err = refused(config.clone());
        assert!(
            err.contains(expected),
            "config {config}\n  error: {err}\n  expected: {expected}"
        );
    }
}

#[test]
fn headers_no_message_could_carry_are_dropped() {
    let host = host();
    let vm = vm(&host, &config(json!({})));
    let mut ex = vm.get("/").header("x-api-key", "k1").send();
    let (id, _) = asked(&host);
    let bad = |key: &str, value: &str| HeaderValue {
        key: key.into(),
        value: value.into(),
    };
    let answer = RateLimitResponse {
        overall_code: code::OK,
        response_headers_to_add: vec![
            bad("x-split", "a\r\nx-injected: 1"),
            bad(":status", "500"),
            bad("bad name", "v"),
            bad("X-Good", "g"),
        ],
        request_headers_to_add: vec![bad("x-nul", "a\0b"), bad("x-fine", "f")],
        ..Default::default()
    };
    host.respond_grpc(id, &answer.encode_to_vec());
    ex.proceed();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.response_header("x-good").as_deref(), Some("g"));
    assert_eq!(ex.response_header("x-split"), None);
    assert_eq!(ex.response_header("x-injected"), None);
    assert_eq!(ex.response_header("bad name"), None);
    assert_eq!(ex.upstream_header("x-fine").as_deref(), Some("f"));
    assert_eq!(ex.upstream_header("x-nul"), None);
}
