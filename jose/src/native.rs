//! Verification through `ring` (feature `native-crypto`, native builds:
//! libportico.so). Same inputs and verdicts as the portable code of
//! `rsa_verify.rs`, `es256.rs` and jwt-compact, at BoringSSL's speed:
//! keys are validated once, at JWKS load, by the portable types, so the
//! two paths see the same keys; the corpora check the verdicts agree.
//!
//! ES512 (P-521) and the HMACs stay portable: `ring` has no P-521, and
//! HMAC is not where the time goes.

use crate::es256::P256Key;
use crate::rsa_verify::{Hash, RsaKey, Scheme};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

pub fn rsa(key: &RsaKey, scheme: Scheme, message: &[u8], sig: &[u8]) -> bool {
    let params: &signature::RsaParameters = match scheme {
        Scheme::Pkcs1(Hash::Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        Scheme::Pkcs1(Hash::Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        Scheme::Pkcs1(Hash::Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        Scheme::Pss(Hash::Sha256) => &signature::RSA_PSS_2048_8192_SHA256,
        Scheme::Pss(Hash::Sha384) => &signature::RSA_PSS_2048_8192_SHA384,
        Scheme::Pss(Hash::Sha512) => &signature::RSA_PSS_2048_8192_SHA512,
    };
    // A signature of another length than the modulus: the portable code
    // refuses it too, and ring would left-pad a shorter one.
    if sig.len() != key.n_bytes.len() {
        return false;
    }
    RsaPublicKeyComponents {
        n: &key.n_bytes,
        e: &key.e_bytes,
    }
    .verify(params, message, sig)
    .is_ok()
}

fn point(alg: &'static dyn VerificationAlgorithm, key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(alg, key)
        .verify(message, sig)
        .is_ok()
}

pub fn es256(key: &P256Key, message: &[u8], sig: &[u8]) -> bool {
    sig.len() == 64
        && point(
            &signature::ECDSA_P256_SHA256_FIXED,
            &key.sec1(),
            message,
            sig,
        )
}

pub fn es384(key: &p384::ecdsa::VerifyingKey, message: &[u8], sig: &[u8]) -> bool {
    let encoded = key.to_encoded_point(false);
    sig.len() == 96
        && point(
            &signature::ECDSA_P384_SHA384_FIXED,
            encoded.as_bytes(),
            message,
            sig,
        )
}

pub fn ed25519(key: &[u8; 32], message: &[u8], sig: &[u8]) -> bool {
    sig.len() == 64 && point(&signature::ED25519, key, message, sig)
}
