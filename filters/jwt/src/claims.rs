//! Registered claims: their JSON types (a format error, as in Envoy), then
//! issuer, time, audience and subject, in Envoy's order.

use crate::error::JwtError;
use portico::config::string_match::StringMatcher;
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

/// What a provider demands of the claims.
#[derive(Debug)]
pub struct Policy {
    pub issuer: Option<String>,
    /// Normalised (see [`normalise_audience`]).
    pub audiences: Vec<String>,
    pub subjects: Option<StringMatcher>,
    pub require_expiration: bool,
    pub max_lifetime_secs: Option<u64>,
    pub clock_skew_secs: i64,
}

/// Envoy compares audiences without a leading `http://`/`https://` and a trailing `/`.
pub fn normalise_audience(aud: &str) -> String {
    let a = aud
        .strip_prefix("https://")
        .or_else(|| aud.strip_prefix("http://"))
        .unwrap_or(aud);
    a.strip_suffix('/').unwrap_or(a).to_string()
}

impl Policy {
    pub fn check_issuer(&self, r: &Registered) -> Result<(), JwtError> {
        match &self.issuer {
            Some(want) if r.iss.as_deref() != Some(want.as_str()) => Err(JwtError::UnknownIssuer),
            _ => Ok(()),
        }
    }

    /// The rest, after the issuer: time, audiences (`audiences` overrides
    /// the provider's, for `provider_and_audiences`), subject.
    pub fn check(
        &self,
        r: &Registered,
        now: i64,
        audiences: Option<&[String]>,
    ) -> Result<(), JwtError> {
        let now = u64::try_from(now).unwrap_or(0);
        let skew = u64::try_from(self.clock_skew_secs).unwrap_or(0);
        // Unsigned and wrapping like Envoy's `uint64_t` arithmetic: an `exp`
        // within `skew` of 2^64 wraps to the past and is expired there too.
        if let Some(nbf) = r.nbf {
            if now.wrapping_add(skew) < nbf {
                return Err(JwtError::NotYetValid);
            }
        }
        match r.exp {
            Some(exp) if now > exp.wrapping_add(skew) => return Err(JwtError::Expired),
            None if self.require_expiration || self.max_lifetime_secs.is_some() => {
                return Err(JwtError::NoExpiration)
            }
            _ => {}
        }
        // As in Envoy: the lifetime runs from `nbf`, else from `iat`; with
        // neither (or an `exp` before them) there is nothing to measure.
        if let (Some(max), Some(exp)) = (self.max_lifetime_secs, r.exp) {
            let start = r.nbf.filter(|n| *n != 0).or(r.iat.filter(|i| *i != 0));
            if start.is_some_and(|start| exp.saturating_sub(start) > max) {
                return Err(JwtError::LifetimeTooLong);
            }
        }
        let allowed = audiences.unwrap_or(&self.audiences);
        if !allowed.is_empty()
            && !r
                .aud
                .iter()
                .any(|a| allowed.contains(&normalise_audience(a)))
        {
            return Err(JwtError::AudienceNotAllowed);
        }
        if let Some(m) = &self.subjects {
            if !r.sub.as_deref().is_some_and(|s| m.matches(s)) {
                return Err(JwtError::SubjectNotAllowed);
            }
        }
        Ok(())
    }
}
