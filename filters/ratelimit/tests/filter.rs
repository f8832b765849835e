//! `portico_ratelimit` on the SDK's test host: a fake clock and several
//! simulated worker VMs sharing one shared-data store, as in Envoy.
//! The same behaviours run in a real Envoy in `integration-tests/tests/ratelimit.rs`.

// Clippy's test allowances cover `#[test]` functions, not their helpers.
#![allow(clippy::expect_used)]

use portico::testing::{TestHost, TestVm};
use portico_ratelimit::RateLimiter;
use serde_json::{json, Value};
use std::time::Duration;

fn vm(host: &TestHost, config: &Value) -> TestVm<RateLimiter> {
    host.vm::<RateLimiter>(&config.to_string())
        .map_err(|e| e.to_string())
        .expect("config accepted")
}

fn refused(config: Value) -> String {
    TestHost::new()
        .vm::<RateLimiter>(&config.to_string())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| format!("<accepted: {config}>"))
}

fn default_bucket(max: u32, per_fill: u32, interval: &str) -> Value {
    json!({
        "stat_prefix": "rl",
        "token_bucket": {"max_tokens": max, "tokens_per_fill": per_fill, "fill_interval": interval}
    })
}

/// Sends `n` requests with `headers` through `vm`; returns how many passed.
fn passed(vm: &TestVm<RateLimiter>, path: &str, headers: &[(&str, &str)], n: usize) -> usize {
    (0..n)
        .filter(|_| {
            let mut req = vm.get(path);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().reached_upstream()
        })
        .count()
}

#[test]
fn a_burst_gets_max_tokens_then_429_local_rate_limited() {
    let host = TestHost::new();
    let vm = vm(&host, &default_bucket(5, 1, "60s"));
    assert_eq!(passed(&vm, "/", &[], 5), 5);
    let limited = vm.get("/").send();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.body(), "local_rate_limited");
    assert_eq!(
        limited.response_header("content-type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(
        limited.response_header("retry-after").as_deref(),
        Some("60")
    );
    assert_eq!(passed(&vm, "/", &[], 10), 0);
    assert_eq!(host.metric("rl.http_local_rate_limit.enabled"), Some(16));
    assert_eq!(host.metric("rl.http_local_rate_limit.ok"), Some(5));
    assert_eq!(
        host.metric("rl.http_local_rate_limit.rate_limited"),
        Some(11)
    );
    assert_eq!(host.metric("rl.http_local_rate_limit.enforced"), Some(11));
}

#[test]
fn refill_follows_the_clock_up_to_max_tokens() {
    let host = TestHost::new();
    let vm = vm(&host, &default_bucket(4, 2, "10s"));
    assert_eq!(passed(&vm, "/", &[], 10), 4);
    host.advance(Duration::from_secs(5));
    assert_eq!(
        passed(&vm, "/", &[], 10),
        1,
        "half an interval: one of the two tokens"
    );
    host.advance(Duration::from_secs(10));
    assert_eq!(passed(&vm, "/", &[], 10), 2);
    host.advance(Duration::from_secs(3600));
    assert_eq!(passed(&vm, "/", &[], 10), 4, "never more than max_tokens");
}

#[test]
fn worker_vms_share_one_bucket() {
    let host = TestHost::new();
    let config = default_bucket(10, 1, "60s");
    let workers: Vec<_> = (0..3).map(|_| vm(&host, &config)).collect();
    let mut total = 0;
    for round in 0..10 {
        for w in &workers {
            total += passed(w, &format!("/{round}"), &[], 1);
        }
    }
    assert_eq!(total, 10);
}

#[test]
fn one_random_secret_per_process_shared_by_every_vm() {
    const SECRET: &str = "portico.ratelimit|secret";
    let host = TestHost::new();
    let first = vm(&host, &default_bucket(1, 1, "1s"));
    let secret = host.shared_data(SECRET).expect("created at configure");
    assert_eq!(secret.len(), 16);
    // Later VMs, with this or another configuration, read it; nobody
    // replaces it.
    let _second = vm(&host, &default_bucket(1, 1, "1s"));
    let _other = vm(&host, &default_bucket(7, 1, "1s"));
    assert_eq!(host.shared_data(SECRET), Some(secret.clone()));
    // Per-key buckets placed by one VM are found by another.
    let keyed = per_key(
        json!([{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]),
        3,
    );
    let workers: Vec<_> = (0..3).map(|_| vm(&host, &keyed)).collect();
    let total: usize = (0..4)
        .flat_map(|_| workers.iter())
        .map(|w| passed(w, "/", &[("x-k", "shared")], 1))
        .sum();
    assert_eq!(total, 3);
    // Another process draws another secret.
    let other = TestHost::new();
    let _vm = vm(&other, &default_bucket(1, 1, "1s"));
    assert_ne!(other.shared_data(SECRET), Some(secret));
    drop(first);
}

#[test]
fn cas_conflicts_are_retried_without_losing_or_granting_tokens() {
    let host = TestHost::new();
    let config = default_bucket(6, 1, "60s");
    let a = vm(&host, &config);
    let b = vm(&host, &config);
    let mut total = 0;
    for i in 0..20 {
        host.inject_cas_conflicts(3);
        total += passed(if i % 2 == 0 { &a } else { &b }, "/", &[], 1);
    }
    assert_eq!(total, 6);
    assert_eq!(host.metric("rl.http_local_rate_limit.errors"), Some(0));
}

fn per_key(actions: Value, max: u32) -> Value {
    json!({
        "stat_prefix": "rl",
        "descriptors": [{
            "actions": actions,
            "token_bucket": {"max_tokens": max, "fill_interval": "60s"}
        }]
    })
}

#[test]
fn each_key_has_its_own_bucket() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        &per_key(
            json!([{"request_headers": {"header_name": "x-api-key", "descriptor_key": "api_key"}}]),
            3,
        ),
    );
    assert_eq!(passed(&vm, "/", &[("x-api-key", "alice")], 10), 3);
    assert_eq!(passed(&vm, "/", &[("x-api-key", "bob")], 10), 3);
    assert_eq!(passed(&vm, "/", &[("x-api-key", "alice")], 10), 0);
    // No key, no rule, no default bucket: not limited.
    assert_eq!(passed(&vm, "/", &[], 10), 10);
}

#[test]
fn every_action_builds_the_key() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        &per_key(
            json!([
                {"generic_key": {"descriptor_value": "api"}},
                {"remote_address": {}},
                {"query_parameter": {"name": "tenant"}},
                {"header_value_match": {"descriptor_value": "post", "headers": [{"name": ":method", "string_match": {"exact": "GET"}}], "expect_match": false}}
            ]),
            2,
        ),
    );
    let send = |path: &str, method: &str, source: &str| {
        vm.request(method, path)
            .source(source)
            .send()
            .reached_upstream()
    };
    assert!(send("/?tenant=a", "POST", "10.0.0.1:1000"));
    assert!(
        send("/?tenant=a", "POST", "10.0.0.1:2000"),
        "the port is not part of the address"
    );
    assert!(!send("/?tenant=a", "POST", "10.0.0.1:3000"));
    assert!(
        send("/?tenant=b", "POST", "10.0.0.1:1000"),
        "another tenant"
    );
    assert!(
        send("/?tenant=a", "POST", "10.0.0.2:1000"),
        "another client"
    );
    // A GET does not produce the descriptor (expect_match false), a request
    // without the parameter neither: no bucket applies.
    assert!((0..5).all(|_| send("/?tenant=a", "GET", "10.0.0.1:1000")));
    assert!((0..5).all(|_| send("/", "POST", "10.0.0.1:1000")));
}

#[test]
fn skip_if_absent_and_first_claiming_rule_then_default() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        &json!({
            "stat_prefix": "rl",
            "token_bucket": {"max_tokens": 1, "fill_interval": "60s"},
            "descriptors": [
                {"match": {"prefix": "/login"},
                 "actions": [{"generic_key": {"descriptor_value": "login"}}],
                 "token_bucket": {"max_tokens": 2, "fill_interval": "60s"}},
                {"actions": [{"request_headers": {"header_name": "x-user", "descriptor_key": "user"}},
                             {"request_headers": {"header_name": "x-org", "descriptor_key": "org", "skip_if_absent": true}}],
                 "token_bucket": {"max_tokens": 3, "fill_interval": "60s"}}
            ]
        }),
    );
    assert_eq!(
        passed(&vm, "/login", &[("x-user", "u")], 10),
        2,
        "first matching rule"
    );
    assert_eq!(passed(&vm, "/api", &[("x-user", "u")], 10), 3);
    assert_eq!(
        passed(&vm, "/api", &[("x-user", "u"), ("x-org", "o")], 10),
        3,
        "x-org makes another key"
    );
    assert_eq!(
        passed(&vm, "/api", &[], 10),
        1,
        "no rule claims it: the default bucket"
    );
}

#[test]
fn xff_num_trusted_hops_picks_the_client_from_x_forwarded_for() {
    let host = TestHost::new();
    let mut config = per_key(json!([{"remote_address": {}}]), 1);
    config["xff_num_trusted_hops"] = json!(1);
    let vm = vm(&host, &config);
    let send = |xff: &str| {
        vm.get("/")
            .header("x-forwarded-for", xff)
            .source("10.9.9.9:1")
            .send()
            .reached_upstream()
    };
    assert!(send("1.1.1.1, 2.2.2.2"));
    assert!(
        !send("3.3.3.3, 2.2.2.2"),
        "same right-most hop: same client"
    );
    assert!(send("1.1.1.1, 4.4.4.4"));
    // Spellings of one address are one client; what is not an address is
    // replaced by the downstream address, as Envoy does.
    assert!(send("2001:db8::1"));
    assert!(!send("2001:0db8:0000::0001"));
    assert!(send("garbage"));
    assert!(!send("other garbage"), "both are 10.9.9.9");
}

#[test]
fn masked_remote_address_keys_by_network() {
    let host = TestHost::new();
    let config = per_key(
        json!([{"masked_remote_address": {"v4_prefix_mask_len": 24, "v6_prefix_mask_len": 64}}]),
        2,
    );
    let vm = vm(&host, &config);
    let from = |source: &str, n: usize| {
        (0..n)
            .filter(|_| vm.get("/").source(source).send().reached_upstream())
            .count()
    };
    // Two addresses of one /64 share a bucket; the next /64 has its own.
    assert_eq!(from("[2001:db8:1:2::a]:1000", 1), 1);
    assert_eq!(from("[2001:db8:1:2:ffff:ffff:ffff:ffff]:1000", 5), 1);
    assert_eq!(from("[2001:db8:1:3::a]:1000", 5), 2);
    // IPv4 by /24.
    assert_eq!(from("192.0.2.1:1", 1), 1);
    assert_eq!(from("192.0.2.254:1", 5), 1);
    assert_eq!(from("192.0.3.1:1", 5), 2);
    // The defaults keep the whole address.
    let host = TestHost::new();
    let vm = self::vm(&host, &per_key(json!([{"masked_remote_address": {}}]), 1));
    let from = |source: &str| vm.get("/").source(source).send().reached_upstream();
    assert!(from("[2001:db8::1]:1"));
    assert!(from("[2001:db8::2]:1"));
    assert!(!from("[2001:db8::2]:1"));
}

#[test]
fn masked_remote_address_reads_x_forwarded_for_and_ignores_garbage_in_it() {
    let host = TestHost::new();
    let mut config = per_key(
        json!([{"masked_remote_address": {"v6_prefix_mask_len": 48}}]),
        1,
    );
    config["xff_num_trusted_hops"] = json!(1);
    let vm = vm(&host, &config);
    let send = |xff: &str| {
        vm.get("/")
            .header("x-forwarded-for", xff)
            .source("10.9.9.9:1")
            .send()
            .reached_upstream()
    };
    assert!(send("2001:db8:aa:1::1"));
    assert!(!send("2001:db8:aa:ffff::9"), "same /48");
    // Not an address: the downstream address is the client, as in Envoy.
    assert!(send("not-an-ip"));
    assert!(!send("also-not-an-ip"));
}

#[test]
fn shadow_mode_counts_and_reports_but_never_rejects() {
    let host = TestHost::new();
    let mut config = default_bucket(2, 1, "60s");
    config["filter_enforced"] =
        json!({"default_value": {"numerator": 0, "denominator": "HUNDRED"}, "runtime_key": "x"});
    config["enable_x_ratelimit_headers"] = json!("DRAFT_VERSION_03");
    let vm = vm(&host, &config);
    let replies: Vec<_> = (0..4).map(|_| vm.get("/").send()).collect();
    assert!(replies
        .iter()
        .all(|r| r.reached_upstream() && r.status() == 200));
    let remaining: Vec<_> = replies
        .iter()
        .map(|r| {
            r.response_header("x-ratelimit-remaining")
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(remaining, vec!["1", "0", "0", "0"]);
    assert_eq!(
        host.metric("rl.http_local_rate_limit.rate_limited"),
        Some(2)
    );
    assert_eq!(host.metric("rl.http_local_rate_limit.enforced"), Some(0));
}

#[test]
fn x_ratelimit_headers_like_envoy() {
    let host = TestHost::new();
    let mut config = default_bucket(3, 1, "10s");
    config["enable_x_ratelimit_headers"] = json!("DRAFT_VERSION_03");
    let vm = vm(&host, &config);
    let seen: Vec<(u16, String, String, String)> = (0..4)
        .map(|_| {
            let r = vm.get("/").send();
            let h = |n: &str| r.response_header(n).unwrap_or_default();
            (
                r.status(),
                h("x-ratelimit-limit"),
                h("x-ratelimit-remaining"),
                h("x-ratelimit-reset"),
            )
        })
        .collect();
    let expected = [
        (200, "3", "2", "0"),
        (200, "3", "1", "0"),
        (200, "3", "0", "10"),
        (429, "3", "0", "10"),
    ];
    for (got, want) in seen.iter().zip(expected) {
        assert_eq!(
            (got.0, got.1.as_str(), got.2.as_str(), got.3.as_str()),
            want
        );
    }
}

#[test]
fn custom_status_and_headers_on_the_limited_response() {
    let host = TestHost::new();
    let mut config = default_bucket(1, 1, "1s");
    config["status"] = json!({"code": "ServiceUnavailable"});
    config["response_headers_to_add"] = json!([{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD", "header": {"key": "X-Local-Rate-Limit", "value": "true"}}]);
    let vm = vm(&host, &config);
    let ok = vm.get("/").send();
    assert_eq!(ok.response_header("x-local-rate-limit"), None);
    let limited = vm.get("/").send();
    assert_eq!(limited.status(), 503);
    assert_eq!(
        limited.response_header("x-local-rate-limit").as_deref(),
        Some("true")
    );
    assert_eq!(limited.response_header("retry-after").as_deref(), Some("1"));
}

/// Slots of the shared table holding a bucket.
fn occupied(host: &TestHost) -> usize {
    host.shared_data_keys()
        .iter()
        .filter(|k| k.starts_with("portico.ratelimit|slot|"))
        .filter(|k| host.shared_data(k).is_some_and(|v| !v.is_empty()))
        .count()
}

#[test]
fn a_full_table_evicts_the_bucket_nearest_to_full_so_new_keys_always_get_one() {
    let host = TestHost::new();
    let mut config = per_key(
        json!([{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]),
        2,
    );
    config["max_buckets"] = json!(4);
    config["descriptors"][0]["token_bucket"]["fill_interval"] = json!("10s");
    let vm = vm(&host, &config);
    // "a" drained; b, c, d one token used each: four live buckets.
    assert_eq!(passed(&vm, "/", &[("x-k", "a")], 5), 2);
    for k in ["b", "c", "d"] {
        assert_eq!(passed(&vm, "/", &[("x-k", k)], 1), 1);
    }
    assert_eq!(occupied(&host), 4);
    // Every never-seen key gets a fresh bucket: its first request passes.
    for k in 0..50 {
        let key = format!("new-{k}");
        assert_eq!(passed(&vm, "/", &[("x-k", &key)], 1), 1, "{key}");
    }
    assert_eq!(
        host.metric("rl.http_local_rate_limit.buckets_evicted"),
        Some(50)
    );
    assert_eq!(occupied(&host), 4, "the table does not grow");
    // A drained bucket is the last to be evicted: "a" is still limited.
    assert_eq!(passed(&vm, "/", &[("x-k", "a")], 1), 0);
    // After a full refill the sweep timer empties every slot.
    host.advance(Duration::from_secs(21));
    assert_eq!(occupied(&host), 0);
}

#[test]
fn a_flood_of_distinct_keys_never_makes_a_fresh_keys_first_request_429() {
    let host = TestHost::new();
    let mut config = per_key(
        json!([{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]),
        1,
    );
    config["max_buckets"] = json!(64);
    config["descriptors"][0]["token_bucket"]["fill_interval"] = json!("3600s");
    let vm = vm(&host, &config);
    for i in 0..5_000 {
        let key = format!("flood-{i}");
        passed(&vm, "/", &[("x-k", &key)], 2);
    }
    assert_eq!(passed(&vm, "/", &[("x-k", "victim")], 1), 1);
}

#[test]
fn a_new_configuration_reuses_the_table_and_sees_none_of_the_old_buckets() {
    let host = TestHost::new();
    let keyed = |max: u32| {
        let mut c = per_key(
            json!([{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]),
            max,
        );
        c["max_buckets"] = json!(100);
        c
    };
    let old = vm(&host, &keyed(3));
    assert_eq!(passed(&old, "/", &[("x-k", "alice")], 5), 3);
    let keys = host.shared_data_keys().len();
    // Ten changed configurations: the same keys, no new table.
    for max in 4..14 {
        let new = vm(&host, &keyed(max));
        // The old configuration's drained bucket does not leak in.
        assert_eq!(
            passed(&new, "/", &[("x-k", "alice")], 20),
            max as usize,
            "max {max}"
        );
    }
    assert_eq!(host.shared_data_keys().len(), keys);
    // A larger table adds only the missing slots.
    let mut big = keyed(1);
    big["max_buckets"] = json!(150);
    let _big = vm(&host, &big);
    assert_eq!(host.shared_data_keys().len(), keys + 50);
    // Two configurations in use at once keep their own buckets.
    assert_eq!(passed(&old, "/", &[("x-k", "alice")], 5), 0);
}

#[test]
fn the_clock_stepping_back_an_hour_counts_as_no_time_passed() {
    let host = TestHost::new();
    let mut config = per_key(
        json!([{"request_headers": {"header_name": "x-k", "descriptor_key": "k"}}]),
        100,
    );
    config["descriptors"][0]["token_bucket"]["tokens_per_fill"] = json!(100);
    config["descriptors"][0]["token_bucket"]["fill_interval"] = json!("60s");
    let vm = vm(&host, &config);
    assert_eq!(passed(&vm, "/", &[("x-k", "k")], 1), 1);
    host.step_back(Duration::from_secs(3600));
    // Still 99 tokens: not refused for an hour, no bonus either.
    let first = vm.get("/").header("x-k", "k").send();
    assert!(first.reached_upstream());
    assert_eq!(passed(&vm, "/", &[("x-k", "k")], 200), 98);
    let limited = vm.get("/").header("x-k", "k").send();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.response_header("retry-after").as_deref(), Some("1"));
    // Refill runs on from the new reading: 60 s later it is full again.
    host.advance(Duration::from_secs(60));
    assert_eq!(passed(&vm, "/", &[("x-k", "k")], 200), 100);
}

/// difffuzz finding 5: with a bucket of more tokens than the clock had
/// intervals to fill since its origin, a new bucket started part-empty
/// (1 000 000 per hour: 498 975 remaining on the first request).
#[test]
fn a_huge_bucket_starts_full() {
    let host = TestHost::new();
    let mut config = default_bucket(1_000_000, 1, "3600s");
    config["enable_x_ratelimit_headers"] = json!("DRAFT_VERSION_03");
    config["always_consume_default_token_bucket"] = json!(false);
    let vm = vm(&host, &config);
    let first = vm.get("/").send();
    assert_eq!(
        first.response_header("x-ratelimit-remaining").as_deref(),
        Some("999999")
    );
}

#[test]
fn disabled_filter_does_nothing() {
    let host = TestHost::new();
    let mut config = default_bucket(1, 1, "60s");
    config["filter_enabled"] = json!({"default_value": {"numerator": 0}});
    let vm = vm(&host, &config);
    assert_eq!(passed(&vm, "/", &[], 5), 5);
    assert_eq!(host.metric("rl.http_local_rate_limit.enabled"), Some(0));
}

#[test]
fn refusals_name_the_json_path() {
    let bucket = json!({"max_tokens": 1, "fill_interval": "1s"});
    let cases = [
        (json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 0, "fill_interval": "1s"}}), "token_bucket.max_tokens: must be at least 1"),
        (json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "fill_interval": "0s"}}), "token_bucket.fill_interval: must be at least 50ms"),
        (json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "tokens_per_fill": 0, "fill_interval": "1s"}}), "token_bucket.tokens_per_fill: must be at least 1"),
        (json!({"stat_prefix": "rl", "token_bucket": {"max_tokens": 1, "fill_interval": "soon"}}), "token_bucket.fill_interval"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"launch_rockets": {}}], "token_bucket": bucket}]}), "descriptors[0].actions[0]: unknown variant `launch_rockets`"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"destination_cluster": {}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].destination_cluster: this action is not supported by Portico; supported: request_headers"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"request_headers": {"header_name": "x-a", "descriptor_key": ""}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].request_headers.descriptor_key: must not be empty"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"request_headers": {"header_name": "bad name", "descriptor_key": "k"}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].request_headers.header_name: \"bad name\" is not a valid header name"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"query_parameter": {"name": ""}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].query_parameter.name: must not be empty"),
        (json!({"stat_prefix": "rl", "descriptors": [{"token_bucket": bucket}]}), "descriptors[0]: needs `actions`, a `match`, or both"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "stage": 1}), "stage: only stage 0 is supported"),
        (json!({"stat_prefix": "a b", "token_bucket": bucket}), "stat_prefix: must be non-empty and without spaces"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "response_headers_to_add": [{"header": {"key": "x", "value": "a\nb"}}]}), "response_headers_to_add[0].header.value: must not contain CR, LF or NUL"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "filter_enabled": {"default_value": {"numerator": 1, "denominator": "BILLION"}}}), "filter_enabled.default_value.denominator: unknown denominator"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "status": {"code": "Teapot"}}), "status.code: unknown status name \"Teapot\""),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"generic_key": {"descriptor_value": "x"}}]}]}), "descriptors[0].token_bucket: missing field `token_bucket`"),
        (json!({"stat_prefix": "rl", "descriptors": [{"entries": [{"key": "k", "value": "v"}], "token_bucket": bucket}]}), "descriptors[0].entries: Envoy's `entries` need route-level"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "local_rate_limit_per_downstream_connection": true}), "local_rate_limit_per_downstream_connection: per-connection buckets are not supported"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "filter_enforced": {"default_value": {"numerator": 50}}}), "filter_enforced.default_value.numerator: Portico applies a limit to all requests or none"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "status": {"code": 200}}), "status.code: 200 is not a 4xx or 5xx status"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "max_buckets": 0}), "max_buckets: must be between 1 and"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "always_consume_default_token_bucket": true}), "always_consume_default_token_bucket: `true` is not supported by Portico"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "enable_x_ratelimit_headers": "DRAFT_VERSION_99"}), "enable_x_ratelimit_headers: unknown variant"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "response_headers_to_add": [{"header": {"key": "bad key", "value": "v"}}]}), "response_headers_to_add[0].header.key"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"masked_remote_address": {"v4_prefix_mask_len": 33}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].masked_remote_address.v4_prefix_mask_len: prefix length 33 is out of range: 0 to 32 bits"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"masked_remote_address": {"v6_prefix_mask_len": 129}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].masked_remote_address.v6_prefix_mask_len: prefix length 129 is out of range: 0 to 128 bits"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"masked_remote_address": {"v6_prefix_mask_len": -1}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].masked_remote_address.v6_prefix_mask_len"),
        (json!({"stat_prefix": "rl", "descriptors": [{"actions": [{"masked_remote_address": {"v4_mask": 8}}], "token_bucket": bucket}]}), "descriptors[0].actions[0].masked_remote_address.v4_mask: unknown field `v4_mask`"),
        (json!({"stat_prefix": "rl"}), "nothing to limit"),
        (json!({"token_bucket": bucket}), "missing field `stat_prefix`"),
        (json!({"stat_prefix": "rl", "token_bucket": bucket, "tokens": 1}), "unknown field `tokens`"),
    ];
    for (config, expected) in cases {
        let err = refused(config.clone());
        assert!(
            err.contains(expected),
            "config {config}\n  error: {err}\n  expected: {expected}"
        );
    }
}
