//! The dev identity of `envoy/`: the key pair under `envoy/keys/`, the issuer
//! and audience the shipped configs accept, and tokens minted with them. Used
//! by `cargo xtask token`, the demo and the tests, so all three agree with
//! the files.

use crate::install::workspace_root;
use portico_jose::mint::DevKey;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ISSUER: &str = "https://portico.example/dev";
pub const AUDIENCE: &str = "portico-demo";
pub const KID: &str = "portico-dev-1";
pub const PRIVATE_KEY: &str = "envoy/keys/dev-private.pem";
pub const JWKS: &str = "envoy/keys/dev-jwks.json";

/// The long-lived sample tokens under `envoy/tokens/`, for trying the configs
/// without Rust (docker compose): file, subject, issued at, expiry.
/// 4102444800 is 2100-01-01; 1704067200 is 2024-01-01.
pub const SAMPLE_TOKENS: [(&str, &str, i64, i64); 3] = [
    (
        "envoy/tokens/alice.jwt",
        "alice",
        1_767_225_600,
        4_102_444_800,
    ),
    ("envoy/tokens/bob.jwt", "bob", 1_767_225_600, 4_102_444_800),
    (
        "envoy/tokens/expired.jwt",
        "alice",
        1_704_063_600,
        1_704_067_200,
    ),
];

/// The claims of a sample token.
pub fn sample_claims(sub: &str, iat: i64, exp: i64) -> Claims {
    Claims {
        issued_at: iat,
        expires_in: exp - iat,
        ..Claims::new(sub)
    }
}

/// Loads the dev key from `envoy/keys/`.
pub fn key() -> Result<DevKey, String> {
    let path = workspace_root().join(PRIVATE_KEY);
    let pem = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "read {}: {e} (regenerate with `cargo xtask keys`)",
            path.display()
        )
    })?;
    DevKey::from_pem(&pem, KID).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a minted token says.
#[derive(Clone, Debug)]
pub struct Claims {
    pub sub: String,
    /// Seconds from now to expiry; negative for an already expired token.
    pub expires_in: i64,
    pub audience: Vec<String>,
    pub issuer: String,
    /// The clock the token is minted against (`iat`).
    pub issued_at: i64,
}

impl Claims {
    pub fn new(sub: &str) -> Claims {
        Claims {
            sub: sub.to_string(),
            expires_in: 3600,
            audience: vec![AUDIENCE.to_string()],
            issuer: ISSUER.to_string(),
            issued_at: now(),
        }
    }

    pub fn to_json(&self) -> Value {
        let aud = match self.audience.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let exp = self.issued_at.saturating_add(self.expires_in);
        // An expired token was also issued in the past, so that only `exp` is wrong.
        let iat = self.issued_at.min(exp.saturating_sub(60));
        json!({"iss": self.issuer, "sub": self.sub, "aud": aud, "iat": iat, "exp": exp})
    }
}

/// A token signed with the dev key.
pub fn token(claims: &Claims) -> Result<String, String> {
    key()?.token(&claims.to_json())
}

/// Parses `90s`, `30m`, `1h`, `7d`, with an optional leading `-` (expired).
pub fn parse_lifetime(text: &str) -> Result<i64, String> {
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let unit_at = body
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}`: give a unit: s, m, h or d (e.g. 1h)"))?;
    let (digits, unit) = body.split_at(unit_at);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}`: expected a number then s, m, h or d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: unit must be s, m, h or d")),
    };
    n.checked_mul(scale)
        .map(|v| v * sign)
        .ok_or_else(|| format!("`{text}`: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_lifetime("90s"), Ok(90));
        assert_eq!(parse_lifetime("1h"), Ok(3600));
        assert_eq!(parse_lifetime("-1h"), Ok(-3600));
        assert_eq!(parse_lifetime("2d"), Ok(172_800));
        for bad in ["", "1", "h", "1y", "1.5h", "--1h"] {
            assert!(parse_lifetime(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn expired_claims_are_issued_before_they_expire() {
        let mut claims = Claims::new("alice");
        claims.issued_at = 1_000_000;
        claims.expires_in = -3600;
        let json = claims.to_json();
        assert_eq!(json["exp"], 996_400);
        assert_eq!(json["iat"], 996_340);
        assert_eq!(json["aud"], AUDIENCE);
    }
}
