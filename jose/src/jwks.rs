//! JWKS documents: parsed and checked once, into keys ready to verify with.

use crate::es256::P256Key;
use crate::es_nist::{Es384, Es512};
use crate::rsa_verify::RsaKey;
use jwt_compact::alg::{Ed25519, Es256, Hs256Key, Hs384Key, Hs512Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::Algorithm;
use serde_json::Value;

/// Bounds on what a JWKS may hold (configurable per provider).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_keys: usize,
}

/// The key families a token's `alg` may use; a key is never used outside its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    P256,
    P384,
    P521,
    Ed25519,
    Hmac,
}

pub enum Material {
    Rsa(RsaKey),
    P256(P256Key),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Ed25519(<Ed25519 as Algorithm>::VerifyingKey),
    /// The raw secret; the HMAC key type depends on the token's `alg`.
    Hmac(Vec<u8>),
}

pub struct Key {
    pub kid: Option<String>,
    /// The JWK's `alg`, when present: the only algorithm this key verifies.
    pub alg: Option<String>,
    pub material: Material,
}

impl Key {
    pub fn family(&self) -> Family {
        match self.material {
            Material::Rsa(_) => Family::Rsa,
            Material::P256(_) => Family::P256,
            Material::P384(_) => Family::P384,
            Material::P521(_) => Family::P521,
            Material::Ed25519(_) => Family::Ed25519,
            Material::Hmac(_) => Family::Hmac,
        }
    }

    pub fn hs256(&self) -> Option<Hs256Key> {
        match &self.material {
            Material::Hmac(k) => Some(Hs256Key::new(k)),
            _ => None,
        }
    }

    pub fn hs384(&self) -> Option<Hs384Key> {
        match &self.material {
            Material::Hmac(k) => Some(Hs384Key::new(k)),
            _ => None,
        }
    }

    pub fn hs512(&self) -> Option<Hs512Key> {
        match &self.material {
            Material::Hmac(k) => Some(Hs512Key::new(k)),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Key {
    // Never prints key material (an `oct` key is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family())
            .finish()
    }
}

/// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
pub fn hmac_min_len(alg: &str) -> usize {
    match alg {
        "HS384" => 48,
        "HS512" => 64,
        _ => 32,
    }
}

/// For each HMAC key too short for some of the algorithms it could serve, a
/// warning naming its `kid` and those algorithms: such a key is never used
/// for them, and every token they sign gets 401.
pub fn short_hmac_warnings(keys: &[Key]) -> Vec<String> {
    keys.iter()
        .filter_map(|key| {
            let Material::Hmac(secret) = &key.material else {
                return None;
            };
            let refused: Vec<&str> = ["HS256", "HS384", "HS512"]
                .into_iter()
                .filter(|alg| key.alg.as_deref().is_none_or(|a| a == *alg))
                .filter(|alg| secret.len() < hmac_min_len(alg))
                .collect();
            (!refused.is_empty()).then(|| {
                format!(
                    "HMAC key {} is {} bytes, shorter than RFC 7518 §3.2 allows for {}: tokens signed with {} and this key will be refused",
                    key.kid.as_deref().map_or_else(|| "without kid".to_string(), |k| format!("kid {k:?}")),
                    secret.len(),
                    refused.join(", "),
                    if refused.len() == 1 { "it" } else { "them" },
                )
            })
        })
        .collect()
}

/// Parses a JWKS document. Keys that cannot verify signatures here (other
/// curves, encryption keys, malformed ones) are skipped, as Envoy does; a
/// document with no usable key is an error.
pub fn parse(text: &str, limits: Limits) -> Result<Vec<Key>, String> {
    if text.len() > limits.max_bytes {
        return Err(format!(
            "JWKS is {} bytes, over the limit of {}",
            text.len(),
            limits.max_bytes
        ));
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let keys = match doc.get("keys") {
        Some(Value::Array(keys)) => keys.as_slice(),
        Some(_) => return Err("JWKS `keys` is not an array".into()),
        // A single JWK, as Envoy also accepts.
        None if doc.get("kty").is_some() => std::slice::from_ref(&doc),
        None => return Err("JWKS has no `keys`".into()),
    };
    if keys.len() > limits.max_keys {
        return Err(format!(
            "JWKS has {} keys, over the limit of {}",
            keys.len(),
            limits.max_keys
        ));
    }
    let parsed: Vec<Key> = keys.iter().filter_map(|k| parse_key(k).ok()).collect();
    if parsed.is_empty() {
        return Err("JWKS has no valid keys".into());
    }
    Ok(parsed)
}

fn parse_key(jwk: &Value) -> Result<Key, String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return Err("not a signature key".into());
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("key_ops does not allow verify".into());
        }
    }
    let kid = field("kid").map(str::to_string);
    let alg = field("alg").map(str::to_string);
    let parsed: JsonWebKey<'_> =
        serde_json::from_value(jwk.clone()).map_err(|e| format!("bad JWK: {e}"))?;
    let material = match (&parsed, field("kty")) {
        (
            JsonWebKey::Rsa {
                modulus,
                public_exponent,
                private_parts,
            },
            _,
        ) => {
            if private_parts.is_some() {
                return Err("private RSA key in a JWKS".into());
            }
            Material::Rsa(RsaKey::new(modulus, public_exponent)?)
        }
        (
            JsonWebKey::EllipticCurve {
                curve,
                secret,
                x,
                y,
            },
            _,
        ) => {
            if secret.is_some() {
                return Err("private EC key in a JWKS".into());
            }
            let bad = || format!("invalid {curve} point");
            match curve.as_ref() {
                "P-256" => Material::P256(P256Key::new(
                    <Es256 as Algorithm>::VerifyingKey::try_from(&parsed)
                        .map_err(|e| e.to_string())?,
                )),
                "P-384" => Material::P384(Es384::key_from_coordinates(x, y).ok_or_else(bad)?),
                "P-521" => Material::P521(Es512::key_from_coordinates(x, y).ok_or_else(bad)?),
                other => return Err(format!("curve {other} is not supported")),
            }
        }
        (JsonWebKey::KeyPair { curve, secret, .. }, _) => {
            if secret.is_some() {
                return Err("private OKP key in a JWKS".into());
            }
            if curve != "Ed25519" {
                return Err(format!("curve {curve} is not supported"));
            }
            Material::Ed25519(
                <Ed25519 as Algorithm>::VerifyingKey::try_from(&parsed)
                    .map_err(|e| e.to_string())?,
            )
        }
        (JsonWebKey::Symmetric { secret }, _) => {
            let bytes: &[u8] = secret;
            if bytes.is_empty() {
                return Err("empty oct key".into());
            }
            Material::Hmac(bytes.to_vec())
        }
        _ => return Err("unsupported key type".into()),
    };
    Ok(Key { kid, alg, material })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hmac_keys_are_named_with_what_they_cannot_serve() {
        let key = |kid: Option<&str>, alg: Option<&str>, len: usize| Key {
            kid: kid.map(str::to_string),
            alg: alg.map(str::to_string),
            material: Material::Hmac(vec![1; len]),
        };
        let warnings = short_hmac_warnings(&[
            key(Some("a"), None, 32),
            key(Some("b"), Some("HS256"), 32),
            key(None, None, 16),
            key(Some("d"), Some("HS384"), 40),
        ]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains(r#"kid "a" is 32 bytes"#)
                && warnings[0].contains("for HS384, HS512:")
        );
        assert!(
            warnings[1].contains("without kid is 16 bytes")
                && warnings[1].contains("HS256, HS384, HS512")
        );
        assert!(warnings[2].contains(r#"kid "d""#) && warnings[2].contains("for HS384:"));
    }
}
