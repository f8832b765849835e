//! Arbitrary bytes as a bearer token, against the JWT filter with a JWKS of
//! every key type. Half the inputs edit a valid token instead, so the
//! signature and claim checks are reached, not only the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_robustness::Jwt;

thread_local! {
    static JWT: Jwt = Jwt::new();
}

const ALGS: [&str; 6] = ["RS256", "PS256", "ES256", "ES512", "EdDSA", "HS256"];

fuzz_target!(|data: &[u8]| {
    JWT.with(|jwt| match data.split_first() {
        Some((&mode, rest)) if mode & 1 == 1 && !rest.is_empty() => {
            let valid = jwt.valid(ALGS[usize::from(mode >> 1) % ALGS.len()]);
            let mut bytes = valid.clone().into_bytes();
            for pair in rest.chunks(2) {
                if let [at, byte] = pair {
                    let i = usize::from(*at) * bytes.len() / 256;
                    bytes[i] = *byte;
                }
            }
            let token = String::from_utf8_lossy(&bytes);
            if jwt.check(&token) == 200 && token != valid {
                // Only spare base64 bits may differ; anything else is a forgery.
                assert_eq!(token.split('.').count(), 3, "accepted {token}");
            }
        }
        _ => {
            let _ = jwt.check(&String::from_utf8_lossy(data));
        }
    });
});
