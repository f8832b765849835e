//! Every small corruption of a valid token is refused, and none makes the
//! verifier panic (a panic would kill a worker's VM). Deterministic, so a
//! failure reproduces; `cargo fuzz` targets come with the robustness work.

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use portico_jose::mint::Keys;
use portico_jwt::extract::Found;
use portico_jwt::provider::Provider;
use serde_json::json;

const NOW: i64 = 1_767_225_600;

/// A small xorshift generator: reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ !";

fn mutate(token: &str, rng: &mut Rng) -> String {
    let mut b = token.as_bytes().to_vec();
    match rng.below(5) {
        0 => {
            let i = rng.below(b.len());
            b[i] = ALPHABET[rng.below(ALPHABET.len())];
        }
        1 => {
            b.remove(rng.below(b.len()));
        }
        2 => {
            let i = rng.below(b.len() + 1);
            b.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
        }
        3 => b.truncate(rng.below(b.len())),
        _ => {
            // Swap two sections' boundaries: move a dot.
            if let Some(dot) = b.iter().position(|c| *c == b'.') {
                b.remove(dot);
                let i = rng.below(b.len() + 1);
                b.insert(i, b'.');
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn corrupted_tokens_are_refused_without_panicking() {
    let keys = Keys::generate(3).expect("keys");
    let raw = serde_json::from_value(json!({
        "issuer": "https://issuer.example",
        "audiences": ["api"],
        "local_jwks": {"inline_string": keys.jwks().to_string()}
    }))
    .expect("provider config");
    let provider = Provider::compile("p", raw)
        .map_err(|e| e.to_string())
        .expect("provider");
    let claims = json!({"iss": "https://issuer.example", "aud": "api", "exp": NOW + 60});
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut checked = 0;
    for alg in [
        "RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS512",
    ] {
        let token = keys.token(alg, &claims);
        let found = Found {
            token: token.clone(),
            location: 0,
        };
        assert!(
            provider.accept(&found, NOW, None).0.is_ok(),
            "{alg}: the original verifies"
        );
        for _ in 0..150 {
            let bad = mutate(&token, &mut rng);
            if bad == token {
                continue;
            }
            let found = Found {
                token: bad.clone(),
                location: 0,
            };
            let (verdict, _) = provider.accept(&found, NOW, None);
            assert!(verdict.is_err(), "{alg}: accepted a corrupted token: {bad}");
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} corruptions tried");
}
