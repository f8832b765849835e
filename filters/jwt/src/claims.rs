//! Registered claims: their JSON types (a format error, as in Envoy), then
//! issuer, time, audience and subject, in Envoy's order.

use crate::error::JwtError;
use portico::string_match::StringMatcher;
use serde_json::{Map, Value};

#[derive(Debug, Default)]
pub struct Registered {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
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

fn integer(
    claims: &Map<String, Value>,
    name: &str,
    err: JwtError,
) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or(err),
        Some(_) => Err(err),
    }
}

pub fn read(claims: &Map<String, Value>) -> Result<Registered, JwtError> {
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
        iss: string(claims, "iss", JwtError::IssNotString)?,
        sub: string(claims, "sub", JwtError::SubNotString)?,
        aud,
        exp: integer(claims, "exp", JwtError::ExpNotInteger)?,
        nbf: integer(claims, "nbf", JwtError::NbfNotInteger)?,
        iat: integer(claims, "iat", JwtError::IatNotInteger)?,
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
        let skew = self.clock_skew_secs;
        if let Some(nbf) = r.nbf {
            if now.saturating_add(skew) < nbf {
                return Err(JwtError::NotYetValid);
            }
        }
        match r.exp {
            Some(exp) if now > exp.saturating_add(skew) => return Err(JwtError::Expired),
            None if self.require_expiration || self.max_lifetime_secs.is_some() => {
                return Err(JwtError::NoExpiration)
            }
            _ => {}
        }
        if let (Some(max), Some(exp)) = (self.max_lifetime_secs, r.exp) {
            let start = r.iat.or(r.nbf).ok_or(JwtError::LifetimeTooLong)?;
            let lifetime = exp.saturating_sub(start);
            if lifetime < 0 || lifetime.unsigned_abs() > max {
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
