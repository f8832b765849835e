//! Registered claims (RFC 7519 §4.1): their JSON types, read as Envoy's
//! `jwt_verify` reads them (a wrong type is a format error). What a
//! filter demands of them is its own policy.

use crate::error::JwtError;
use serde_json::{Map, Value};

#[derive(Debug, Default)]
pub struct Registered {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    /// Seconds, as Envoy reads them: any JSON number from 0 to below 2^64,
    /// fractions dropped. `exp: 0` means no expiry, as in Envoy.
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
}

fn string(
    claims: &Map<String, Value>,
    name: &str,
    err: JwtError,
) -> Result<Option<String>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err),
    }
}

/// 2^64, the first value Envoy's `uint64_t` cannot hold.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A time claim as Envoy's `jwt_verify` reads it: a JSON number (a float
/// too, and integers beyond 2^63), read as a double, refused when negative
/// or from 2^64 up, then truncated to whole seconds.
fn seconds(
    claims: &Map<String, Value>,
    name: &str,
    not_number: JwtError,
    out_of_range: JwtError,
) -> Result<Option<u64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let f = n.as_f64().ok_or(not_number)?;
            if !(0.0..TWO_POW_64).contains(&f) {
                return Err(out_of_range);
            }
            // In range and finite: the cast truncates, as C++'s does.
            Ok(Some(f as u64))
        }
        Some(_) => Err(not_number),
    }
}

/// Reads the registered claims in Envoy's order (the first wrong one decides).
pub fn read(claims: &Map<String, Value>) -> Result<Registered, JwtError> {
    let iss = string(claims, "iss", JwtError::IssNotString)?;
    let sub = string(claims, "sub", JwtError::SubNotString)?;
    let iat = seconds(
        claims,
        "iat",
        JwtError::IatNotInteger,
        JwtError::IatOutOfRange,
    )?;
    let nbf = seconds(
        claims,
        "nbf",
        JwtError::NbfNotInteger,
        JwtError::NbfOutOfRange,
    )?;
    let exp = seconds(
        claims,
        "exp",
        JwtError::ExpNotInteger,
        JwtError::ExpOutOfRange,
    )?;
    string(claims, "jti", JwtError::JtiNotString)?;
    let aud = match claims.get("aud") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or(JwtError::AudNotString))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(JwtError::AudNotString),
    };
    Ok(Registered {
        iss,
        sub,
        aud,
        exp: exp.filter(|e| *e != 0),
        nbf,
        iat,
    })
}
