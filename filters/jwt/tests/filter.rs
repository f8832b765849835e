//! `portico_jwt` on the SDK's test host: every algorithm, failure reason,
//! token location, requirement type and provider field. The same corpus runs
//! side by side with native `jwt_authn` in `integration-tests/tests/jwt.rs`.

// Clippy's test allowances cover `#[test]` functions, not their helpers.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use portico::testing::{Exchange, TestHost, TestVm};
use portico_jose::mint::{self, Keys};
use portico_jwt::JwtAuthn;
use serde_json::{json, Value};
use std::sync::OnceLock;

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::generate(7).expect("keys"))
}

/// The test host's clock: 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn claims() -> Value {
    json!({"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": NOW + 3600, "iat": NOW - 10})
}

fn provider() -> Value {
    json!({
        "issuer": "https://issuer.example",
        "audiences": ["api"],
        "local_jwks": {"inline_string": keys().jwks().to_string()},
        "forward_payload_header": "x-jwt-payload",
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
    })
}

fn config_with(provider: Value) -> Value {
    json!({
        "providers": {"main": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]
    })
}

fn vm(host: &TestHost, config: &Value) -> TestVm<JwtAuthn> {
    host.vm::<JwtAuthn>(&config.to_string())
        .map_err(|e| e.to_string())
        .expect("config accepted")
}

fn with_bearer(vm: &TestVm<JwtAuthn>, token: &str) -> Exchange<JwtAuthn> {
    vm.get("/data")
        .header("authorization", &format!("Bearer {token}"))
        .send()
}

/// Status and body for a bearer token against the default config.
fn verdict(token: &str) -> (u16, String) {
    let host = TestHost::new();
    let vm = vm(&host, &config_with(provider()));
    let ex = with_bearer(&vm, token);
    (ex.status(), ex.body())
}

#[test]
fn every_algorithm_verifies() {
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
        "HS256", "HS384", "HS512",
    ] {
        let token = keys().token(alg, &claims());
        assert_eq!(verdict(&token), (200, String::new()), "{alg}");
    }
}

#[test]
fn a_verified_request_carries_claims_and_payload_but_not_the_token() {
    let host = TestHost::new();
    let mut p = provider();
    p["claim_to_headers"] = json!([
        {"header_name": "x-jwt-sub", "claim_name": "sub"},
        {"header_name": "x-tenant", "claim_name": "org.tenant"},
        {"header_name": "x-roles", "claim_name": "roles"}
    ]);
    p["pad_forward_payload_header"] = json!(true);
    let vm = vm(&host, &config_with(p));
    let mut c = claims();
    c["org"] = json!({"tenant": "acme"});
    c["roles"] = json!(["admin", "ops"]);
    let token = keys().token("RS256", &c);
    let ex = vm
        .get("/data")
        .header("authorization", &format!("Bearer {token}"))
        .header("x-jwt-sub", "mallory")
        .send();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.upstream_header("x-jwt-sub").as_deref(), Some("alice"));
    assert_eq!(ex.upstream_header("x-tenant").as_deref(), Some("acme"));
    // A list is base64 of its JSON, as in Envoy: `["admin","ops"]`.
    assert_eq!(
        ex.upstream_header("x-roles").as_deref(),
        Some("WyJhZG1pbiIsIm9wcyJd")
    );
    assert_eq!(
        ex.upstream_header("authorization"),
        None,
        "forward is false by default"
    );
    let payload = token.split('.').nth(1).unwrap();
    let padded = ex.upstream_header("x-jwt-payload").unwrap();
    assert!(padded.starts_with(payload) && padded.len() % 4 == 0);
    assert_eq!(host.metric("jwt_authn.allowed"), Some(1));
}

#[test]
fn forward_keeps_the_token_and_a_client_cannot_forge_claim_headers() {
    let host = TestHost::new();
    let mut p = provider();
    p["forward"] = json!(true);
    let vm = vm(
        &host,
        &json!({
            "providers": {"main": p},
            "rules": [
                {"match": {"prefix": "/public"}},
                {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
            ]
        }),
    );
    let token = keys().token("ES256", &claims());
    let ex = with_bearer(&vm, &token);
    assert_eq!(
        ex.upstream_header("authorization"),
        Some(format!("Bearer {token}"))
    );
    let public = vm.get("/public/x").header("x-jwt-sub", "admin").send();
    assert_eq!(public.status(), 200);
    assert_eq!(public.upstream_header("x-jwt-sub"), None);
}

#[test]
fn failures_get_envoy_statuses_and_reasons() {
    let k = keys();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims();
        change(&mut c);
        k.token("RS256", &c)
    };
    let good = k.token("RS256", &claims());
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    let tampered_sig = {
        let mut s = parts[2].clone().into_bytes();
        s[10] = if s[10] == b'A' { b'B' } else { b'A' };
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            String::from_utf8(s).unwrap()
        )
    };
    let other_payload = mint::encode(
        json!({"iss": "https://issuer.example", "sub": "root", "aud": "api", "exp": NOW + 3600})
            .to_string()
            .as_bytes(),
    );
    let tampered_payload = format!("{}.{}.{}", parts[0], other_payload, parts[2]);
    let other_header = mint::encode(br#"{"alg":"RS256","kid":"rsa-1","x":1}"#);
    let tampered_header = format!("{}.{}.{}", other_header, parts[1], parts[2]);
    let none = format!("{}.{}.", mint::encode(br#"{"alg":"none"}"#), parts[1]);
    let unknown_kid = k.sign(&json!({"alg": "RS256", "kid": "nope"}), &claims());
    let no_kid = k.sign(&json!({"alg": "ES256"}), &claims());
    let es_input = {
        let t = k.token("ES256", &claims());
        t.rsplit_once('.').unwrap().0.to_string()
    };
    let der = format!(
        "{es_input}.{}",
        mint::encode(&k.es256_der(es_input.as_bytes()))
    );
    let crit = k.sign(
        &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp-ext"], "exp-ext": 1}),
        &claims(),
    );
    // A single character is not a valid base64 length.
    parts[0] = "e".into();
    let bad_b64 = parts.join(".");
    let bad_json = format!(
        "{}.{}.{}",
        mint::encode(b"{not json"),
        good.split('.').nth(1).unwrap(),
        "AA"
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "expired",
            with(&|c| c["exp"] = json!(NOW - 61)),
            401,
            "Jwt is expired",
        ),
        (
            "expired within skew",
            with(&|c| c["exp"] = json!(NOW - 59)),
            200,
            "",
        ),
        (
            "not yet valid",
            with(&|c| c["nbf"] = json!(NOW + 61)),
            401,
            "Jwt not yet valid",
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example")),
            401,
            "Jwt issuer is not configured",
        ),
        (
            "no issuer",
            with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            401,
            "Jwt issuer is not configured",
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("other")),
            403,
            "Audiences in Jwt are not allowed",
        ),
        (
            "audience by normalisation",
            with(&|c| c["aud"] = json!(["x", "https://api/"])),
            200,
            "",
        ),
        (
            "no audience",
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            403,
            "Audiences in Jwt are not allowed",
        ),
        (
            "exp as string",
            with(&|c| c["exp"] = json!("tomorrow")),
            401,
            "Jwt payload [exp] field is not an integer",
        ),
        (
            "iss as number",
            with(&|c| c["iss"] = json!(5)),
            401,
            "Jwt payload [iss] field is not a string",
        ),
        (
            "aud as object",
            with(&|c| c["aud"] = json!({"a": 1})),
            401,
            "Jwt payload [aud] field is not a string or string list",
        ),
        (
            "tampered signature",
            tampered_sig,
            401,
            "Jwt verification fails",
        ),
        (
            "tampered payload",
            tampered_payload,
            401,
            "Jwt verification fails",
        ),
        (
            "tampered header",
            tampered_header,
            401,
            "Jwt verification fails",
        ),
        // The empty signature section is skipped, as Envoy skips it: two sections.
        (
            "alg none",
            none,
            401,
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        ),
        (
            "unknown kid",
            unknown_kid,
            401,
            "Jwks doesn't have key to match kid or alg from Jwt",
        ),
        ("no kid, right family", no_kid, 200, ""),
        (
            "HS256 keyed with the RSA public key",
            k.hs256_with_rsa_public_key(&claims()),
            401,
            "Jwt verification fails",
        ),
        ("DER ECDSA signature", der, 401, "Jwt verification fails"),
        (
            "unknown crit",
            crit,
            401,
            "Jwt header [crit] names an extension that is not understood",
        ),
        (
            "two sections",
            "abc.def".to_string(),
            401,
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        ),
        (
            "bad base64",
            bad_b64,
            401,
            "Jwt header is an invalid Base64url encoded",
        ),
        ("bad JSON", bad_json, 401, "Jwt header is an invalid JSON"),
        (
            "too large",
            format!("{}.{}.x", "a".repeat(9000), "b"),
            401,
            "Jwt is too large",
        ),
    ];
    for (what, token, status, body) in cases {
        assert_eq!(verdict(&token), (status, body.to_string()), "{what}");
    }
}

#[test]
fn challenges_name_the_realm_and_the_error() {
    let host = TestHost::new();
    let vm = vm(&host, &config_with(provider()));
    let missing = vm.get("/data?x=1").send();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.body(), "Jwt is missing");
    assert_eq!(
        missing.response_header("www-authenticate").as_deref(),
        Some("Bearer realm=\"http://example.com/data\"")
    );
    let bad = with_bearer(&vm, "x.y.z");
    assert_eq!(
        bad.response_header("www-authenticate").as_deref(),
        Some("Bearer realm=\"http://example.com/data\", error=\"invalid_token\"")
    );
    assert!(!bad.reached_upstream());
    assert_eq!(host.metric("jwt_authn.denied"), Some(2));
}

#[test]
fn tokens_are_found_where_the_provider_says() {
    let k = keys();
    let token = k.token("EdDSA", &claims());
    let mut p = provider();
    p["from_headers"] = json!([{"name": "x-token", "value_prefix": "Token "}]);
    p["from_params"] = json!(["jwt"]);
    p["from_cookies"] = json!(["session"]);
    let host = TestHost::new();
    let vm = vm(&host, &config_with(p));
    let header = vm
        .get("/")
        .header("x-token", &format!("Token {token}"))
        .send();
    assert_eq!(header.status(), 200);
    assert_eq!(
        header.upstream_header("x-token"),
        None,
        "removed after verification"
    );
    assert_eq!(vm.get(&format!("/?jwt={token}")).send().status(), 200);
    assert_eq!(
        vm.get("/")
            .header("cookie", &format!("a=b; session={token}"))
            .send()
            .status(),
        200
    );
    // The prefix is case-sensitive, and Authorization is not looked at any more.
    assert_eq!(
        vm.get("/")
            .header("x-token", &format!("token {token}"))
            .send()
            .status(),
        401
    );
    assert_eq!(with_bearer(&vm, &token).status(), 401);
    // Two tokens: both must verify.
    let expired = k.token(
        "EdDSA",
        &json!({"iss": "https://issuer.example", "aud": "api", "exp": NOW - 1000}),
    );
    let two = vm
        .get(&format!("/?jwt={expired}"))
        .header("x-token", &format!("Token {token}"))
        .send();
    assert_eq!(
        (two.status(), two.body()),
        (401, "Jwt is expired".to_string())
    );
}

#[test]
fn default_locations_are_bearer_then_access_token() {
    let token = keys().token("HS256", &claims());
    let host = TestHost::new();
    let vm = vm(&host, &config_with(provider()));
    assert_eq!(
        vm.get(&format!("/?access_token={token}")).send().status(),
        200
    );
    assert_eq!(
        vm.get("/")
            .header("authorization", &format!("bearer {token}"))
            .send()
            .status(),
        401
    );
}

#[test]
fn requirement_types() {
    let k = keys();
    let mut other = provider();
    other["issuer"] = json!("https://other.example");
    other["from_headers"] = json!([{"name": "x-other"}]);
    let config = json!({
        "providers": {"main": provider(), "other": other},
        "rules": [
            {"match": {"prefix": "/any"}, "requires": {"requires_any": {"requirements": [{"provider_name": "main"}, {"provider_name": "other"}]}}},
            {"match": {"prefix": "/all"}, "requires": {"requires_all": {"requirements": [{"provider_name": "main"}, {"provider_name": "other"}]}}},
            {"match": {"prefix": "/aud"}, "requires": {"provider_and_audiences": {"provider_name": "main", "audiences": ["special"]}}},
            {"match": {"prefix": "/optional"}, "requires": {"requires_any": {"requirements": [{"provider_name": "main"}, {"allow_missing": {}}]}}},
            {"match": {"prefix": "/lenient"}, "requires": {"allow_missing_or_failed": {}}},
            {"match": {"prefix": "/open"}}
        ]
    });
    let host = TestHost::new();
    let vm = vm(&host, &config);
    let main = k.token("RS256", &claims());
    let mut oc = claims();
    oc["iss"] = json!("https://other.example");
    let other = k.token("RS256", &oc);
    let send = |path: &str, main_tok: Option<&str>, other_tok: Option<&str>| {
        let mut r = vm.get(path);
        if let Some(t) = main_tok {
            r = r.header("authorization", &format!("Bearer {t}"));
        }
        if let Some(t) = other_tok {
            r = r.header("x-other", t);
        }
        r.send().status()
    };
    assert_eq!(send("/any", Some(&main), None), 200);
    assert_eq!(send("/any", None, Some(&other)), 200);
    assert_eq!(send("/any", None, None), 401);
    assert_eq!(send("/all", Some(&main), None), 401);
    assert_eq!(send("/all", Some(&main), Some(&other)), 200);
    assert_eq!(send("/aud", Some(&main), None), 403);
    let mut sc = claims();
    sc["aud"] = json!("special");
    assert_eq!(send("/aud", Some(&k.token("RS256", &sc)), None), 200);
    assert_eq!(send("/optional", None, None), 200);
    assert_eq!(send("/optional", Some("bad.token.here"), None), 401);
    assert_eq!(send("/lenient", Some("bad.token.here"), None), 200);
    let lenient = vm
        .get("/lenient")
        .header("authorization", &format!("Bearer {main}"))
        .send();
    assert_eq!(
        lenient.upstream_header("x-jwt-sub").as_deref(),
        Some("alice")
    );
    assert_eq!(send("/open", None, None), 200);
}

#[test]
fn no_rules_means_the_filter_does_nothing() {
    let host = TestHost::new();
    let vm = vm(&host, &json!({"providers": {"main": provider()}}));
    assert_eq!(vm.get("/").send().status(), 200);
}

#[test]
fn provider_time_and_subject_policies() {
    let k = keys();
    let mut p = provider();
    p["require_expiration"] = json!(true);
    // 0 would mean the default 60 s, as in Envoy.
    p["clock_skew_seconds"] = json!(1);
    p["max_lifetime"] = json!("3700s");
    p["subjects"] = json!({"prefix": "al"});
    let host = TestHost::new();
    let vm = vm(&host, &config_with(p));
    let send = |c: Value| {
        let ex = with_bearer(&vm, &k.token("RS256", &c));
        (ex.status(), ex.body())
    };
    assert_eq!(send(claims()).0, 200);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        send(c),
        (401, "Jwt has no expiration, which is required".into())
    );
    let mut c = claims();
    c["exp"] = json!(NOW - 2);
    assert_eq!(send(c).1, "Jwt is expired", "1 s of skew");
    let mut c = claims();
    c["exp"] = json!(NOW + 7200);
    assert_eq!(send(c).1, "Jwt lifetime is longer than allowed");
    let mut c = claims();
    c["sub"] = json!("bob");
    assert_eq!(send(c), (401, "Jwt subject is not allowed".into()));
}

#[test]
fn bypass_cors_preflight_and_strip_failure_response() {
    let mut config = config_with(provider());
    config["bypass_cors_preflight"] = json!(true);
    config["strip_failure_response"] = json!(true);
    let host = TestHost::new();
    let vm = vm(&host, &config);
    let preflight = vm
        .request("OPTIONS", "/data")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send();
    assert_eq!(preflight.status(), 200);
    let denied = vm.get("/data").send();
    assert_eq!((denied.status(), denied.body()), (401, String::new()));
}

#[test]
fn refusals_name_the_json_path() {
    let jwks = keys().jwks().to_string();
    let with = |p: Value| json!({"providers": {"main": p}});
    let cases = [
        (
            with(json!({"local_jwks": {"inline_string": "not json"}})),
            "providers.main.local_jwks.inline_string: JWKS is not JSON",
        ),
        (
            with(json!({"local_jwks": {"inline_string": "{\"keys\": []}"}})),
            "providers.main.local_jwks.inline_string: JWKS has no valid keys",
        ),
        (
            with(json!({"local_jwks": {"inline_string": jwks.clone()}, "max_jwks_keys": 2})),
            "JWKS has 6 keys, over the limit of 2",
        ),
        (
            with(json!({"local_jwks": {"filename": "/etc/jwks.json"}})),
            "providers.main.local_jwks.filename: a wasm VM cannot read files",
        ),
        (
            with(json!({"issuer": "x"})),
            "providers.main: needs `local_jwks` or `remote_jwks`",
        ),
        (
            with(
                json!({"local_jwks": {"inline_string": jwks.clone()}, "remote_jwks": {"http_uri": {"uri": "https://x/jwks", "cluster": "c", "timeout": "1s"}}}),
            ),
            "providers.main: set `local_jwks` or `remote_jwks`, not both",
        ),
        (
            with(
                json!({"local_jwks": {"inline_string": jwks.clone()}, "payload_in_metadata": "x"}),
            ),
            "providers.main.payload_in_metadata",
        ),
        (
            with(
                json!({"local_jwks": {"inline_string": jwks.clone()}, "from_headers": [{"name": "bad header"}]}),
            ),
            "providers.main.from_headers[0].name",
        ),
        (
            with(
                json!({"local_jwks": {"inline_string": jwks.clone()}, "clock_skew_seconds": "60"}),
            ),
            "providers.main.clock_skew_seconds: invalid type",
        ),
        (
            with(json!({"local_jwks": {"inline_string": jwks.clone()}, "max_lifetime": "forever"})),
            "providers.main.max_lifetime",
        ),
        (
            with(json!({"local_jwks": {"inline_string": jwks.clone()}, "isuer": "x"})),
            "providers.main.isuer: unknown field `isuer`",
        ),
        (
            json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "ghost"}}]}),
            "rules[0].requires.provider_name: no provider named \"ghost\"",
        ),
        (
            json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"allow_missing": {}}]}}}]}),
            "rules[0].requires.requires_any.requirements: needs at least 2",
        ),
        (
            json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_nam": "x"}}]}),
            "rules[0].requires: unknown variant `provider_nam`",
        ),
        (
            json!({"providers": {}, "requirement_map": {}}),
            "requirement_map: per-route requirements are not supported",
        ),
        (
            json!({"rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [{"allow_missing": {}}, {"provider_and_audiences": {"provider_name": "ghost"}}]}}}], "providers": {}}),
            "rules[0].requires.requires_any.requirements[1].provider_and_audiences.provider_name: no provider named \"ghost\"",
        ),
        (
            json!({"providers": {}, "rules": [{"match": {"prefix": "/"}, "requirement_name": "r"}]}),
            "rules[0].requirement_name: not supported; write `requires`",
        ),
        (
            with(json!({"local_jwks": {"inline_string": jwks.clone()}, "claim_to_headers": [{"header_name": "x-sub", "claim_name": ""}]})),
            "providers.main.claim_to_headers[0].claim_name: must not be empty",
        ),
        (
            with(json!({"local_jwks": {"filename": "/etc/jwks.json"}})),
            "providers.main.local_jwks.filename: a wasm VM cannot read files",
        ),
        (
            json!({"providers": {}, "stat_prefix": "a b"}),
            "stat_prefix: must be non-empty and without spaces",
        ),
    ];
    for (config, expected) in cases {
        let err = TestHost::new()
            .vm::<JwtAuthn>(&config.to_string())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "<accepted>".into());
        assert!(
            err.contains(expected),
            "config {config}\n  error: {err}\n  expected: {expected}"
        );
    }
}

fn remote_provider(extra: Value) -> Value {
    let mut p = json!({
        "issuer": "https://issuer.example",
        "audiences": ["api"],
        "remote_jwks": {
            "http_uri": {"uri": "https://idp.example/.well-known/jwks.json", "cluster": "idp", "timeout": "2s"},
            "cache_duration": "100s"
        },
        "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if k == "remote_jwks" {
                if let (Some(r), Some(v)) =
                    (p.get_mut(k).and_then(Value::as_object_mut), v.as_object())
                {
                    r.extend(v.clone());
                }
            } else {
                p.insert(k.clone(), v.clone());
            }
        }
    }
    p
}

fn jwks_call(host: &TestHost) -> u32 {
    let calls = host.pending_calls();
    assert_eq!(calls.len(), 1, "one JWKS fetch in flight");
    let call = &calls[0];
    assert_eq!(call.cluster, "idp");
    assert_eq!(call.path(), "/.well-known/jwks.json");
    assert_eq!(call.header(":authority"), Some("idp.example"));
    call.id
}

#[test]
fn remote_jwks_is_fetched_at_start_and_early_requests_wait_for_it() {
    let host = TestHost::new().with_cluster("idp");
    let vm = vm(&host, &config_with(remote_provider(json!({}))));
    host.advance(std::time::Duration::from_millis(1));
    let call = jwks_call(&host);
    let token = keys().token("RS256", &claims());
    let mut good = with_bearer(&vm, &token);
    let mut bad = with_bearer(&vm, "not.a.token");
    assert!(good.paused() && bad.paused(), "both wait for the keys");
    // A request without a token needs no keys: refused at once.
    assert_eq!(vm.get("/data").send().status(), 401);
    host.respond(
        call,
        200,
        &[("content-type", "application/json")],
        keys().jwks().to_string().as_bytes(),
    );
    good.proceed();
    bad.proceed();
    assert_eq!(good.status(), 200);
    assert_eq!(good.upstream_header("x-jwt-sub").as_deref(), Some("alice"));
    assert_eq!(bad.status(), 401);
    assert_eq!(host.metric("jwt_authn.jwks_fetch_success"), Some(1));
    // Later requests use the fetched keys directly.
    assert_eq!(with_bearer(&vm, &token).status(), 200);
}

#[test]
fn remote_jwks_rotates_on_refresh_and_a_failed_refresh_keeps_the_last_keys() {
    let host = TestHost::new().with_cluster("idp");
    let vm = vm(&host, &config_with(remote_provider(json!({}))));
    host.advance(std::time::Duration::from_millis(1));
    host.respond(
        jwks_call(&host),
        200,
        &[],
        keys().jwks().to_string().as_bytes(),
    );
    let old = keys().token("ES256", &claims());
    assert_eq!(with_bearer(&vm, &old).status(), 200);
    // Refreshed before the 100 s cache duration runs out; this refresh fails.
    host.advance(std::time::Duration::from_secs(90));
    host.fail_call(jwks_call(&host));
    assert_eq!(with_bearer(&vm, &old).status(), 200, "last good keys kept");
    assert_eq!(host.metric("jwt_authn.jwks_fetch_failed"), Some(1));
    assert!(host
        .logs()
        .iter()
        .any(|l| l.message.contains("keeping the last good keys")));
    // Retried after failed_refetch_duration (1 s by default): new keys.
    host.advance(std::time::Duration::from_secs(1));
    let rotated = Keys::generate(8).expect("keys");
    host.respond(
        jwks_call(&host),
        200,
        &[],
        rotated.jwks().to_string().as_bytes(),
    );
    let (status, body) = {
        let ex = with_bearer(&vm, &old);
        (ex.status(), ex.body())
    };
    assert_eq!((status, body.as_str()), (401, "Jwt verification fails"));
    assert_eq!(
        with_bearer(&vm, &rotated.token("ES256", &claims())).status(),
        200
    );
}

#[test]
fn a_failed_first_fetch_is_retried_then_fails_waiting_requests() {
    let host = TestHost::new().with_cluster("idp");
    let vm = vm(
        &host,
        &config_with(remote_provider(
            json!({"remote_jwks": {"retry_policy": {"num_retries": 1}}}),
        )),
    );
    host.advance(std::time::Duration::from_millis(1));
    let token = keys().token("RS256", &claims());
    let mut waiting = with_bearer(&vm, &token);
    host.fail_call(jwks_call(&host));
    assert!(waiting.paused(), "one retry left");
    host.respond(jwks_call(&host), 500, &[], b"oops");
    waiting.proceed();
    assert_eq!(
        (waiting.status(), waiting.body()),
        (401, "Jwks remote fetch is failed".to_string())
    );
    assert_eq!(host.metric("jwt_authn.jwks_fetch_failed"), Some(2));
    // The next attempt, a second later, succeeds.
    host.advance(std::time::Duration::from_secs(1));
    host.respond(
        jwks_call(&host),
        200,
        &[],
        keys().jwks().to_string().as_bytes(),
    );
    assert_eq!(with_bearer(&vm, &token).status(), 200);
}

#[test]
fn remote_jwks_refusals() {
    let err = |extra: Value| {
        TestHost::new()
            .vm::<JwtAuthn>(&config_with(remote_provider(extra)).to_string())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(
        err(json!({"remote_jwks": {"http_uri": {"uri": "ftp://x/jwks", "cluster": "idp"}}}))
            .contains(
                "providers.main.remote_jwks.http_uri.uri: must be an http:// or https:// URL"
            )
    );
    assert!(err(json!({"remote_jwks": {"cache_duration": "0s"}}))
        .contains("providers.main.remote_jwks.cache_duration: must be at least 1s"));
}

#[test]
fn the_verified_token_cache_skips_signatures_but_not_expiry() {
    let host = TestHost::new();
    let mut p = provider();
    p["jwt_cache_config"] = json!({"jwt_cache_size": 10});
    p["clock_skew_seconds"] = json!(1);
    let vm = vm(&host, &config_with(p));
    let mut c = claims();
    c["exp"] = json!(NOW + 5);
    let token = keys().token("PS256", &c);
    for _ in 0..3 {
        assert_eq!(with_bearer(&vm, &token).status(), 200);
    }
    assert_eq!(host.metric("jwt_authn.jwt_cache_miss"), Some(1));
    assert_eq!(host.metric("jwt_authn.jwt_cache_hit"), Some(2));
    host.advance(std::time::Duration::from_secs(7));
    let ex = with_bearer(&vm, &token);
    assert_eq!(
        (ex.status(), ex.body()),
        (401, "Jwt is expired".to_string())
    );
    // A bad token is never cached.
    for _ in 0..2 {
        assert_eq!(with_bearer(&vm, "x.y.z").status(), 401);
    }
    assert_eq!(host.metric("jwt_authn.jwt_cache_miss"), Some(3));
}
