//! What a provider demands of the registered claims, read and type-checked
//! by `portico_jose::claims`: issuer, time, audience and subject, in Envoy's order.

use crate::error::JwtError;
use portico::config::string_match::StringMatcher;
pub use portico_jose::claims::Registered;

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
