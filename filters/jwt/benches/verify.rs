//! Cost of checking one token natively, per algorithm, with the
//! verified-token cache off and on: `cargo bench -p portico-jwt`.
//! (In Envoy the wasm code runs several times slower; the ratios between
//! rows are what carry over.)

// A benchmark binary, not filter code: failing loudly is what it should do.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use divan::Bencher;
use portico_jose::mint::Keys;
use portico_jwt::extract::Found;
use portico_jwt::provider::Provider;
use serde_json::json;
use std::hint::black_box;

const NOW: i64 = 1_767_225_600;
const ALGS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS512",
];

fn main() {
    divan::main();
}

thread_local! {
    static KEYS: &'static Keys = Box::leak(Box::new(Keys::generate(1).expect("keys")));
}

fn provider(keys: &Keys, cache: bool) -> Provider {
    let mut p = json!({
        "issuer": "https://issuer.example",
        "audiences": ["api"],
        "local_jwks": {"inline_string": keys.jwks().to_string()}
    });
    if cache {
        p["jwt_cache_config"] = json!({"jwt_cache_size": 100});
    }
    let raw = serde_json::from_value(p).expect("provider config");
    Provider::compile("bench", raw)
        .map_err(|e| e.to_string())
        .expect("provider")
}

fn check(bencher: Bencher, alg: &str, cache: bool) {
    let keys = KEYS.with(|k| *k);
    let claims =
        json!({"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": NOW + 3600});
    let found = Found {
        token: keys.token(alg, &claims),
        location: 0,
    };
    let provider = provider(keys, cache);
    bencher.bench_local(|| {
        let (result, _) = provider.accept(black_box(&found), NOW, None);
        assert!(result.is_ok(), "{alg} must verify");
    });
}

/// Parse, key lookup, signature and claims: every request without the cache.
#[divan::bench(args = ALGS)]
fn verify(bencher: Bencher, alg: &str) {
    check(bencher, alg, false);
}

/// The same token again with `jwt_cache_config` set: a cache hit.
#[divan::bench(args = ALGS)]
fn cached(bencher: Bencher, alg: &str) {
    check(bencher, alg, true);
}
