//! What an accepted token costs in calls out of the VM, with and without the
//! verified-token cache (see `filters/hello/tests/host_calls.rs` for why).

#![allow(clippy::expect_used)]

use portico::testing::TestHost;
use portico_jose::mint::Keys;
use serde_json::json;
use std::collections::BTreeMap;

#[test]
fn an_accepted_token_costs_four_host_calls_and_a_cache_hit_one_more() {
    let keys = Keys::generate(3).expect("keys");
    let now = 1_767_225_600i64;
    let claims =
        json!({"iss": "https://issuer.example", "aud": "api", "sub": "bench", "exp": now + 86_400});
    let bearer = format!("Bearer {}", keys.token("ES256", &claims));
    for cache in [false, true] {
        let mut provider = json!({"issuer": "https://issuer.example", "audiences": ["api"], "local_jwks": {"inline_string": keys.jwks().to_string()}});
        if cache {
            provider["jwt_cache_config"] = json!({"jwt_cache_size": 100});
        }
        let config = json!({"providers": {"p": provider}, "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]});
        let host = TestHost::new();
        let vm = host
            .vm::<portico_jwt::JwtAuthn>(&config.to_string())
            .expect("config");
        let send = || {
            vm.get("/x")
                .header("authorization", &bearer)
                .send()
                .status()
        };
        assert_eq!(send(), 200);
        host.take_host_calls();
        assert_eq!(send(), 200);
        // The whole map once, asked for at the start of the hook (the token
        // may repeat; `:path` for the rules is read from the copy), the
        // clock, the token's removal, `allowed`, and with the cache,
        // `jwt_cache_hit`.
        let expected = BTreeMap::from([
            ("header_pairs", 1),
            ("increment_metric", 1 + u64::from(cache)),
            ("now", 1),
            ("remove_header", 1),
        ]);
        assert_eq!(host.host_calls(), expected, "cache: {cache}");
    }
}
