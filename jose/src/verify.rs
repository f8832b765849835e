//! Signature verification: choosing keys for a token, and checking with them.

use crate::error::JwtError;
use crate::es_nist::{Es384, Es512};
use crate::jwks::{hmac_min_len, Family, Key, Material};
use crate::rsa_verify::Scheme;
use crate::token::Jws;
use jwt_compact::alg::{Ed25519, Hs256, Hs384, Hs512};
use jwt_compact::{Algorithm, AlgorithmSignature};

/// The family of keys an `alg` may use. `none` and anything unknown have none.
fn family(alg: &str) -> Option<Family> {
    Some(match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Family::Rsa,
        "ES256" => Family::P256,
        "ES384" => Family::P384,
        "ES512" => Family::P521,
        "EdDSA" => Family::Ed25519,
        "HS256" | "HS384" | "HS512" => Family::Hmac,
        _ => return None,
    })
}

pub fn is_supported(alg: &str) -> bool {
    family(alg).is_some()
}

/// Verifies `token` with the keys that may sign it. As in Envoy, a key
/// matches when its `kid` equals the token's (if both name one) and
/// its own `alg`, if it has one, equals the token's; among those, only keys
/// of the algorithm's family are ever used to verify.
pub fn verify(token: &Jws<'_>, keys: &[Key]) -> Result<(), JwtError> {
    verify_with(token, keys, Engine::DEFAULT)
}

/// Which code checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Portico's own code and jwt-compact's: the `.wasm`'s.
    Portable,
    /// `ring` for RSA, P-256, P-384 and Ed25519 (feature `native-crypto`).
    #[cfg(feature = "native-crypto")]
    Native,
}

impl Engine {
    #[cfg(feature = "native-crypto")]
    pub const DEFAULT: Engine = Engine::Native;
    #[cfg(not(feature = "native-crypto"))]
    pub const DEFAULT: Engine = Engine::Portable;
}

/// [`verify`] with a chosen [`Engine`] (the conformance tests run both).
pub fn verify_with(token: &Jws<'_>, keys: &[Key], engine: Engine) -> Result<(), JwtError> {
    let family = family(&token.alg).ok_or(JwtError::HeaderNotImplementedAlg)?;
    let mut matched = false;
    for key in keys {
        let alg_differs = key.alg.as_deref().is_some_and(|a| a != token.alg);
        // Only two non-empty `kid`s that differ rule a key out: a key
        // without `kid` is tried for every token, as in Envoy.
        let kid_differs = match (token.kid.as_deref(), key.kid.as_deref()) {
            (Some(want), Some(have)) => !want.is_empty() && !have.is_empty() && want != have,
            _ => false,
        };
        if alg_differs || kid_differs {
            continue;
        }
        matched = true;
        if key.family() == family
            && check(
                &token.alg,
                key,
                token.signing_input.as_bytes(),
                &token.signature,
                engine,
            )
        {
            return Ok(());
        }
    }
    if matched {
        Err(JwtError::VerificationFail)
    } else {
        Err(JwtError::KidAlgMismatch)
    }
}

fn with<A: Algorithm>(alg: A, key: &A::VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    // jwt-compact 0.8's HMAC signatures panic on a slice of the wrong length
    // (found by the Wycheproof vectors), so lengths are checked here first.
    // A DER-encoded ECDSA signature is refused by the same check.
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature.len()) {
        return false;
    }
    match A::Signature::try_from_slice(signature) {
        Ok(sig) => alg.verify_signature(&sig, key, message),
        Err(_) => false,
    }
}

fn check(alg: &str, key: &Key, message: &[u8], signature: &[u8], engine: Engine) -> bool {
    #[cfg(feature = "native-crypto")]
    if engine == Engine::Native {
        use crate::native;
        match (&key.material, alg) {
            (Material::Rsa(k), _) => {
                return Scheme::from_alg(alg).is_some_and(|s| native::rsa(k, s, message, signature))
            }
            (Material::P256(k), "ES256") => return native::es256(k, message, signature),
            (Material::P384(k), "ES384") => return native::es384(k, message, signature),
            (Material::Ed25519(k), "EdDSA") => {
                return native::ed25519(k.as_bytes(), message, signature)
            }
            _ => {}
        }
    }
    let _ = engine;
    match (&key.material, alg) {
        (Material::Rsa(k), _) => {
            Scheme::from_alg(alg).is_some_and(|s| k.verify(s, message, signature))
        }
        (Material::P256(k), "ES256") => k.verify(message, signature),
        (Material::P384(k), "ES384") => with(Es384, k, message, signature),
        (Material::P521(k), "ES512") => with(Es512, k, message, signature),
        (Material::Ed25519(k), "EdDSA") => with(Ed25519, k, message, signature),
        // RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
        (Material::Hmac(k), "HS256" | "HS384" | "HS512") if k.len() < hmac_min_len(alg) => {
            log::debug!(
                "jwt: HMAC key {:?} is {} bytes, shorter than {alg} allows ({}); not used",
                key.kid.as_deref().unwrap_or(""),
                k.len(),
                hmac_min_len(alg)
            );
            false
        }
        (Material::Hmac(_), "HS256") => key
            .hs256()
            .is_some_and(|k| with(Hs256, &k, message, signature)),
        (Material::Hmac(_), "HS384") => key
            .hs384()
            .is_some_and(|k| with(Hs384, &k, message, signature)),
        (Material::Hmac(_), "HS512") => key
            .hs512()
            .is_some_and(|k| with(Hs512, &k, message, signature)),
        _ => false,
    }
}
