//! The bad-config matrix: for each filter, invalid configurations of every
//! kind (syntax, wrong types, unknown and missing fields, out-of-range
//! numbers, bad durations, regexes, header names and JWKS), each loaded into
//! the real Envoy, which must refuse it at load with a log line that names
//! the JSON path and the reason. Envoy's `--mode validate` runs the filter's
//! configuration exactly as a start would, without binding ports.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use portico_harness::bootstrap::{wasm_filter, Bootstrap};
use portico_harness::{wasm_path, Backend, Envoy};

const PREFIX: &str = "invalid filter configuration: ";

/// A JWKS with one valid key (RFC 8037's Ed25519 example), for configs whose mistake is elsewhere.
const JWKS: &str = r#"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}"#;

fn jwt(provider_extra: &str, rest: &str) -> String {
    format!(
        r#"{{"providers": {{"p": {{"issuer": "i", "local_jwks": {{"inline_string": "{JWKS}"}}{provider_extra}}}}}{rest}}}"#
    )
}

fn jwks(jwks: &str) -> String {
    format!(r#"{{"providers": {{"p": {{"local_jwks": {{"inline_string": {jwks:?}}}}}}}}}"#)
}

/// The one-module edge's configuration: `(name, config)` members.
fn edge(members: &[(&str, &str)]) -> String {
    let list: Vec<String> = members
        .iter()
        .map(|(name, config)| format!(r#"{{"name": "{name}", "config": {config}}}"#))
        .collect();
    format!(r#"{{"filters": [{}]}}"#, list.join(", "))
}

fn cases() -> Vec<(&'static str, String, &'static str)> {
    let s = |t: &str| t.to_string();
    vec![
        // --- hello
        ("hello", s(r#"{"value": "v""#), ".: EOF while parsing an object"),
        ("hello", s(r#"{"value": 5}"#), "value: invalid type: integer `5`, expected a string"),
        ("hello", s(r#"{"value": "v", "pth": "/x"}"#), "pth: unknown field `pth`"),
        ("hello", s(r#"{"header": "x-a"}"#), ".: missing field `value`"),
        ("hello", s(r#"{"value": "v", "header": "Bad Header"}"#), "header: \"Bad Header\" is not a valid header name"),
        // --- headers
        ("headers", s(r#"{"mutations": {"request_mutations": {"remove": "x"}}}"#), "mutations.request_mutations: invalid type: map, expected a sequence"),
        ("headers", s(r#"{"mutations": {"request_mutation": []}}"#), "mutations.request_mutation: unknown field `request_mutation`"),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"append": {"header": {"value": "v"}}}]}}"#), "mutations.request_mutations[0].append.header: missing field `key`"),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"append": {"header": {"key": "x", "value": "v"}, "append_action": "REPLACE"}}]}}"#), "mutations.request_mutations[0].append.append_action: unknown variant `REPLACE`"),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"remove": ":authority"}]}}"#), "mutations.request_mutations[0].remove: pseudo-header :authority cannot be changed this way"),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"append": {"header": {"key": "bad key", "value": "v"}}}]}}"#), "mutations.request_mutations[0].append.header.key: \"bad key\" is not a valid header name"),
        ("headers", s(r#"{"mutations": {"response_mutations": [{"remove_on_match": {"key_matcher": {"safe_regex": {"regex": "(unclosed"}}}}]}}"#), "mutations.response_mutations[0].remove_on_match.key_matcher.safe_regex.regex: invalid regex"),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"append": {"header": {"key": "x", "value": "%UPSTREAM_HOST%"}}}]}}"#), "mutations.request_mutations[0].append.header.value: unknown command %UPSTREAM_HOST%"),
        ("headers", s(r#"{"rules": [{"match": {"prefix": "/"}, "response_mutations": [{"set_status": 1000}]}]}"#), "rules[0].response_mutations[0].set_status: 1000 is not a final HTTP status"),
        ("headers", s(r#"{"rules": [{"match": {"safe_regex": {"regex": "a{99999}"}}, "request_mutations": []}]}"#), "rules[0].match.safe_regex.regex: regex is too large"),
        // --- ratelimit
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": "5", "fill_interval": "1s"}}"#), "token_bucket.max_tokens: invalid type: string \"5\""),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5, "fill_interval": "1s", "burst": 2}}"#), "token_bucket.burst: unknown field `burst`"),
        ("ratelimit", s(r#"{"token_bucket": {"max_tokens": 5, "fill_interval": "1s"}}"#), ".: missing field `stat_prefix`"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5}}"#), "token_bucket: missing field `fill_interval`"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 0, "fill_interval": "1s"}}"#), "token_bucket.max_tokens: must be at least 1"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "max_buckets: must be between 1 and 1000000": 2000000}"#), "max_buckets: must be between 1 and 1000000"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5, "fill_interval": "0s"}}"#), "token_bucket.fill_interval: must be at least 50ms"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5, "fill_interval": "1 minute"}}"#), "token_bucket.fill_interval: expected a duration such as \"60s\" or \"1.5s\", got \"1 minute\""),
        ("ratelimit", s(r#"{"domain": "edge", "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V2"}, "rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "g"}}]}]}"#), "rate_limit_service.transport_api_version: unknown variant `V2`"),
        ("ratelimit", s(r#"{"domain": "edge", "rate_limit_service": {"grpc_service": {"envoy_grpc": {"cluster_name": "rls"}}, "transport_api_version": "V3"}, "rate_limits": [{"actions": [{"generic_key": {"descriptor_value": "g"}}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]}"#), "rate_limits[0].token_bucket: belongs to the local mode"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "descriptors": [{"actions": [{"teleport": {}}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]}"#), "descriptors[0].actions[0]: unknown variant `teleport`"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "descriptors": [{"match": {"safe_regex": {"regex": "(("}}, "actions": [{"remote_address": {}}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]}"#), "descriptors[0].match.safe_regex.regex: invalid regex"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5, "fill_interval": "1s"}, "status": {"code": 200}}"#), "status.code: 200 is not a 4xx or 5xx status"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "local_rate_limit_per_downstream_connection": true}"#), "local_rate_limit_per_downstream_connection: per-connection buckets are not supported"),
        ("ratelimit", s(r#"{"stat_prefix": "rl", "descriptors": [{"actions": [{"source_cluster": {}}], "token_bucket": {"max_tokens": 1, "fill_interval": "1s"}}]}"#), "descriptors[0].actions[0].source_cluster: this action is not supported by Portico"),
        // --- jwt
        ("jwt", s(r#"{"providers": []}"#), "providers: invalid type: sequence, expected a map"),
        ("jwt", s(r#"{"providers": {"p": {"issuer": 5}}}"#), "providers.p.issuer: invalid type: integer `5`, expected a string"),
        ("jwt", jwt(r#", "audience": ["a"]"#, ""), "providers.p.audience: unknown field `audience`"),
        ("jwt", s(r#"{"providers": {"p": {"issuer": "i"}}}"#), "providers.p: needs `local_jwks` or `remote_jwks`"),
        ("jwt", jwt(r#", "clock_skew_seconds": -1"#, ""), "providers.p.clock_skew_seconds: invalid value: integer `-1`"),
        ("jwt", jwt(r#", "jwt_cache_config": {"jwt_cache_size": -5}"#, ""), "providers.p.jwt_cache_config.jwt_cache_size: invalid value: integer `-5`"),
        ("jwt", jwt(r#", "max_lifetime": "forever""#, ""), "providers.p.max_lifetime: expected a duration such as \"60s\""),
        ("jwt", jwt("", r#", "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "q"}}]"#), "rules[0].requires.provider_name: no provider named \"q\""),
        ("jwt", jwt("", r#", "rules": [{"match": {"safe_regex": {"regex": "[z-a]"}}, "requires": {"provider_name": "p"}}]"#), "rules[0].match.safe_regex.regex: invalid regex"),
        ("jwt", jwt(r#", "claim_to_headers": [{"header_name": "Bad Header", "claim_name": "sub"}]"#, ""), "providers.p.claim_to_headers[0].header_name: \"Bad Header\" is not a valid header name"),
        ("jwt", jwks("not json"), "providers.p.local_jwks.inline_string: JWKS is not JSON"),
        ("jwt", jwks(r#"{"keys": 5}"#), "providers.p.local_jwks.inline_string: JWKS `keys` is not an array"),
        ("jwt", jwks(r#"{"keys": []}"#), "providers.p.local_jwks.inline_string: JWKS has no valid keys"),
        ("jwt", jwks(r#"{"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}"#), "providers.p.local_jwks.inline_string: JWKS has no valid keys"),
        ("jwt", jwt("", r#", "bypass_cors_preflight": "yes""#), "bypass_cors_preflight: invalid type: string \"yes\", expected a boolean"),
        ("jwt", s(r#"{"rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "q"}}], "providers": {}}"#), "rules[0].requires.provider_name: no provider named \"q\""),
        ("headers", s(r#"{"mutations": {"request_mutations": [{"append": {"header": {"key": "x", "value": "%HOSTNAME%"}}}]}}"#), "mutations.request_mutations[0].append.header.value: %HOSTNAME% needs the host name"),
        // --- edge: each member's mistakes under filters[i].config, the list's own by name
        ("edge", edge(&[("jwt", &jwt("", "")), ("ratelimit", r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 0, "fill_interval": "1s"}}"#)]), "filters[1].config.token_bucket.max_tokens: must be at least 1"),
        ("edge", edge(&[("jwt", r#"{"providers": {"p": {"issuer": 5}}}"#)]), "filters[0].config.providers.p.issuer: invalid type: integer `5`, expected a string"),
        ("edge", edge(&[("jwt", &jwt("", r#", "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "q"}}]"#))]), "filters[0].config.rules[0].requires.provider_name: no provider named \"q\""),
        ("edge", edge(&[("jwt", &jwt("", "")), ("ratelimit", r#"{"stat_prefix": "rl", "token_bucket": {"max_tokens": 5, "fill_interval": "1s"}}"#), ("headers", r#"{"mutations": {"request_mutations": [{"remove": ":authority"}]}}"#)]), "filters[2].config.mutations.request_mutations[0].remove: pseudo-header :authority cannot be changed this way"),
        ("edge", edge(&[("headers", r#"{"mutations": {"request_mutations": [{"append": {"header": {"key": "x", "value": "%HOSTNAME%"}}}]}}"#)]), "filters[0].config.mutations.request_mutations[0].append.header.value: %HOSTNAME% needs the host name"),
        ("edge", edge(&[("jwt", &jwt("", "")), ("ext_authz", "{}")]), "filters[1].name: unknown filter `ext_authz`; this module runs jwt, ratelimit, headers"),
        ("edge", edge(&[("headers", "{}"), ("jwt", &jwt("", ""))]), "filters[1].name: `jwt` must come before `headers`"),
        ("edge", edge(&[("ratelimit", "{}"), ("ratelimit", "{}")]), "filters[1].name: `ratelimit` is listed twice"),
        ("edge", s(r#"{"filters": []}"#), "filters: lists no filter"),
        ("edge", s(r#"{"filter": [{"name": "jwt"}]}"#), "filter: unknown field `filter`"),
        ("edge", s(r#"{"filters": [{"name": "headers", "configuration": {}}]}"#), "filters[0].configuration: unknown field `configuration`"),
        ("edge", s(r#"{"filters": [{"config": {}}]}"#), "filters[0]: missing field `name`"),
        ("edge", s(r#"{"filters": [{"name": "jwt""#), "filters[0]: EOF while parsing an object"),
    ]
}

#[test]
fn every_bad_config_is_refused_at_load_naming_its_path() {
    let cases = cases();
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((filter, config, expected)) = cases.get(i) else {
                    break;
                };
                let wasm = wasm_path(filter).unwrap();
                let bootstrap = Bootstrap::new(9)
                    .listener(
                        "main",
                        vec![wasm_filter(&format!("portico.{filter}"), &wasm, config)],
                    )
                    .render();
                let (ok, output) = Envoy::validate(&bootstrap);
                if expected.contains("%HOSTNAME% needs the host name")
                    && Backend::current() == Backend::Native
                {
                    // libportico.so reads the machine's name itself, as
                    // Envoy's own %HOSTNAME% does: nothing to refuse.
                    if !ok {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{filter} {config}: refused on the native backend"));
                    }
                    continue;
                }
                let line = output
                    .lines()
                    .find(|l| l.contains(PREFIX))
                    .unwrap_or("(no configuration error logged)");
                let wanted = format!("{PREFIX}{expected}");
                // Envoy's own refusal: "failed to load" (wasm), "Failed to
                // initialize dynamic module" (libportico.so).
                let refused = output.contains("failed to load")
                    || output.contains("Failed to initialize dynamic module");
                if ok || !line.contains(&wanted) || !refused {
                    let got = line.split(PREFIX).nth(1).unwrap_or(line);
                    failures.lock().unwrap().push(format!(
                        "{filter} {config}\n  wanted: {expected}\n  got:    {got} (accepted: {ok})"
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} bad configs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
