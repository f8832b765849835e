//! Prints a dev JWKS and a token signed with it, for trying the filter by
//! hand: `cargo run -p portico-jwt --features mint --example mint -- RS256 alice`.
//! The keys come from a fixed seed: never use them outside a test setup.

use portico_jwt::mint::Keys;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let alg = args.next().unwrap_or_else(|| "RS256".into());
    let sub = args.next().unwrap_or_else(|| "alice".into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let keys = Keys::generate(1)?;
    let claims = json!({"iss": "https://portico.dev", "sub": sub, "aud": "portico-demo", "iat": now, "exp": now + 3600});
    println!("{}", keys.jwks());
    println!("{}", keys.token(&alg, &claims));
    Ok(())
}
