//! Keys and tokens for tests and demos (feature `mint`): deterministic key
//! pairs of every supported family and a signer that can also produce the
//! malformed and hostile tokens a verifier must refuse.

use crate::es_nist::{Es384, Es512};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::alg::{
    Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa, RsaPrivateKey,
};
use jwt_compact::{Algorithm, AlgorithmSignature};
use rand::SeedableRng;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

pub struct Keys {
    pub rsa: RsaPrivateKey,
    pub ec: p256::ecdsa::SigningKey,
    pub ec384: p384::ecdsa::SigningKey,
    pub ec521: p521::ecdsa::SigningKey,
    pub ed: ed25519_dalek::SigningKey,
    pub hmac: Vec<u8>,
}

pub const KID_RSA: &str = "rsa-1";
pub const KID_EC: &str = "ec-1";
pub const KID_EC384: &str = "ec384-1";
pub const KID_EC521: &str = "ec521-1";
pub const KID_ED: &str = "ed-1";
pub const KID_HMAC: &str = "hmac-1";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Keys {
    /// The same keys for the same seed.
    pub fn generate(seed: u64) -> Result<Keys, String> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let rsa = RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rng, &mut bytes);
        let ec = p256::ecdsa::SigningKey::from_bytes(&bytes.into()).map_err(|e| e.to_string())?;
        rand::RngCore::fill_bytes(&mut rng, &mut bytes);
        let ed = ed25519_dalek::SigningKey::from_bytes(&bytes);
        // 64 bytes: long enough for HS512 (RFC 7518 §3.2).
        let mut hmac = vec![0u8; 64];
        rand::RngCore::fill_bytes(&mut rng, &mut hmac);
        let ec384 = p384::ecdsa::SigningKey::random(&mut rng);
        let ec521 = p521::ecdsa::SigningKey::random(&mut rng);
        Ok(Keys {
            rsa,
            ec,
            ec384,
            ec521,
            ed,
            hmac,
        })
    }

    /// The JWKS that verifies these keys (the HMAC key included: it is a secret).
    pub fn jwks(&self) -> Value {
        let ec = self.ec.verifying_key().to_encoded_point(false);
        let ec384 = self.ec384.verifying_key().to_encoded_point(false);
        let ec521 = p521::ecdsa::VerifyingKey::from(&self.ec521).to_encoded_point(false);
        json!({"keys": [
            {"kty": "RSA", "kid": KID_RSA, "use": "sig",
             "n": b64(&self.rsa.n().to_bytes_be()), "e": b64(&self.rsa.e().to_bytes_be())},
            {"kty": "EC", "kid": KID_EC, "crv": "P-256", "alg": "ES256",
             "x": b64(ec.x().map(|x| &x[..]).unwrap_or_default()),
             "y": b64(ec.y().map(|y| &y[..]).unwrap_or_default())},
            {"kty": "EC", "kid": KID_EC384, "crv": "P-384", "alg": "ES384",
             "x": b64(ec384.x().map(|x| &x[..]).unwrap_or_default()),
             "y": b64(ec384.y().map(|y| &y[..]).unwrap_or_default())},
            {"kty": "EC", "kid": KID_EC521, "crv": "P-521", "alg": "ES512",
             "x": b64(ec521.x().map(|x| &x[..]).unwrap_or_default()),
             "y": b64(ec521.y().map(|y| &y[..]).unwrap_or_default())},
            {"kty": "OKP", "kid": KID_ED, "crv": "Ed25519", "alg": "EdDSA",
             "x": b64(self.ed.verifying_key().as_bytes())},
            {"kty": "oct", "kid": KID_HMAC, "k": b64(&self.hmac)}
        ]})
    }

    /// The key id that goes with an algorithm.
    pub fn kid_for(alg: &str) -> &'static str {
        match alg {
            "ES256" => KID_EC,
            "ES384" => KID_EC384,
            "ES512" => KID_EC521,
            "EdDSA" => KID_ED,
            "HS256" | "HS384" | "HS512" => KID_HMAC,
            _ => KID_RSA,
        }
    }

    /// Signs `header` (its `alg` chooses the key) and `claims`.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string();
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.signature(&alg, input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// Signs a header and a payload given as JSON text, exactly as written
    /// (duplicate keys, number spellings), with the key `alg` chooses.
    pub fn sign_raw(&self, alg: &str, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = self.signature(alg, input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// A token with the usual header (`alg`, `typ`, `kid`).
    pub fn token(&self, alg: &str, claims: &Value) -> String {
        self.sign(
            &json!({"alg": alg, "typ": "JWT", "kid": Self::kid_for(alg)}),
            claims,
        )
    }

    pub fn signature(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        match alg {
            "ES256" => Es256.sign(&self.ec, message).as_bytes().to_vec(),
            "ES384" => Es384.sign(&self.ec384, message).as_bytes().to_vec(),
            "ES512" => Es512.sign(&self.ec521, message).as_bytes().to_vec(),
            "EdDSA" => Ed25519.sign(&self.ed, message).as_bytes().to_vec(),
            "HS256" => Hs256
                .sign(&Hs256Key::new(&self.hmac), message)
                .as_bytes()
                .to_vec(),
            "HS384" => Hs384
                .sign(&Hs384Key::new(&self.hmac), message)
                .as_bytes()
                .to_vec(),
            "HS512" => Hs512
                .sign(&Hs512Key::new(&self.hmac), message)
                .as_bytes()
                .to_vec(),
            other => match other.parse::<Rsa>() {
                Ok(rsa) => rsa.sign(&self.rsa, message).as_bytes().to_vec(),
                Err(_) => Vec::new(),
            },
        }
    }

    /// An ES256 signature in DER, which JWS forbids (it wants R‖S).
    pub fn es256_der(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.ec, message);
        sig.to_der().as_bytes().to_vec()
    }

    /// An ES256 signature as (r, n − s): as valid to ECDSA as (r, s), and
    /// accepted by Envoy (BoringSSL does not insist on the low `s`).
    pub fn es256_high_s(&self, message: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.ec, message);
        let (r, s) = sig.split_scalars();
        p256::ecdsa::Signature::from_scalars(*r, -*s)
            .map(|flipped| flipped.to_bytes().to_vec())
            .unwrap_or_default()
    }

    /// HS256 keyed with the RSA public key's JWK text: the classic
    /// algorithm-confusion attack on verifiers that trust the token's `alg`.
    pub fn hs256_with_rsa_public_key(&self, claims: &Value) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": KID_RSA});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let jwks = self.jwks();
        let public = jwks
            .get("keys")
            .and_then(|k| k.get(0))
            .map(Value::to_string)
            .unwrap_or_default();
        let sig = Hs256.sign(&Hs256Key::new(public.as_bytes()), input.as_bytes());
        format!("{input}.{}", b64(&sig.as_bytes()))
    }
}

/// Base64url without padding, for hand-built tokens.
pub fn encode(bytes: &[u8]) -> String {
    b64(bytes)
}

/// The RS256 key pair a deployment's dev setup signs with (`envoy/keys/`):
/// kept as PKCS#8 PEM so other JWT tools can use the same file.
pub struct DevKey {
    key: RsaPrivateKey,
    kid: String,
}

impl DevKey {
    /// A fresh 2048-bit key (for `cargo xtask keys`).
    pub fn generate(kid: &str) -> Result<DevKey, String> {
        let mut rng = rand::rngs::OsRng;
        let key = RsaPrivateKey::new(&mut rng, 2048).map_err(|e| e.to_string())?;
        Ok(DevKey {
            key,
            kid: kid.to_string(),
        })
    }

    pub fn from_pem(pem: &str, kid: &str) -> Result<DevKey, String> {
        use rsa::pkcs8::DecodePrivateKey;
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not a PKCS#8 RSA private key: {e}"))?;
        Ok(DevKey {
            key,
            kid: kid.to_string(),
        })
    }

    pub fn to_pem(&self) -> Result<String, String> {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| e.to_string())
    }

    /// The public JWKS (one RSA key, `alg: RS256`).
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
            "n": b64(&self.key.n().to_bytes_be()), "e": b64(&self.key.e().to_bytes_be())
        }]})
    }

    /// An RS256 token for `claims`. PKCS#1 v1.5 signatures are deterministic:
    /// the same claims give the same token.
    pub fn token(&self, claims: &Value) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = Rsa::rs256().sign(&self.key, input.as_bytes());
        Ok(format!("{input}.{}", b64(&sig.as_bytes())))
    }
}
