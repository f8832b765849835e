//! Cost of checking one token natively, per algorithm, with the
//! verified-token cache off and on: `cargo bench -p portico-jwt`.
//! Prints a Markdown table. (In Envoy the wasm code runs several times
//! slower than this; the ratios between rows are what carry over.)

// A benchmark binary, not filter code: failing loudly is what it should do.
#![allow(clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use portico_jwt::extract::Found;
use portico_jwt::mint::Keys;
use portico_jwt::provider::Provider;
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

const NOW: i64 = 1_767_225_600;

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

/// Mean time per call over at least `budget`.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget || n < 10 {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn main() {
    let keys = Keys::generate(1).expect("keys");
    let claims =
        json!({"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": NOW + 3600});
    let uncached = provider(&keys, false);
    let cached = provider(&keys, true);
    let budget = Duration::from_millis(300);
    println!("| alg | verify (µs) | cached (µs) | speed-up |");
    println!("|---|---:|---:|---:|");
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS512",
    ] {
        let found = Found {
            token: keys.token(alg, &claims),
            location: 0,
        };
        let check = |p: &Provider| {
            let (result, _) = p.accept(black_box(&found), NOW, None);
            assert!(result.is_ok(), "{alg} must verify");
        };
        let full = time(budget, || check(&uncached));
        let hit = time(budget, || check(&cached));
        println!(
            "| {alg} | {:.1} | {:.2} | {:.0}× |",
            full.as_secs_f64() * 1e6,
            hit.as_secs_f64() * 1e6,
            full.as_secs_f64() / hit.as_secs_f64().max(1e-12)
        );
    }
}
