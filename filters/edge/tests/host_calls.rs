//! What a request through the whole edge chain costs in calls out of the VM
//! (see `filters/hello/tests/host_calls.rs` for why), with the chain of
//! `envoy/edge.yaml`: the three members share one read of each header map
//! and one reading of the clock per phase.

#![allow(clippy::expect_used)]

use portico::testing::TestHost;
use portico_edge::Edge;
use portico_jose::mint::Keys;
use serde_json::json;
use std::collections::BTreeMap;

#[test]
fn a_request_through_the_chain_reads_each_header_map_once() {
    let keys = Keys::generate(11).expect("keys");
    let now = 1_767_225_600i64;
    let claims = json!({"iss": "https://portico.example/dev", "sub": "alice", "aud": "portico-demo", "exp": now + 3600});
    let bearer = format!("Bearer {}", keys.token("RS256", &claims));
    let config = json!({"filters": [
        {"name": "jwt", "config": {
            "providers": {"portico_dev": {
                "issuer": "https://portico.example/dev",
                "audiences": ["portico-demo"],
                "local_jwks": {"inline_string": keys.jwks().to_string()},
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}],
                "jwt_cache_config": {"jwt_cache_size": 1000}
            }},
            "rules": [
                {"match": {"path": "/healthz"}},
                {"match": {"prefix": "/"}, "requires": {"provider_name": "portico_dev"}}
            ]}},
        {"name": "ratelimit", "config": {
            "stat_prefix": "per_user",
            "descriptors": [{
                "actions": [{"request_headers": {"header_name": "x-jwt-sub", "descriptor_key": "user"}}],
                "token_bucket": {"max_tokens": 5, "tokens_per_fill": 5, "fill_interval": "60s"}
            }],
            "token_bucket": {"max_tokens": 100, "tokens_per_fill": 100, "fill_interval": "1s"},
            "enable_x_ratelimit_headers": "DRAFT_VERSION_03"
        }},
        {"name": "headers", "config": {"mutations": {
            "request_mutations": [
                {"remove": "x-user-id"},
                {"append": {"header": {"key": "x-user-id", "value": "%REQ(x-jwt-sub)%"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
                {"remove": "x-jwt-sub"}
            ],
            "response_mutations": [
                {"remove": "x-powered-by"},
                {"remove": "x-envoy-upstream-service-time"},
                {"remove_on_match": {"key_matcher": {"prefix": "x-internal-"}}},
                {"append": {"header": {"key": "strict-transport-security", "value": "max-age=31536000; includeSubDomains"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
                {"append": {"header": {"key": "x-frame-options", "value": "DENY"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}
            ]}}}
    ]});
    let host = TestHost::new();
    let vm = host.vm::<Edge>(&config.to_string()).expect("config");
    let send = || {
        let ex = vm
            .get("/data")
            .header("authorization", &bearer)
            .header("x-user-id", "mallory")
            .upstream_response(200, &[("x-envoy-upstream-service-time", "1")], b"ok")
            .send();
        assert_eq!(ex.status(), 200);
        // What the members read from the shared copy is what they wrote.
        assert_eq!(ex.upstream_header("x-user-id").as_deref(), Some("alice"));
        assert_eq!(ex.upstream_header("x-jwt-sub"), None);
        assert_eq!(ex.response_header("x-envoy-upstream-service-time"), None);
        assert_eq!(
            ex.response_header("x-frame-options").as_deref(),
            Some("DENY")
        );
    };
    send();
    host.take_host_calls();
    send();
    let expected = BTreeMap::from([
        // jwt's claim header.
        ("add_header", 1),
        // jwt asks for the request map at once (`Headers::prefetch`), so
        // the request side makes no single reads; the response side's
        // first read goes to the host as itself, its second fetches the map.
        ("header", 1),
        // One copy of the request headers, one of the response headers.
        ("header_pairs", 2),
        // jwt (allowed, cache hit), ratelimit (two), headers (its request
        // and response sides counted together).
        ("increment_metric", 5),
        ("now", 1),
        // The token, x-user-id, x-jwt-sub on the request (jwt's removal of
        // a client-sent x-jwt-sub is answered by the copy: absent),
        // x-envoy-upstream-service-time on the response (made before the
        // copy is fetched, so made even though it is absent).
        ("remove_header", 4),
        // x-user-id; then two response headers and three x-ratelimit-*.
        ("set_header", 6),
        ("set_shared_data", 1),
        ("shared_data", 1),
    ]);
    assert_eq!(host.host_calls(), expected);
}
