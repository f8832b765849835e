//! ES256 (ECDSA on P-256 with SHA-256) verification with precomputed tables.
//!
//! Verifying computes `u1·G + u2·Q`. The generic RustCrypto code does it as
//! two constant-time scalar multiplications, each rebuilding its window table
//! and doubling 256 times. Both points are known before any token arrives
//! (the generator, and the key once its JWKS is loaded), and nothing in a
//! verification is secret, so here each point gets a fixed-base table and the
//! sum costs about 120 point additions and no doublings.
//!
//! The field and point arithmetic is `p256_arith.rs` (p256's own emulates
//! 128-bit products on wasm32); signature parsing, the scalars and the key's
//! validation stay p256's.

use crate::p256_arith::{to_affine_all, Affine, Fe, Jacobian};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::ops::{Invert, Reduce};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};
use std::cell::OnceCell;
use std::sync::OnceLock;

/// Signed radix-16 digits: a 256-bit scalar needs 65 of them (the carry out
/// of the top nibble makes the 65th).
const WINDOWS: usize = 65;
/// Digits lie in -8..=8; a window stores 1·B … 8·B and negates for the rest.
const PER_WINDOW: usize = 8;
const TABLE_LEN: usize = WINDOWS * PER_WINDOW;

/// `table[w·8 + j-1] = j·16^w·P` for a point `P`: 520 affine points, 33 KB,
/// made affine with a single inversion, so that a verification's additions
/// are mixed ones.
struct Table(Vec<Affine>);

impl Table {
    /// `None` for a point the arithmetic cannot take (not for a valid key).
    fn new(point: &ProjectivePoint) -> Option<Table> {
        let encoded = point.to_affine().to_encoded_point(false);
        let (Some(x), Some(y)) = (encoded.x(), encoded.y()) else {
            return None;
        };
        let b1 = Affine {
            x: Fe::from_bytes(&(*x).into())?,
            y: Fe::from_bytes(&(*y).into())?,
        };
        let mut points = Vec::with_capacity(TABLE_LEN);
        let mut b1 = Jacobian::from(b1);
        for _ in 0..WINDOWS {
            let b2 = b1.double();
            let b3 = b2.add(&b1);
            let b4 = b2.double();
            let b5 = b4.add(&b1);
            let b6 = b3.double();
            let b7 = b6.add(&b1);
            let b8 = b4.double();
            points.extend_from_slice(&[b1, b2, b3, b4, b5, b6, b7, b8]);
            b1 = b8.double();
        }
        to_affine_all(&points).map(Table)
    }

    /// Adds `k·P` to `acc`, `k` given as signed digits.
    fn add_multiple(&self, acc: &mut Jacobian, digits: &[i8; WINDOWS]) {
        for (w, &d) in digits.iter().enumerate() {
            if d == 0 {
                continue;
            }
            let index = w * PER_WINDOW + usize::from(d.unsigned_abs()) - 1;
            if let Some(p) = self.0.get(index) {
                *acc = if d > 0 {
                    acc.add_affine(p)
                } else {
                    acc.add_affine(&p.neg())
                };
            }
        }
    }
}

/// Recodes a scalar into signed radix-16 digits, least significant first.
fn signed_digits(k: &Scalar) -> [i8; WINDOWS] {
    let bytes = k.to_bytes();
    let mut digits = [0i8; WINDOWS];
    let mut carry = 0i8;
    let nibbles = bytes
        .iter()
        .rev()
        .flat_map(|b| [(b & 0x0f) as i8, (b >> 4) as i8]);
    for (slot, nibble) in digits.iter_mut().zip(nibbles) {
        let d = nibble + carry;
        if d > 8 {
            *slot = d - 16;
            carry = 1;
        } else {
            *slot = d;
            carry = 0;
        }
    }
    if let Some(last) = digits.last_mut() {
        *last = carry;
    }
    digits
}

fn generator_table() -> Option<&'static Table> {
    // A VM is one thread; the table is built on the first ES256 token.
    static G: OnceLock<Option<Table>> = OnceLock::new();
    G.get_or_init(|| Table::new(&ProjectivePoint::GENERATOR))
        .as_ref()
}

/// A P-256 public key from a JWKS; its table is built on first use, so keys
/// that never sign a token cost nothing.
pub struct P256Key {
    key: VerifyingKey,
    table: OnceCell<Option<Table>>,
}

impl P256Key {
    pub fn new(key: VerifyingKey) -> P256Key {
        P256Key {
            key,
            table: OnceCell::new(),
        }
    }

    /// The key as an uncompressed SEC1 point, for a native verifier.
    #[cfg(feature = "native-crypto")]
    pub(crate) fn sec1(&self) -> Vec<u8> {
        self.key.to_encoded_point(false).as_bytes().to_vec()
    }

    /// Checks a JWS signature: exactly 64 bytes of R‖S (never DER), both in
    /// 1..n, over SHA-256 of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != 64 {
            return false;
        }
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        let (r, s) = sig.split_scalars();
        let table = self
            .table
            .get_or_init(|| Table::new(&ProjectivePoint::from(*self.key.as_affine())));
        let (Some(table), Some(g)) = (table.as_ref(), generator_table()) else {
            // Not reached for a valid key; p256's own verifier then.
            return self.key.verify(message, &sig).is_ok();
        };
        let z = <Scalar as Reduce<U256>>::reduce_bytes(&Sha256::digest(message));
        let s_inv = *Invert::invert_vartime(&s);
        let u1 = z * s_inv;
        let u2 = *r * s_inv;
        let mut sum = Jacobian::IDENTITY;
        g.add_multiple(&mut sum, &signed_digits(&u1));
        table.add_multiple(&mut sum, &signed_digits(&u2));
        sum.x_is(&r.to_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::expect_used)]
    use super::*;
    use p256::elliptic_curve::Group;

    fn from_digits(d: &[i8; WINDOWS]) -> Scalar {
        let sixteen = Scalar::from(16u64);
        d.iter().rev().fold(Scalar::ZERO, |acc, &x| {
            let digit = Scalar::from(u64::from(x.unsigned_abs()));
            acc * sixteen + if x < 0 { -digit } else { digit }
        })
    }

    #[test]
    fn digits_rebuild_the_scalar_and_stay_in_range() {
        let samples = [
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(8u64),
            Scalar::from(9u64),
            Scalar::from(0x8888_8888u64),
            -Scalar::ONE,
            -Scalar::from(7u64),
            Scalar::from(u64::MAX) * Scalar::from(u64::MAX) * Scalar::from(0xdead_beefu64),
        ];
        for k in samples {
            let d = signed_digits(&k);
            assert!(d.iter().all(|&x| (-8..=8).contains(&x)), "{d:?}");
            assert_eq!(from_digits(&d), k);
        }
    }

    /// Affine coordinates of a p256 point as our field elements.
    fn ours(p: &ProjectivePoint) -> Affine {
        let e = p.to_affine().to_encoded_point(false);
        Affine {
            x: Fe::from_bytes(&(*e.x().unwrap()).into()).unwrap(),
            y: Fe::from_bytes(&(*e.y().unwrap()).into()).unwrap(),
        }
    }

    fn affine(p: &Jacobian) -> Affine {
        to_affine_all(&[*p]).expect("not the identity")[0]
    }

    #[test]
    fn tables_multiply_like_the_generic_code() {
        let g = ProjectivePoint::GENERATOR;
        let table = generator_table().expect("generator table");
        // Every entry: j·16^w·G.
        let mut base = g;
        for w in 0..WINDOWS {
            let mut multiple = base;
            for j in 0..PER_WINDOW {
                assert_eq!(
                    table.0[w * PER_WINDOW + j],
                    ours(&multiple),
                    "{j}+1 · 16^{w}"
                );
                multiple += base;
            }
            for _ in 0..4 {
                base = base.double();
            }
        }
        let mut k = Scalar::from(0x1234_5678_9abc_def0u64);
        for _ in 0..20 {
            let mut sum = Jacobian::IDENTITY;
            table.add_multiple(&mut sum, &signed_digits(&k));
            assert_eq!(affine(&sum), ours(&(g * k)));
            k = k * k + Scalar::from(0x9e37_79b9u64);
        }
        let mut zero = Jacobian::IDENTITY;
        table.add_multiple(&mut zero, &signed_digits(&Scalar::ZERO));
        assert!(zero.is_identity());
        // Tables of other points, and both tables summed as in a verification.
        let mut q = g * Scalar::from(0xfeed_f00d_u64);
        for _ in 0..4 {
            let key_table = Table::new(&q).expect("key table");
            let (u1, u2) = (k, k * k + Scalar::ONE);
            let mut sum = Jacobian::IDENTITY;
            table.add_multiple(&mut sum, &signed_digits(&u1));
            key_table.add_multiple(&mut sum, &signed_digits(&u2));
            assert_eq!(affine(&sum), ours(&(g * u1 + q * u2)));
            k = k * k + Scalar::from(7u64);
            q *= k;
        }
        // k·G + (-k)·G: the last addition meets the opposite point.
        let mut cancel = Jacobian::IDENTITY;
        table.add_multiple(&mut cancel, &signed_digits(&k));
        table.add_multiple(&mut cancel, &signed_digits(&-k));
        assert!(cancel.is_identity());
    }

    /// The cases the incomplete formulas leave out: the identity, a point
    /// plus itself, a point plus its opposite; and mixed against full addition.
    #[test]
    fn additions_handle_their_special_cases() {
        let g = ProjectivePoint::GENERATOR;
        let (a1, a2, a3) = (ours(&g), ours(&g.double()), ours(&(g.double() + g)));
        let j1 = Jacobian::from(a1);
        assert_eq!(affine(&Jacobian::IDENTITY.add_affine(&a1)), a1);
        assert_eq!(affine(&j1.add_affine(&a1)), a2);
        assert!(j1.add_affine(&a1.neg()).is_identity());
        assert_eq!(affine(&j1.double()), a2);
        assert!(Jacobian::IDENTITY.double().is_identity());
        // A point with Z ≠ 1: 2G as computed, plus G, plus -2G.
        let j2 = j1.double();
        assert_eq!(affine(&j2.add_affine(&a1)), a3);
        assert_eq!(affine(&j2.add(&j1)), a3);
        assert_eq!(affine(&j2.add(&j2)), ours(&g.double().double()));
        assert!(j2.add_affine(&a2.neg()).is_identity());
        assert!(j2.add(&Jacobian::from(a2.neg())).is_identity());
        assert_eq!(affine(&j2.add_affine(&a2)), ours(&g.double().double()));
        assert_eq!(affine(&j2.add(&Jacobian::IDENTITY)), a2);
        assert_eq!(affine(&Jacobian::IDENTITY.add(&j2)), a2);
        assert!(to_affine_all(&[j1, Jacobian::IDENTITY]).is_none());
    }

    /// ECDSA's check of x mod n against r, including x in [n, p) (which no
    /// signature search would find: about one point in 2^128).
    #[test]
    fn x_coordinate_check_covers_x_above_n() {
        use crate::p256_arith::Fe;
        let be = |hex: &str| -> [u8; 32] {
            let mut out = [0u8; 32];
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            out[32 - bytes.len()..].copy_from_slice(&bytes);
            out
        };
        let n = be("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let z = Fe::from_bytes(&be("0123456789abcdef0123456789abcdef0123456789abcdef")).unwrap();
        let point = |x: &Fe| Jacobian {
            x: x.mul(&z.square()),
            y: Fe::ONE,
            z,
        };
        let fe = |b: &[u8; 32]| Fe::from_bytes(b).unwrap();
        let small = be("4319055358e8617b0c46353d039cdaad"); // p - n - 1
        let n_fe = fe(&n);
        // x = r, and x = r + n (< p) both match r.
        assert!(point(&fe(&small)).x_is(&small));
        assert!(point(&fe(&small).add(&n_fe)).x_is(&small));
        assert!(!point(&fe(&small).add(&Fe::ONE)).x_is(&small));
        // r = p - n: r + n = p ≡ 0, which is not x = p - n.
        let edge = be("4319055358e8617b0c46353d039cdaae");
        assert!(!point(&Fe::ZERO).x_is(&edge));
        assert!(point(&fe(&edge)).x_is(&edge));
        // A large r: only x = r.
        let big = be("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
        assert!(point(&fe(&big)).x_is(&big));
        assert!(!point(&fe(&big).add(&Fe::ONE)).x_is(&big));
        assert!(!Jacobian::IDENTITY.x_is(&big));
    }
}

#[cfg(test)]
mod differential {
    //! Against p256's own verifier, with signatures from its signer.
    #![allow(clippy::indexing_slicing, clippy::expect_used)]
    use super::*;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::SigningKey;
    use p256::elliptic_curve::bigint::ArrayEncoding;
    use p256::elliptic_curve::Curve;
    use p256::NistP256;

    fn signing_key(i: u32) -> SigningKey {
        let mut seed = Sha256::digest(format!("portico es256 key {i}"));
        loop {
            if let Ok(k) = SigningKey::from_bytes(&seed) {
                return k;
            }
            seed = Sha256::digest(seed);
        }
    }

    /// Our verdict must match p256's on every input, and `expected` names it.
    fn agree(key: &P256Key, message: &[u8], signature: &[u8], expected: bool) {
        let theirs =
            Signature::from_slice(signature).is_ok_and(|sig| key.key.verify(message, &sig).is_ok());
        assert_eq!(theirs, expected, "p256 itself");
        assert_eq!(key.verify(message, signature), expected);
    }

    #[test]
    fn signatures_from_p256_verify_and_every_corruption_fails() {
        for i in 0..12 {
            let sk = signing_key(i);
            let key = P256Key::new(*sk.verifying_key());
            let other = P256Key::new(*signing_key(i + 100).verifying_key());
            for j in 0..4 {
                let message = format!("header{i}.payload{j}");
                let sig: Signature = sk.sign(message.as_bytes());
                let bytes = sig.to_bytes();
                agree(&key, message.as_bytes(), &bytes, true);
                // (r, n - s) is the same signature to ECDSA; JWS and Envoy accept it too.
                let (r, s) = sig.split_scalars();
                let flipped = Signature::from_scalars(*r, -*s).expect("n - s is in range");
                agree(&key, message.as_bytes(), &flipped.to_bytes(), true);
                agree(&other, message.as_bytes(), &bytes, false);
                agree(&key, format!("{message}!").as_bytes(), &bytes, false);
                for bit in (0..512).step_by(37) {
                    let mut bad = bytes.to_vec();
                    bad[bit / 8] ^= 1 << (bit % 8);
                    agree(&key, message.as_bytes(), &bad, false);
                }
            }
        }
    }

    #[test]
    fn out_of_range_and_misshapen_signatures_fail() {
        let sk = signing_key(7);
        let key = P256Key::new(*sk.verifying_key());
        let message = b"a.b";
        let sig: Signature = sk.sign(message);
        let bytes = sig.to_bytes();
        // r = 0, s = 0, r = n, s = all ones.
        let order: [u8; 32] = NistP256::ORDER.to_be_byte_array().into();
        for (at, value) in [
            (0, [0u8; 32]),
            (32, [0u8; 32]),
            (0, order),
            (32, [0xff; 32]),
        ] {
            let mut bad = bytes.to_vec();
            bad[at..at + 32].copy_from_slice(&value);
            agree(&key, message, &bad, false);
        }
        assert!(!key.verify(message, &bytes[..63]));
        assert!(!key.verify(message, &[&bytes[..], &[0]].concat()));
        assert!(!key.verify(message, sig.to_der().as_bytes()));
        assert!(!key.verify(message, &[]));
    }
}
