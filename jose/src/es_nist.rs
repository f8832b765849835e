//! ES384 (P-384, SHA-384) and ES512 (P-521, SHA-512), which jwt-compact 0.8
//! does not provide, implemented through its `Algorithm` trait.

use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;
use std::num::NonZeroUsize;

macro_rules! nist_algorithm {
    ($alg:ident, $sig:ident, $curve:ident, $name:literal, $len:literal) => {
        /// The JWS algorithm; verification only (signing keys are for tests).
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $alg;

        /// A raw R‖S signature of exactly the curve's size (never DER).
        #[derive(Debug, Clone)]
        pub struct $sig($curve::ecdsa::Signature);

        impl AlgorithmSignature for $sig {
            const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new($len);

            fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
                if slice.len() != $len {
                    anyhow::bail!("signature must be {} bytes", $len);
                }
                $curve::ecdsa::Signature::from_slice(slice)
                    .map($sig)
                    .map_err(|e| anyhow::anyhow!("bad signature: {e}"))
            }

            fn as_bytes(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.0.to_bytes().to_vec())
            }
        }

        impl Algorithm for $alg {
            type SigningKey = $curve::ecdsa::SigningKey;
            type VerifyingKey = $curve::ecdsa::VerifyingKey;
            type Signature = $sig;

            fn name(&self) -> Cow<'static, str> {
                Cow::Borrowed($name)
            }

            fn sign(&self, key: &Self::SigningKey, message: &[u8]) -> Self::Signature {
                $sig($curve::ecdsa::signature::Signer::sign(key, message))
            }

            fn verify_signature(
                &self,
                sig: &Self::Signature,
                key: &Self::VerifyingKey,
                message: &[u8],
            ) -> bool {
                $curve::ecdsa::signature::Verifier::verify(key, message, &sig.0).is_ok()
            }
        }

        impl $alg {
            /// The public key from a JWK's `x` and `y`.
            pub fn key_from_coordinates(x: &[u8], y: &[u8]) -> Option<$curve::ecdsa::VerifyingKey> {
                let mut fx = $curve::FieldBytes::default();
                let mut fy = $curve::FieldBytes::default();
                if x.len() != fx.len() || y.len() != fy.len() {
                    return None;
                }
                fx.copy_from_slice(x);
                fy.copy_from_slice(y);
                let (x, y) = (&fx, &fy);
                let point = $curve::EncodedPoint::from_affine_coordinates(x, y, false);
                $curve::ecdsa::VerifyingKey::from_encoded_point(&point).ok()
            }
        }
    };
}

nist_algorithm!(Es384, Es384Signature, p384, "ES384", 96);
nist_algorithm!(Es512, Es512Signature, p521, "ES512", 132);
