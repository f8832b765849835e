//! Property tests of the fuzzing entry points, on stable, in `cargo xtask test`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use portico_robustness::{any_config, header_template, ratelimit_key, Jwt};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Field names of the four filters' configurations, so generated documents
/// reach deep into the parsers instead of stopping at the first unknown key.
const FIELDS: &[&str] = &[
    "providers",
    "issuer",
    "audiences",
    "local_jwks",
    "inline_string",
    "remote_jwks",
    "http_uri",
    "uri",
    "cluster",
    "timeout",
    "cache_duration",
    "rules",
    "match",
    "prefix",
    "path",
    "safe_regex",
    "regex",
    "requires",
    "provider_name",
    "requires_any",
    "requirements",
    "allow_missing",
    "from_headers",
    "name",
    "value_prefix",
    "claim_to_headers",
    "header_name",
    "claim_name",
    "jwt_cache_config",
    "jwt_cache_size",
    "mutations",
    "request_mutations",
    "response_mutations",
    "append",
    "header",
    "key",
    "value",
    "append_action",
    "remove",
    "remove_on_match",
    "key_matcher",
    "exact",
    "query_parameter_mutations",
    "stat_prefix",
    "token_bucket",
    "max_tokens",
    "tokens_per_fill",
    "fill_interval",
    "descriptors",
    "actions",
    "request_headers",
    "descriptor_key",
    "remote_address",
    "generic_key",
    "descriptor_value",
    "status",
    "code",
    "filter_enabled",
    "default_value",
    "numerator",
    "denominator",
    "max_buckets",
    "greeting",
    "headers",
    "string_match",
    "keys",
    "kty",
    "n",
    "e",
    "x",
    "y",
    "crv",
    "alg",
    "kid",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "1s",
            "0s",
            "60s",
            "1.5s",
            "-1s",
            "/",
            "(",
            "%REQ(x)%",
            "RS256",
            "DENY",
            "HUNDRED",
            "{\"keys\":[]}"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..5).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn jwt() -> &'static Jwt {
    // The test host is single-threaded by design (Rc inside): one per test
    // thread, kept for the thread's life so keys are generated once.
    thread_local! {
        static JWT: &'static Jwt = Box::leak(Box::new(Jwt::new()));
    }
    JWT.with(|jwt| *jwt)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn configs_are_accepted_or_refused_with_a_path(doc in json_value()) {
        any_config(&doc.to_string());
    }

    #[test]
    fn config_text_that_is_not_json_is_refused(text in "\\PC{0,40}") {
        any_config(&text);
    }

    #[test]
    fn header_templates_render_safely(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "%REQ(x-in)%", "%REQ(x-in):3%", "%REQ(", ")%", "%RESP(x)%", "%%", "%", "PROTOCOL", "%PROTOCOL%",
            "%START_TIME(%s)%", "%DOWNSTREAM_REMOTE_ADDRESS%", "a", "\r\n", ":", "(", ")", "\u{0}", "é",
        ]), 0..8),
        value in "[ -~\r\n\t]{0,40}",
    ) {
        header_template(&pieces.concat(), &value);
    }

    #[test]
    fn rate_limit_keys_are_stable_and_distinct(header in "[ -~]{0,30}", query in "[a-z0-9%&=+]{0,20}", xff in "[0-9a-f.:, ]{0,40}") {
        ratelimit_key(&header, &query, &xff);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_tokens_are_refused(token in "[A-Za-z0-9_\\-.=+/ ]{0,300}") {
        prop_assert_ne!(jwt().check(&token), 200);
    }

    #[test]
    fn mutated_tokens_are_refused_unless_unchanged(
        alg in prop::sample::select(vec!["RS256", "PS384", "ES256", "ES384", "EdDSA", "HS256"]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let jwt = jwt();
        let valid = jwt.valid(alg);
        prop_assert_eq!(jwt.check(&valid), 200);
        let mut bytes = valid.clone().into_bytes();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let token = String::from_utf8_lossy(&bytes).into_owned();
        let status = jwt.check(&token);
        // Base64url has spare bits in a last character: some edits decode to the same bytes.
        if status == 200 {
            prop_assert!(same_after_decoding(&valid, &token), "{token} accepted");
        }
    }
}

fn same_after_decoding(a: &str, b: &str) -> bool {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let decode = |t: &str| -> Option<Vec<Vec<u8>>> {
        t.split('.')
            .map(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .collect()
    };
    decode(a).is_some() && decode(a) == decode(b)
}
