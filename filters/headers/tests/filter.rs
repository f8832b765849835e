//! `portico_headers` on the SDK's test host: every operation, append action,
//! substitution command and refusal. The same behaviours run through a real
//! Envoy (side by side with native `header_mutation`) in
//! `integration-tests/tests/headers.rs`.

// Clippy's test allowances cover `#[test]` functions, not their helpers.
#![allow(clippy::expect_used)]

use portico::testing::TestHost;
use portico_headers::HeaderRewriter;
use serde_json::json;

fn vm(host: &TestHost, config: serde_json::Value) -> portico::testing::TestVm<HeaderRewriter> {
    host.vm::<HeaderRewriter>(&config.to_string())
        .map_err(|e| e.to_string())
        .expect("config accepted")
}

fn refused(config: serde_json::Value) -> String {
    let host = TestHost::new();
    host.vm::<HeaderRewriter>(&config.to_string())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| format!("<accepted: {config}>"))
}

fn request(ops: serde_json::Value) -> serde_json::Value {
    json!({"mutations": {"request_mutations": ops}})
}

fn response(ops: serde_json::Value) -> serde_json::Value {
    json!({"mutations": {"response_mutations": ops}})
}

#[test]
fn each_append_action_on_absent_single_and_repeated_headers() {
    let cases = [
        (
            "APPEND_IF_EXISTS_OR_ADD",
            vec!["new"],
            vec!["a", "new"],
            vec!["a", "b", "new"],
        ),
        ("ADD_IF_ABSENT", vec!["new"], vec!["a"], vec!["a", "b"]),
        (
            "OVERWRITE_IF_EXISTS_OR_ADD",
            vec!["new"],
            vec!["new"],
            vec!["new"],
        ),
        ("OVERWRITE_IF_EXISTS", vec![], vec!["new"], vec!["new"]),
    ];
    for (action, absent, single, repeated) in cases {
        let host = TestHost::new();
        let vm = vm(
            &host,
            request(
                json!([{"append": {"header": {"key": "x-h", "value": "new"}, "append_action": action}}]),
            ),
        );
        let run = |values: &[&str]| {
            let mut req = vm.get("/");
            for v in values {
                req = req.header("x-h", v);
            }
            req.send().stream().request_header_all("x-h")
        };
        assert_eq!(run(&[]), absent, "{action}, absent");
        assert_eq!(run(&["a"]), single, "{action}, single");
        assert_eq!(run(&["a", "b"]), repeated, "{action}, repeated");
    }
}

#[test]
fn default_action_appends_and_deprecated_append_flag_is_honoured() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([
            {"append": {"header": {"key": "X-Default", "value": "d"}}},
            {"append": {"header": {"key": "x-over", "value": "o"}, "append": false}},
            {"append": {"header": {"key": "x-add", "value": "a"}, "append": true}}
        ])),
    );
    let ex = vm
        .get("/")
        .header("x-default", "0")
        .header("x-over", "0")
        .header("x-add", "0")
        .send();
    assert_eq!(ex.stream().request_header_all("x-default"), vec!["0", "d"]);
    assert_eq!(ex.stream().request_header_all("x-over"), vec!["o"]);
    assert_eq!(ex.stream().request_header_all("x-add"), vec!["0", "a"]);
    assert_eq!(host.metric("headers.mutations_applied"), Some(3));
}

#[test]
fn empty_values_are_skipped_unless_kept() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([
            {"append": {"header": {"key": "x-empty", "value": "%REQ(x-missing)%"}}},
            {"append": {"header": {"key": "x-kept", "value": ""}, "keep_empty_value": true}}
        ])),
    );
    let ex = vm.get("/").send();
    assert_eq!(ex.upstream_header("x-empty"), None);
    assert_eq!(ex.upstream_header("x-kept").as_deref(), Some(""));
}

#[test]
fn remove_and_remove_on_match_spare_pseudo_headers() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        json!({"mutations": {
            "request_mutations": [
                {"remove": "X-Secret"},
                {"remove_on_match": {"key_matcher": {"prefix": "x-internal-"}}},
                {"remove_on_match": {"key_matcher": {"suffix": "-DEBUG", "ignore_case": true}}},
                {"remove_on_match": {"key_matcher": {"safe_regex": {"regex": ".*"}}}}
            ]
        }}),
    );
    let ex = vm
        .get("/keep")
        .header("x-secret", "1")
        .header("x-internal-a", "1")
        .header("x-internal-b", "1")
        .header("x-trace-debug", "1")
        .send();
    let seen: Vec<String> = ex
        .stream()
        .request_headers()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(seen, vec![":authority", ":path", ":method", ":scheme"]);
    assert!(ex.reached_upstream());
}

#[test]
fn remove_on_match_spares_framing_headers() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([{"remove_on_match": {"key_matcher": {"safe_regex": {"regex": ".*"}}}}])),
    );
    let ex = vm
        .post("/upload")
        .header("content-length", "2")
        .header("transfer-encoding", "chunked")
        .header("x-gone", "1")
        // The body content-length announces: without it the upstream would
        // wait for it (the test host holds such an exchange, as Envoy does).
        .body("ok")
        .send();
    assert_eq!(ex.upstream_header("content-length").as_deref(), Some("2"));
    assert_eq!(
        ex.upstream_header("transfer-encoding").as_deref(),
        Some("chunked")
    );
    assert_eq!(ex.upstream_header("x-gone"), None);
}

#[test]
fn remove_on_match_with_contains_and_exact() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        response(json!([
            {"remove_on_match": {"key_matcher": {"contains": "powered"}}},
            {"remove_on_match": {"key_matcher": {"exact": "server"}}}
        ])),
    );
    let ex = vm
        .get("/")
        .upstream_response(
            200,
            &[("x-powered-by", "php"), ("server", "apache"), ("x-ok", "1")],
            b"",
        )
        .send();
    assert_eq!(ex.response_header("x-powered-by"), None);
    assert_eq!(ex.response_header("server"), None);
    assert_eq!(ex.response_header("x-ok").as_deref(), Some("1"));
}

#[test]
fn every_substitution_command() {
    let host = TestHost::new();
    host.set_env("HOSTNAME", "edge-7");
    let vm = vm(
        &host,
        json!({"mutations": {
            "request_mutations": [
                {"append": {"header": {"key": "x-copy", "value": "%REQ(x-in)%/%REQ(x-none?x-in)%/%REQ(x-in):2%"}}},
                {"append": {"header": {"key": "x-peer", "value": "%DOWNSTREAM_REMOTE_ADDRESS%|%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}}},
                {"append": {"header": {"key": "x-meta", "value": "%PROTOCOL% %START_TIME% %HOSTNAME% 100%%"}}}
            ],
            "response_mutations": [
                {"append": {"header": {"key": "x-echo", "value": "%REQ(x-copy)%"}}},
                {"append": {"header": {"key": "x-type", "value": "[%RESP(content-type)%]"}}}
            ]
        }}),
    );
    let ex = vm
        .get("/")
        .header("x-in", "first")
        .header("x-in", "second")
        .source("10.0.0.9:5151")
        .upstream_response(200, &[("content-type", "text/plain")], b"")
        .send();
    // Like Envoy, %REQ% reads the first value of a repeated header.
    assert_eq!(
        ex.upstream_header("x-copy").as_deref(),
        Some("first/first/fi")
    );
    assert_eq!(
        ex.upstream_header("x-peer").as_deref(),
        Some("10.0.0.9:5151|10.0.0.9")
    );
    assert_eq!(
        ex.upstream_header("x-meta").as_deref(),
        // The test host's clock starts at 2026-01-01T00:00:00Z.
        Some("HTTP/1.1 2026-01-01T00:00:00.000Z edge-7 100%")
    );
    assert_eq!(
        ex.response_header("x-echo").as_deref(),
        Some("first/first/fi")
    );
    assert_eq!(
        ex.response_header("x-type").as_deref(),
        Some("[text/plain]")
    );
}

#[test]
fn response_values_see_the_request_as_it_went_upstream() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        json!({"mutations": {
            "request_mutations": [
                {"append": {"header": {"key": "x-request-id", "value": "generated"}, "append_action": "ADD_IF_ABSENT"}}
            ],
            "response_mutations": [
                {"append": {"header": {"key": "x-request-id", "value": "%REQ(x-request-id)%"}}}
            ]
        }}),
    );
    let given = vm.get("/").header("x-request-id", "abc").send();
    assert_eq!(
        given.response_header("x-request-id").as_deref(),
        Some("abc")
    );
    let generated = vm.get("/").send();
    assert_eq!(
        generated.response_header("x-request-id").as_deref(),
        Some("generated")
    );
}

#[test]
fn a_substituted_value_with_cr_lf_or_nul_is_dropped_counted_and_logged() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([
            {"append": {"header": {"key": "x-copy", "value": "v=%REQ(x-in)%"}}},
            {"append": {"header": {"key": "x-copy-2", "value": "%REQ(x-in)%"}}}
        ])),
    );
    let ex = vm.get("/").header("x-in", "a\r\nx-injected: 1").send();
    assert_eq!(ex.upstream_header("x-copy"), None);
    assert_eq!(ex.upstream_header("x-copy-2"), None);
    assert_eq!(host.metric("headers.values_dropped"), Some(2));
    assert!(host
        .logs()
        .iter()
        .any(|l| l.message.contains("not setting x-copy")));
    assert!(!host.logs().iter().any(|l| l.message.contains("injected")));
}

#[test]
fn an_overlong_substituted_value_is_dropped() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(
            json!([{"append": {"header": {"key": "x-copy", "value": "%REQ(x-in)%%REQ(x-in)%"}}}]),
        ),
    );
    let long = "a".repeat(9000);
    let ex = vm.get("/").header("x-in", &long).send();
    assert_eq!(ex.upstream_header("x-copy"), None);
    assert_eq!(host.metric("headers.values_dropped"), Some(1));
}

#[test]
fn query_parameter_mutations() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        json!({"mutations": {"query_parameter_mutations": [
            {"remove": "debug"},
            {"append": {"record": {"key": "src", "value": "%REQ(x-src)%"}, "action": "OVERWRITE_IF_EXISTS_OR_ADD"}},
            {"append": {"record": {"key": "v", "value": "2"}, "action": "ADD_IF_ABSENT"}}
        ]}}),
    );
    let ex = vm
        .get("/search?q=a%20b&debug=1&src=old&v=1")
        .header("x-src", "app one")
        .send();
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/search?q=a%20b&src=app%20one&v=1")
    );
    assert_eq!(host.metric("headers.mutations_applied"), Some(3));
}

#[test]
fn rename_and_copy() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([
            {"rename": {"from": "x-old", "to": "x-new"}},
            {"copy": {"from": ":authority", "to": "x-original-host"}},
            {"copy": {"from": "x-absent", "to": "x-never"}}
        ])),
    );
    let ex = vm
        .get("/")
        .header("x-old", "1")
        .header("x-old", "2")
        .header("x-new", "stale")
        .send();
    assert_eq!(
        ex.stream().request_header_all("x-old"),
        Vec::<String>::new()
    );
    assert_eq!(ex.stream().request_header_all("x-new"), vec!["1", "2"]);
    assert_eq!(
        ex.upstream_header("x-original-host").as_deref(),
        Some("example.com")
    );
    assert_eq!(ex.upstream_header("x-never"), None);
    assert_eq!(host.metric("headers.mutations_applied"), Some(2));
}

#[test]
fn rewrite_path_keeps_the_query_and_rewrite_host_sets_a_literal() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        request(json!([
            {"rewrite_path": {"regex": "^/api/v(\\d+)/(.*)$", "substitution": "/v\\1/\\2"}},
            {"rewrite_host": "users.internal"}
        ])),
    );
    let ex = vm
        .get("/api/v2/users/7?x=1")
        .header("x-tenant", "acme")
        .send();
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/v2/users/7?x=1")
    );
    assert_eq!(
        ex.upstream_header(":authority").as_deref(),
        Some("users.internal")
    );
    let untouched = vm.get("/other").send();
    assert_eq!(
        untouched.upstream_header(":path").as_deref(),
        Some("/other")
    );
}

#[test]
fn set_status_on_the_response() {
    let host = TestHost::new();
    let vm = vm(&host, response(json!([{"set_status": 503}])));
    let ex = vm.get("/").send();
    assert_eq!(ex.status(), 503);
}

#[test]
fn first_matching_rule_applies_after_top_level_mutations() {
    let host = TestHost::new();
    let vm = vm(
        &host,
        json!({
            "mutations": {"request_mutations": [{"append": {"header": {"key": "x-all", "value": "1"}}}]},
            "rules": [
                {"match": {"prefix": "/admin", "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]},
                 "request_mutations": [{"append": {"header": {"key": "x-rule", "value": "admin-post"}}}],
                 "response_mutations": [{"append": {"header": {"key": "cache-control", "value": "no-store"}}}]},
                {"match": {"prefix": "/admin"},
                 "request_mutations": [{"append": {"header": {"key": "x-rule", "value": "admin"}}}]},
                {"match": {"prefix": "/"},
                 "request_mutations": [{"append": {"header": {"key": "x-rule", "value": "rest"}}}]}
            ]
        }),
    );
    let post = vm.post("/admin/x").send();
    assert_eq!(
        post.upstream_header("x-rule").as_deref(),
        Some("admin-post")
    );
    assert_eq!(post.upstream_header("x-all").as_deref(), Some("1"));
    assert_eq!(
        post.response_header("cache-control").as_deref(),
        Some("no-store")
    );
    let get = vm.get("/admin/x").send();
    assert_eq!(get.upstream_header("x-rule").as_deref(), Some("admin"));
    assert_eq!(get.response_header("cache-control"), None);
    assert_eq!(
        vm.get("/home").send().upstream_header("x-rule").as_deref(),
        Some("rest")
    );
    assert_eq!(host.metric("headers.rules_matched"), Some(3));
}

#[test]
fn no_configuration_changes_nothing() {
    let host = TestHost::new();
    let vm = vm(&host, json!({}));
    let ex = vm.get("/x?b=2&a=1").header("x-a", "1").send();
    assert_eq!(ex.upstream_header(":path").as_deref(), Some("/x?b=2&a=1"));
    assert_eq!(host.metric("headers.mutations_applied"), Some(0));
}

#[test]
fn refusals_name_the_json_path() {
    let cases = [
        (request(json!([{"remove": ":path"}])), "mutations.request_mutations[0].remove: pseudo-header"),
        (request(json!([{"append": {"header": {"key": ":authority", "value": "x"}}}])), "mutations.request_mutations[0].append.header.key: pseudo-header"),
        (request(json!([{"rename": {"from": ":path", "to": "x"}}])), "mutations.request_mutations[0].rename.from: pseudo-header"),
        (request(json!([{"copy": {"from": "x", "to": ":path"}}])), "mutations.request_mutations[0].copy.to: pseudo-header"),
        (request(json!([{"append": {"header": {"key": "Host", "value": "%REQ(x-tenant)%"}}}])), "mutations.request_mutations[0].append.header.key: `host` selects the virtual host"),
        (request(json!([{"copy": {"from": "x-tenant", "to": "host"}}])), "mutations.request_mutations[0].copy.to: `host` selects the virtual host"),
        (request(json!([{"rename": {"from": "x-tenant", "to": "host"}}])), "mutations.request_mutations[0].rename.to: `host` selects the virtual host"),
        (request(json!([{"rename": {"from": "host", "to": "x-host"}}])), "mutations.request_mutations[0].rename.from: `host` selects the virtual host"),
        (request(json!([{"remove": "host"}])), "mutations.request_mutations[0].remove: `host` selects the virtual host"),
        (request(json!([{"rewrite_host": "%REQ(x-tenant)%.internal"}])), "mutations.request_mutations[0].rewrite_host: must be a literal value"),
        (request(json!([{"rewrite_host": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}])), "mutations.request_mutations[0].rewrite_host: must be a literal value"),
        (request(json!([{"append": {"header": {"key": "content-length", "value": "%REQ(x-len)%"}}}])), "mutations.request_mutations[0].append.header.key: framing headers are Envoy's to set"),
        (request(json!([{"copy": {"from": "x-te", "to": "Transfer-Encoding"}}])), "mutations.request_mutations[0].copy.to: framing headers are Envoy's to set"),
        (request(json!([{"remove": "transfer-encoding"}])), "mutations.request_mutations[0].remove: framing headers are Envoy's to set"),
        (response(json!([{"append": {"header": {"key": "content-length", "value": "0"}}}])), "mutations.response_mutations[0].append.header.key: framing headers are Envoy's to set"),
        (response(json!([{"rename": {"from": "x-len", "to": "content-length"}}])), "mutations.response_mutations[0].rename.to: framing headers are Envoy's to set"),
        (request(json!([{"append": {"header": {"key": "bad name", "value": "x"}}}])), "mutations.request_mutations[0].append.header.key: \"bad name\" is not a valid header name"),
        (request(json!([{"append": {"header": {"key": "x", "value": "a\r\nb"}}}])), "mutations.request_mutations[0].append.header.value: must not contain CR, LF or NUL"),
        (request(json!([{"append": {"header": {"key": "x", "value": "nul\u{0}"}}}])), "must not contain CR, LF or NUL"),
        (request(json!([{"append": {"header": {"key": "x", "value": "%UPSTREAM_HOST%"}}}])), "mutations.request_mutations[0].append.header.value: unknown command %UPSTREAM_HOST%"),
        (request(json!([{"append": {"header": {"key": "x", "value": "%RESP(y)%"}}}])), "request side"),
        (request(json!([{"append": {"header": {"key": "x", "value": "%HOSTNAME%"}}}])), "mutations.request_mutations[0].append.header.value: %HOSTNAME% needs the host name"),
        (json!({"rules": [{"match": {"prefix": "/"}, "request_mutations": [{"remove": "x"}, {"rewrite_host": "%HOSTNAME%"}]}]}), "rules[0].request_mutations[1].rewrite_host: %HOSTNAME% needs the host name"),
        (json!({"mutations": {"query_parameter_mutations": [{"append": {"record": {"key": "k", "value": "%HOSTNAME%"}}}]}}), "mutations.query_parameter_mutations[0].append.record.value: %HOSTNAME% needs the host name, which a wasm VM cannot look up: pass it with `vm_config.environment_variables.host_env_keys"),
        (request(json!([{"append": {"header": {"key": "x", "raw_value": "dg=="}}}])), "mutations.request_mutations[0].append.header.raw_value: `raw_value` is not supported; use `value`"),
        (request(json!([{"rename": {"from": ":path", "to": "x"}}])), "mutations.request_mutations[0].rename.from: pseudo-header :path cannot be changed this way; only `copy` may read one"),
        (request(json!([{"copy": {"from": "bad name", "to": "x"}}])), "mutations.request_mutations[0].copy.from: \"bad name\" is not a valid header name"),
        (request(json!([{"rewrite_host": "a\r\nb"}])), "mutations.request_mutations[0].rewrite_host: must not contain CR, LF or NUL"),
        (request(json!([{"rewrite_path": {"regex": "/", "substitution": "/?x"}}])), "mutations.request_mutations[0].rewrite_path.substitution: must not contain `?`"),
        (request(json!([{"rewrite_path": {"regex": "/", "substitution": "\\q"}}])), "mutations.request_mutations[0].rewrite_path.substitution: a backslash must be followed"),
        (json!({"mutations": {"query_parameter_mutations": [{"remove": ""}]}}), "mutations.query_parameter_mutations[0].remove: must not be empty"),
        (json!({"stat_prefix": ""}), "stat_prefix: must be non-empty and without spaces"),
        (request(json!([{"append": {"header": {"key": "x", "value": "v"}, "append_action": "SOMETIMES"}}])), "mutations.request_mutations[0].append.append_action: unknown variant `SOMETIMES`"),
        (request(json!([{"append": {"header": {"key": "x", "value": "v"}, "append": true, "append_action": "ADD_IF_ABSENT"}}])), "mutations.request_mutations[0].append.append: set `append_action` or the deprecated `append`, not both"),
        (request(json!([{"remove_on_match": {"key_matcher": {"safe_regex": {"regex": "("}}}}])), "mutations.request_mutations[0].remove_on_match.key_matcher"),
        (request(json!([{"remove_on_match": {"key_matcher": {"safe_regex": {"regex": "a{1000}{1000}"}}}}])), "too large"),
        (request(json!([{"rewrite_path": {"regex": "(", "substitution": "/"}}])), "mutations.request_mutations[0].rewrite_path.regex: invalid regex"),
        (request(json!([{"rewrite_path": {"regex": "/(a)", "substitution": "/\\2"}}])), "mutations.request_mutations[0].rewrite_path.substitution: \\2 refers to a group"),
        (request(json!([{"set_status": 404}])), "only response mutations can set the status"),
        (response(json!([{"rewrite_path": {"regex": "a", "substitution": "b"}}])), "mutations.response_mutations[0].rewrite_path: only request mutations"),
        (response(json!([{"set_status": 99}])), "not a final HTTP status"),
        (request(json!([{"explode": "x"}])), "unknown variant `explode`"),
        (request(json!([{"regex_copy": {}}])), "mutations.request_mutations[0].regex_copy: `regex_copy` is not supported"),
        (json!({"mutations": {"query_parameter_mutations": [{}]}}), "mutations.query_parameter_mutations[0]: set exactly one"),
        (json!({"mutations": {"query_parameter_mutations": [{"append": {"record": {"key": "", "value": "v"}}}]}}), "mutations.query_parameter_mutations[0].append.record.key: must not be empty"),
        (json!({"mutations": {"response_trailers_mutations": []}}), "mutations.response_trailers_mutations: trailer mutations are not supported"),
        (json!({"mutations": {}, "typo": 1}), "unknown field `typo`"),
        (json!({"rules": [{"match": {"prefix": "/"}, "request_mutations": [{"remove": ":method"}]}]}), "rules[0].request_mutations[0].remove: pseudo-header"),
        (json!({"rules": [{"request_mutations": []}]}), "rules[0]: missing field `match`"),
    ];
    for (config, expected) in cases {
        let err = refused(config.clone());
        assert!(
            err.contains(expected),
            "config {config}\n  error: {err}\n  expected: {expected}"
        );
    }
}
