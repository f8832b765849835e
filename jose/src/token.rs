//! A compact JWS, split and decoded, nothing trusted yet.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::error::JwtError;

/// JOSE header parameters Portico understands. A `crit` naming anything
/// else makes the token invalid (RFC 7515 §4.1.11).
const UNDERSTOOD_CRIT: &[&str] = &[];

/// A compact JWS with any payload: what signature verification needs.
#[derive(Debug)]
pub struct Jws<'a> {
    pub alg: String,
    pub kid: Option<String>,
    /// `header.payload`, the signed bytes.
    pub signing_input: Cow<'a, str>,
    /// The payload as sent (base64url), for `forward_payload_header`.
    pub payload_b64: &'a str,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A JWT: a JWS whose payload is a JSON object of claims.
#[derive(Debug)]
pub struct Token<'a> {
    pub jws: Jws<'a>,
    pub claims: Map<String, Value>,
    /// The registered claims, their types checked.
    pub registered: crate::claims::Registered,
}

/// Strict base64url: no padding, no stray characters, no unused bits set
/// (the engine rejects non-canonical trailing bits).
fn b64(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

pub fn parse(text: &str) -> Result<Token<'_>, JwtError> {
    let (jws, claims) = split(text, true)?;
    let (claims, registered) = claims.unwrap_or_default();
    Ok(Token {
        jws,
        claims,
        registered,
    })
}

/// Splits and decodes a compact JWS, checking its header; the payload may be anything.
pub fn parse_jws(text: &str) -> Result<Jws<'_>, JwtError> {
    split(text, false).map(|(jws, _)| jws)
}

type Claims = (Map<String, Value>, crate::claims::Registered);

/// The checks in Envoy's order: header, payload (as claims, for a JWT: the
/// JSON, then the types of the registered claims), signature.
fn split(text: &str, claims: bool) -> Result<(Jws<'_>, Option<Claims>), JwtError> {
    // As Envoy splits: empty sections are skipped (`h..p.s` is `h.p.s`),
    // and exactly three must remain.
    let mut parts = text.split('.').filter(|part| !part.is_empty());
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::BadFormat);
    };
    let header_bytes = b64(h).ok_or(JwtError::HeaderBadBase64)?;
    // Duplicate keys are refused, as Envoy refuses them (`strict_json.rs`).
    let header = crate::strict_json::object(&header_bytes).ok_or(JwtError::HeaderBadJson)?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(JwtError::HeaderBadAlg),
    };
    if !crate::verify::is_supported(&alg) {
        return Err(JwtError::HeaderNotImplementedAlg);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JwtError::HeaderBadKid),
    };
    if let Some(crit) = header.get("crit") {
        let names = crit
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or(JwtError::HeaderBadCrit)?;
        for name in names {
            let name = name.as_str().ok_or(JwtError::HeaderBadCrit)?;
            if !UNDERSTOOD_CRIT.contains(&name) {
                return Err(JwtError::HeaderUnknownCrit);
            }
        }
    }
    // `jku`, `x5u`, `jwk`, `x5c` are ignored: keys come from configuration only.
    let payload = b64(p).ok_or(JwtError::PayloadBadBase64)?;
    let claims = if claims {
        let map = crate::strict_json::object(&payload).ok_or(JwtError::PayloadBadJson)?;
        let registered = crate::claims::read(&map)?;
        Some((map, registered))
    } else {
        None
    };
    let signature = b64(s).ok_or(JwtError::SignatureBadBase64)?;
    // The signed bytes are the two sections joined by one dot, whatever
    // empty sections the text held.
    let signing_input = match text.get(..h.len() + 1 + p.len()) {
        Some(prefix)
            if prefix.starts_with(h)
                && prefix.ends_with(p)
                && prefix.len() == h.len() + 1 + p.len()
                && prefix.as_bytes().get(h.len()) == Some(&b'.') =>
        {
            Cow::Borrowed(prefix)
        }
        _ => Cow::Owned(format!("{h}.{p}")),
    };
    let jws = Jws {
        alg,
        kid,
        signing_input,
        payload_b64: p,
        payload,
        signature,
    };
    Ok((jws, claims))
}
