//! `portico_edge` on the test host: the three filters as one chain, with
//! the configuration of `envoy/edge.yaml` (minted keys instead of the dev
//! key), and errors named by their path in the `filters` list.

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use portico::testing::{TestHost, TestVm};
use portico_edge::Edge;
use portico_jose::mint::Keys;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::generate(11).expect("keys"))
}

/// The test host's clock: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn token(sub: &str) -> String {
    keys().token(
        "RS256",
        &json!({"iss": "https://portico.example/dev", "sub": sub, "aud": "portico-demo", "exp": NOW + 3600}),
    )
}

fn jwt() -> Value {
    json!({
        "providers": {"portico_dev": {
            "issuer": "https://portico.example/dev",
            "audiences": ["portico-demo"],
            "local_jwks": {"inline_string": keys().jwks().to_string()},
            "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}],
            "jwt_cache_config": {"jwt_cache_size": 1000}
        }},
        "rules": [
            {"match": {"path": "/healthz"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "portico_dev"}}
        ]
    })
}

fn ratelimit() -> Value {
    json!({
        "stat_prefix": "per_user",
        "descriptors": [{
            "actions": [{"request_headers": {"header_name": "x-jwt-sub", "descriptor_key": "user"}}],
            "token_bucket": {"max_tokens": 5, "tokens_per_fill": 5, "fill_interval": "60s"}
        }],
        "token_bucket": {"max_tokens": 100, "tokens_per_fill": 100, "fill_interval": "1s"},
        "enable_x_ratelimit_headers": "DRAFT_VERSION_03"
    })
}

fn headers() -> Value {
    json!({"mutations": {
        "request_mutations": [
            {"remove": "x-user-id"},
            {"append": {"header": {"key": "x-user-id", "value": "%REQ(x-jwt-sub)%"},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"remove": "x-jwt-sub"}
        ],
        "response_mutations": [
            {"remove": "x-powered-by"},
            {"append": {"header": {"key": "x-frame-options", "value": "DENY"},
                        "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}}
        ]
    }})
}

fn edge_config() -> Value {
    json!({"filters": [
        {"name": "jwt", "config": jwt()},
        {"name": "ratelimit", "config": ratelimit()},
        {"name": "headers", "config": headers()}
    ]})
}

fn vm(host: &TestHost, config: &Value) -> TestVm<Edge> {
    host.vm::<Edge>(&config.to_string())
        .map_err(|e| e.to_string())
        .expect("config accepted")
}

#[test]
fn a_valid_token_passes_all_three_filters() {
    let host = TestHost::new();
    let vm = vm(&host, &edge_config());
    let ex = vm
        .get("/data")
        .header("authorization", &format!("Bearer {}", token("alice")))
        .header("x-user-id", "mallory")
        .upstream_response(200, &[("x-powered-by", "php")], b"ok")
        .send();
    assert_eq!(ex.status(), 200);
    // jwt forwarded the sub, headers turned it into x-user-id and removed it.
    assert_eq!(ex.upstream_header("x-user-id").as_deref(), Some("alice"));
    assert_eq!(ex.upstream_header("x-jwt-sub"), None);
    assert_eq!(ex.upstream_header("authorization"), None);
    // The response went back through headers and ratelimit.
    assert_eq!(
        ex.response_header("x-frame-options").as_deref(),
        Some("DENY")
    );
    assert_eq!(ex.response_header("x-powered-by"), None);
    assert_eq!(
        ex.response_header("x-ratelimit-limit").as_deref(),
        Some("5")
    );
    assert_eq!(
        ex.response_header("x-ratelimit-remaining").as_deref(),
        Some("4")
    );
}

#[test]
fn a_401_from_jwt_skips_the_later_filters() {
    let host = TestHost::new();
    let vm = vm(&host, &edge_config());
    let ex = vm.get("/data").send();
    assert_eq!(ex.status(), 401);
    assert!(!ex.reached_upstream());
    // As in the three-module chain: the reply passes back through jwt only.
    assert_eq!(ex.response_header("x-frame-options"), None);
    assert_eq!(ex.response_header("x-ratelimit-limit"), None);
    assert_eq!(
        host.metric("per_user.http_local_rate_limit.enabled")
            .unwrap_or(0),
        0
    );
}

#[test]
fn the_per_user_limit_answers_429_through_jwt_only() {
    let host = TestHost::new();
    let vm = vm(&host, &edge_config());
    let alice = format!("Bearer {}", token("alice"));
    for _ in 0..5 {
        let ex = vm.get("/data").header("authorization", &alice).send();
        assert_eq!(ex.status(), 200);
    }
    let ex = vm.get("/data").header("authorization", &alice).send();
    assert_eq!(ex.status(), 429);
    assert!(!ex.reached_upstream());
    assert_eq!(
        ex.response_header("x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(
        ex.response_header("x-frame-options"),
        None,
        "headers comes after ratelimit"
    );
    // Another user has a bucket of their own.
    let bob = format!("Bearer {}", token("bob"));
    assert_eq!(
        vm.get("/data")
            .header("authorization", &bob)
            .send()
            .status(),
        200
    );
    // /healthz needs no token; without a sub the per-user descriptor does not apply.
    assert_eq!(vm.get("/healthz").send().status(), 200);
}

#[test]
fn a_subset_of_the_filters_is_a_shorter_chain() {
    let host = TestHost::new();
    let config = json!({"filters": [{"name": "headers", "config": headers()}]});
    let vm = vm(&host, &config);
    let ex = vm.get("/data").header("x-user-id", "mallory").send();
    assert_eq!(ex.status(), 200, "no jwt member: no token needed");
    assert_ne!(ex.upstream_header("x-user-id").as_deref(), Some("mallory"));
    assert_eq!(
        ex.response_header("x-frame-options").as_deref(),
        Some("DENY")
    );

    let config = json!({"filters": [{"name": "jwt", "config": jwt()}, {"name": "headers", "config": headers()}]});
    let vm = self::vm(&host, &config);
    let ex = vm
        .get("/data")
        .header("authorization", &format!("Bearer {}", token("carol")))
        .send();
    assert_eq!(ex.upstream_header("x-user-id").as_deref(), Some("carol"));
    assert_eq!(ex.response_header("x-ratelimit-limit"), None);
}

fn refused(config: &Value) -> String {
    match TestHost::new().vm::<Edge>(&config.to_string()) {
        Ok(_) => format!("accepted: {config}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn errors_name_the_path_in_the_filters_list() {
    let mut config = edge_config();
    config["filters"][1]["config"]["token_bucket"]["max_tokens"] = json!(0);
    let err = refused(&config);
    assert!(
        err.starts_with("filters[1].config.token_bucket.max_tokens: "),
        "{err}"
    );

    let mut config = edge_config();
    config["filters"][0]["config"]["providers"]["portico_dev"]["issuer"] = json!(7);
    let err = refused(&config);
    assert!(
        err.starts_with(
            "filters[0].config.providers.portico_dev.issuer: invalid type: integer `7`"
        ),
        "{err}"
    );

    let mut config = edge_config();
    config["filters"][2]["config"]["mutations"]["request_mutations"][0] =
        json!({"remove": "bad header"});
    let err = refused(&config);
    assert!(
        err.starts_with("filters[2].config.mutations.request_mutations[0].remove: "),
        "{err}"
    );

    let config =
        json!({"filters": [{"name": "jwt", "config": jwt()}, {"name": "ext_authz", "config": {}}]});
    assert_eq!(
        refused(&config),
        "filters[1].name: unknown filter `ext_authz`; this module runs jwt, ratelimit, headers"
    );

    let config = json!({"filters": [{"name": "headers", "config": headers()}, {"name": "jwt", "config": jwt()}]});
    let err = refused(&config);
    assert!(
        err.starts_with("filters[1].name: `jwt` must come before `headers`"),
        "{err}"
    );

    let config =
        json!({"filters": [{"name": "jwt", "config": jwt()}, {"name": "jwt", "config": jwt()}]});
    assert_eq!(refused(&config), "filters[1].name: `jwt` is listed twice");

    assert!(refused(&json!({"filters": []})).starts_with("filters: lists no filter"));
    assert!(refused(&json!({"providers": {}})).starts_with("providers: unknown field `providers`"));
}
