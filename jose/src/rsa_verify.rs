//! RSA signature verification (RS256/384/512, PS256/384/512) on 32-bit limbs.
//!
//! Why not the `rsa` crate through jwt-compact: on wasm32 its big integers
//! use 64-bit digits whose products are emulated 128-bit arithmetic, and
//! every operation allocates. Verifying only needs `s^e mod n` with a small
//! public exponent, which Montgomery multiplication on `u32` limbs (native
//! 32×32→64 multiplies in wasm) does several times faster. Everything here
//! is public data, so nothing needs to be constant-time.
//!
//! The Montgomery constants of a key are computed once, when the JWKS is
//! loaded; a verification allocates three limb buffers.

use sha2::digest::Digest;
use sha2::{Sha256, Sha384, Sha512};

/// RFC 7518 §3.3: RSA keys of at least 2048 bits. The upper bound keeps one
/// verification's cost bounded (work grows with the square of the size).
pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }

    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// The DER `DigestInfo` header of RFC 8017 §9.2, note 1 (with the NULL
    /// parameters, the only form BoringSSL accepts).
    fn digest_info(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// The JWS RSA algorithms (RFC 7518 §3.3, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Pkcs1(Hash),
    /// PSS with MGF1 of the same hash and a salt as long as the hash.
    Pss(Hash),
}

impl Scheme {
    pub fn from_alg(alg: &str) -> Option<Scheme> {
        Some(match alg {
            "RS256" => Scheme::Pkcs1(Hash::Sha256),
            "RS384" => Scheme::Pkcs1(Hash::Sha384),
            "RS512" => Scheme::Pkcs1(Hash::Sha512),
            "PS256" => Scheme::Pss(Hash::Sha256),
            "PS384" => Scheme::Pss(Hash::Sha384),
            "PS512" => Scheme::Pss(Hash::Sha512),
            _ => return None,
        })
    }
}

/// A public key with its Montgomery constants.
#[derive(Clone)]
pub struct RsaKey {
    /// The modulus, least significant limb first.
    n: Vec<u32>,
    /// `-n⁻¹ mod 2³²`.
    n0inv: u32,
    /// `R² mod n`, with `R = 2^(32·limbs)`: takes a number into Montgomery form.
    rr: Vec<u32>,
    e: u64,
    /// Length of the modulus in bytes (= of a signature) and in bits.
    bytes: usize,
    bits: usize,
    /// `n` and `e` as big-endian bytes, for a native verifier.
    #[cfg(feature = "native-crypto")]
    pub(crate) n_bytes: Vec<u8>,
    #[cfg(feature = "native-crypto")]
    pub(crate) e_bytes: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("bits", &self.bits).finish()
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// Big-endian bytes into `limbs` little-endian limbs (the value must fit).
fn to_limbs(bytes: &[u8], limbs: usize) -> Vec<u32> {
    let mut out = vec![0u32; limbs];
    for (i, &b) in bytes.iter().rev().enumerate() {
        if let Some(limb) = out.get_mut(i / 4) {
            *limb |= u32::from(b) << (8 * (i % 4));
        }
    }
    out
}

/// `a < b`, both of the same length.
fn less(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b`, returning the borrow.
fn sub_in_place(a: &mut [u32], b: &[u32]) -> bool {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = u64::from(*x)
            .wrapping_sub(u64::from(y))
            .wrapping_sub(borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
    borrow != 0
}

impl RsaKey {
    /// A key from a JWK's `n` and `e` (unsigned big-endian bytes).
    pub fn new(n: &[u8], e: &[u8]) -> Result<RsaKey, String> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = n
            .first()
            .map_or(0, |&top| 8 * n.len() - top.leading_zeros() as usize);
        if bits < MIN_BITS {
            return Err(format!("RSA key shorter than {MIN_BITS} bits"));
        }
        if bits > MAX_BITS {
            return Err(format!("RSA key longer than {MAX_BITS} bits"));
        }
        if n.last().is_none_or(|&low| low & 1 == 0) {
            return Err("RSA modulus is even".into());
        }
        // As BoringSSL: an odd exponent of 2 to 33 bits.
        if e.len() > 5 {
            return Err("RSA exponent is too large".into());
        }
        let e_value = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if e_value < 3 || e_value & 1 == 0 || e_value >= 1 << 33 {
            return Err("RSA exponent must be odd, at least 3 and under 2^33".into());
        }
        let limbs = n.len().div_ceil(4);
        let n_limbs = to_limbs(n, limbs);
        let n0 = n_limbs.first().copied().unwrap_or(1);
        // Newton's iteration doubles the correct low bits each step: 1 → 32 in 5.
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        let rr = r_squared(&n_limbs);
        Ok(RsaKey {
            n: n_limbs,
            n0inv: inv.wrapping_neg(),
            rr,
            e: e_value,
            bytes: n.len(),
            bits,
            #[cfg(feature = "native-crypto")]
            n_bytes: n.to_vec(),
            #[cfg(feature = "native-crypto")]
            e_bytes: e.to_vec(),
        })
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Checks a JWS signature over `message`.
    pub fn verify(&self, scheme: Scheme, message: &[u8], signature: &[u8]) -> bool {
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        match scheme {
            Scheme::Pkcs1(hash) => pkcs1_matches(&em, hash, message),
            Scheme::Pss(hash) => pss_matches(&em, self.bits - 1, hash, message),
        }
    }

    /// `signature^e mod n` as `bytes` big-endian bytes; `None` when the
    /// signature has the wrong length or is not below `n` (RFC 8017 §5.2.2).
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.bytes {
            return None;
        }
        let l = self.n.len();
        let s = to_limbs(signature, l);
        if !less(&s, &self.n) {
            return None;
        }
        let mut scratch = vec![0u32; l + 2];
        let mut base = vec![0u32; l];
        self.mont_mul(&s, &self.rr, &mut base, &mut scratch);
        let mut acc = base.clone();
        let mut tmp = vec![0u32; l];
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            self.mont_mul(&acc, &acc, &mut tmp, &mut scratch);
            if (self.e >> bit) & 1 == 1 {
                self.mont_mul(&tmp, &base, &mut acc, &mut scratch);
            } else {
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        // Out of Montgomery form: multiply by 1.
        let mut one = vec![0u32; l];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        self.mont_mul(&acc, &one, &mut tmp, &mut scratch);
        let mut out = vec![0u8; self.bytes];
        for (i, byte) in out.iter_mut().rev().enumerate() {
            let limb = tmp.get(i / 4).copied().unwrap_or(0);
            *byte = (limb >> (8 * (i % 4))) as u8;
        }
        Some(out)
    }

    /// `out = a·b·R⁻¹ mod n` (CIOS), for `a, b < n`; `scratch` has `l + 2` limbs.
    /// Iterators rather than indices: the hot loops then carry no bounds checks.
    fn mont_mul(&self, a: &[u32], b: &[u32], out: &mut [u32], scratch: &mut [u32]) {
        let n = self.n.as_slice();
        let l = n.len();
        scratch.fill(0);
        let (t, top) = scratch.split_at_mut(l);
        let [t_l, t_h] = top else {
            return;
        };
        for &ai in a {
            let ai = u64::from(ai);
            let mut carry = 0u64;
            for (tj, &bj) in t.iter_mut().zip(b) {
                let s = u64::from(*tj) + ai * u64::from(bj) + carry;
                *tj = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(*t_l) + carry;
            *t_l = s as u32;
            *t_h = (s >> 32) as u32;
            // Adding m·n clears the low limb; then everything moves down one.
            let m = u64::from(t.first().copied().unwrap_or(0).wrapping_mul(self.n0inv));
            let mut carry = 0u64;
            for (tj, &nj) in t.iter_mut().zip(n) {
                let s = u64::from(*tj) + m * u64::from(nj) + carry;
                *tj = s as u32;
                carry = s >> 32;
            }
            let s = u64::from(*t_l) + carry;
            t.copy_within(1.., 0);
            if let Some(last) = t.last_mut() {
                *last = s as u32;
            }
            *t_l = *t_h + (s >> 32) as u32;
            *t_h = 0;
        }
        if *t_l != 0 || !less(t, n) {
            sub_in_place(t, n);
        }
        out.copy_from_slice(t);
    }
}

/// `R² mod n` by doubling 1 into place, `2·32·limbs` times: slow, once per key.
fn r_squared(n: &[u32]) -> Vec<u32> {
    let mut x = vec![0u32; n.len()];
    if let Some(first) = x.first_mut() {
        *first = 1;
    }
    for _ in 0..64 * n.len() {
        let mut carry = 0u32;
        for limb in x.iter_mut() {
            let next = *limb >> 31;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry != 0 || !less(&x, n) {
            sub_in_place(&mut x, n);
        }
    }
    x
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): the one encoding there is, built and compared.
fn pkcs1_matches(em: &[u8], hash: Hash, message: &[u8]) -> bool {
    let info = hash.digest_info();
    let t_len = info.len() + hash.len();
    let Some(pad) = em.len().checked_sub(t_len + 3) else {
        return false;
    };
    // Also RFC 8017's minimum of 8 padding bytes; always true from 2048 bits.
    if pad < 8 {
        return false;
    }
    let mut expected = Vec::with_capacity(em.len());
    expected.extend_from_slice(&[0x00, 0x01]);
    expected.resize(2 + pad, 0xff);
    expected.push(0x00);
    expected.extend_from_slice(info);
    expected.extend_from_slice(&hash.digest(&[message]));
    expected == em
}

/// MGF1 (RFC 8017 §B.2.1), XORed into `out`.
fn mgf1_xor(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in out.chunks_mut(hash.len()).enumerate() {
        let c = (counter as u32).to_be_bytes();
        let mask = hash.digest(&[seed, &c]);
        for (o, m) in chunk.iter_mut().zip(mask) {
            *o ^= m;
        }
    }
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with a salt of the hash's length, as
/// RFC 7518 §3.5 requires. `em` is the public operation's output, `em_bits`
/// the modulus length in bits minus one.
fn pss_matches(em: &[u8], em_bits: usize, hash: Hash, message: &[u8]) -> bool {
    let h_len = hash.len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // The public operation gives `bytes` bytes; when the modulus has 8k+1
    // bits the encoded message is one byte shorter and its top byte is 0.
    let Some(extra) = em.len().checked_sub(em_len) else {
        return false;
    };
    let Some((lead, em)) = em.split_at_checked(extra) else {
        return false;
    };
    if lead.iter().any(|&b| b != 0) || em_len < h_len + s_len + 2 {
        return false;
    }
    if em.last() != Some(&0xbc) {
        return false;
    }
    let db_len = em_len - h_len - 1;
    let Some((masked_db, rest)) = em.split_at_checked(db_len) else {
        return false;
    };
    let Some(h) = rest.get(..h_len) else {
        return false;
    };
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8.checked_shr(unused_bits as u32).unwrap_or(0);
    if masked_db.first().is_none_or(|&b| b & !top_mask != 0) {
        return false;
    }
    let mut db = masked_db.to_vec();
    mgf1_xor(hash, h, &mut db);
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    let zeros = db_len - s_len - 1;
    let (Some(ps), Some(&one), Some(salt)) = (db.get(..zeros), db.get(zeros), db.get(zeros + 1..))
    else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) || one != 0x01 {
        return false;
    }
    let m_hash = hash.digest(&[message]);
    hash.digest(&[&[0u8; 8], &m_hash, salt]) == h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_outside_the_bounds_are_refused() {
        let e = [1, 0, 1];
        let mut n = vec![0xffu8; 256];
        assert!(RsaKey::new(&n, &e).is_ok());
        assert!(RsaKey::new(&n[1..], &e)
            .unwrap_err()
            .contains("shorter than 2048"));
        assert!(RsaKey::new(&vec![0xffu8; 1025], &e)
            .unwrap_err()
            .contains("longer than 8192"));
        // Leading zero bytes do not count towards the size.
        let mut padded = vec![0u8; 4];
        padded.extend_from_slice(&n[1..]);
        assert!(RsaKey::new(&padded, &e).is_err());
        for bad in [
            &[1u8][..],
            &[2],
            &[1, 0, 0],
            &[2, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 1],
        ] {
            assert!(RsaKey::new(&n, bad).is_err(), "e = {bad:?}");
        }
        if let Some(last) = n.last_mut() {
            *last = 0xfe;
        }
        assert_eq!(RsaKey::new(&n, &e).unwrap_err(), "RSA modulus is even");
    }

    #[test]
    fn montgomery_constants_hold() {
        // n = 2^2048 - 1 is odd; R = 2^2048 ≡ 1 (mod n), so R² mod n = 1.
        let key = RsaKey::new(&[0xffu8; 256], &[3]).unwrap();
        assert_eq!(key.rr.first(), Some(&1));
        assert!(key.rr.iter().skip(1).all(|&l| l == 0));
        let n0 = key.n.first().copied().unwrap();
        assert_eq!(n0.wrapping_mul(key.n0inv), u32::MAX);
        // 2^3 mod n through the public operation: s = 2, e = 3.
        let mut s = vec![0u8; 256];
        s[255] = 2;
        let out = key.public_op(&s).unwrap();
        assert_eq!(out[255], 8);
        assert!(out[..255].iter().all(|&b| b == 0));
        // s ≥ n and a wrong length are refused before any arithmetic.
        assert!(key.public_op(&[0xffu8; 256]).is_none());
        assert!(key.public_op(&[1u8; 255]).is_none());
    }

    /// Against the `rsa` crate (RustCrypto) as the signer: every scheme, key
    /// sizes including one of 8k+1 bits (where PSS drops the top byte), and
    /// bit flips spread over the signature refused.
    #[cfg(feature = "mint")]
    #[test]
    fn agrees_with_rustcrypto_signatures() {
        use rand::{rngs::StdRng, RngCore, SeedableRng};
        use rsa::traits::PublicKeyParts;
        use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey};

        let mut rng = StdRng::seed_from_u64(11);
        let mut keys = Vec::new();
        for bits in [2048, 2049, 3072] {
            keys.push(RsaPrivateKey::new(&mut rng, bits).unwrap());
        }
        keys.push(RsaPrivateKey::new_with_exp(&mut rng, 2048, &BigUint::from(3u32)).unwrap());
        for private in &keys {
            let public = private.to_public_key();
            let key = RsaKey::new(&public.n().to_bytes_be(), &public.e().to_bytes_be()).unwrap();
            assert_eq!(key.bits(), public.n().bits());
            for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
                let scheme = Scheme::from_alg(alg).unwrap();
                let mut message = vec![0u8; 1 + (rng.next_u32() % 300) as usize];
                rng.fill_bytes(&mut message);
                let hash = match scheme {
                    Scheme::Pkcs1(h) | Scheme::Pss(h) => h,
                };
                let digest = hash.digest(&[&message]);
                let signature = match (scheme, hash) {
                    (Scheme::Pkcs1(_), Hash::Sha256) => {
                        private.sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
                    }
                    (Scheme::Pkcs1(_), Hash::Sha384) => {
                        private.sign(Pkcs1v15Sign::new::<Sha384>(), &digest)
                    }
                    (Scheme::Pkcs1(_), Hash::Sha512) => {
                        private.sign(Pkcs1v15Sign::new::<Sha512>(), &digest)
                    }
                    (Scheme::Pss(_), Hash::Sha256) => {
                        private.sign_with_rng(&mut rng, Pss::new::<Sha256>(), &digest)
                    }
                    (Scheme::Pss(_), Hash::Sha384) => {
                        private.sign_with_rng(&mut rng, Pss::new::<Sha384>(), &digest)
                    }
                    (Scheme::Pss(_), Hash::Sha512) => {
                        private.sign_with_rng(&mut rng, Pss::new::<Sha512>(), &digest)
                    }
                }
                .unwrap();
                let label = format!("{alg} with {} bits, e = {}", key.bits(), key.e);
                assert!(key.verify(scheme, &message, &signature), "{label}");
                // The other schemes of the same key must refuse it.
                for other in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
                    if other != alg {
                        let other = Scheme::from_alg(other).unwrap();
                        assert!(
                            !key.verify(other, &message, &signature),
                            "{label} as {other:?}"
                        );
                    }
                }
                let mut tampered = message.clone();
                tampered[0] ^= 1;
                assert!(
                    !key.verify(scheme, &tampered, &signature),
                    "{label}: message"
                );
                for bit in (0..signature.len() * 8).step_by(61) {
                    let mut bad = signature.clone();
                    bad[bit / 8] ^= 1 << (bit % 8);
                    assert!(!key.verify(scheme, &message, &bad), "{label}: bit {bit}");
                }
            }
        }
    }
}
