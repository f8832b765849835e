//! ES256 (ECDSA on P-256 with SHA-256) verification with precomputed tables.
//!
//! Verifying computes `u1·G + u2·Q`. The generic RustCrypto code does it as
//! two constant-time scalar multiplications, each rebuilding its window table
//! and doubling 256 times. Both points are known before any token arrives
//! (the generator, and the key once its JWKS is loaded), and nothing in a
//! verification is secret, so here each point gets a fixed-base table and the
//! sum costs about 105 point additions and no doublings.
//!
//! The field and point arithmetic is `p256_arith.rs` (p256's own emulates
//! 128-bit products on wasm32), and so is the inverse of `s`; signature
//! parsing, the other scalar arithmetic and the key's
//! validation stay p256's.

use crate::p256_arith::{invert_mod_n, to_affine_all, Affine, Fe, Jacobian};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};
use std::cell::OnceCell;
use std::sync::OnceLock;

/// Window widths in bits. The generator's table is built once per VM, so it
/// takes wider windows: 43 additions per verification instead of 65, for
/// 1376 points (88 KB) instead of 520. A key's table, one per key, keeps 4.
const G_BITS: u32 = 6;
const KEY_BITS: u32 = 4;
/// Signed digits of a 256-bit scalar: 65 at 4 bits (the carry out of the
/// top nibble makes the 65th), fewer for wider windows.
const MAX_WINDOWS: usize = 65;

/// Windows of `bits` bits for a 256-bit scalar with its carry:
/// `⌈257/bits⌉`, so that the top digit never carries (see `signed_digits`).
fn windows(bits: u32) -> usize {
    257usize.div_ceil(bits as usize)
}

/// `table[w·h + j-1] = j·2^(bits·w)·P` for a point `P`, `j` in `1..=h` with
/// `h = 2^(bits-1)`; made affine with a single inversion, so that a
/// verification's additions are mixed ones.
struct Table {
    bits: u32,
    points: Vec<Affine>,
}

impl Table {
    /// `None` for a point the arithmetic cannot take (not for a valid key).
    fn new(point: &ProjectivePoint, bits: u32) -> Option<Table> {
        let encoded = point.to_affine().to_encoded_point(false);
        let (Some(x), Some(y)) = (encoded.x(), encoded.y()) else {
            return None;
        };
        let b1 = Affine {
            x: Fe::from_bytes(&(*x).into())?,
            y: Fe::from_bytes(&(*y).into())?,
        };
        let half = 1usize << (bits - 1);
        let mut points = Vec::with_capacity(windows(bits) * half);
        let mut base = Jacobian::from(b1);
        for _ in 0..windows(bits) {
            let mut window: Vec<Jacobian> = Vec::with_capacity(half);
            window.push(base);
            for j in 2..=half {
                // Even multiples by doubling (cheaper), odd ones by adding the base.
                let next = if j % 2 == 0 {
                    window.get(j / 2 - 1).map(Jacobian::double)
                } else {
                    window.last().map(|p| p.add(&base))
                };
                window.push(next?);
            }
            base = window.last()?.double();
            points.extend_from_slice(&window);
        }
        to_affine_all(&points).map(|points| Table { bits, points })
    }

    /// Adds `k·P` to `acc`, `k` given as signed digits of this table's width.
    fn add_multiple(&self, acc: &mut Jacobian, digits: &[i8; MAX_WINDOWS]) {
        let half = 1usize << (self.bits - 1);
        for (w, &d) in digits.iter().enumerate() {
            if d == 0 {
                continue;
            }
            let index = w * half + usize::from(d.unsigned_abs()) - 1;
            if let Some(p) = self.points.get(index) {
                *acc = if d > 0 {
                    acc.add_affine(p)
                } else {
                    acc.add_affine(&p.neg())
                };
            }
        }
    }
}

/// Recodes a scalar into `windows(bits)` signed digits in
/// `-2^(bits-1)..=2^(bits-1)`, least significant first (`bits` ≤ 7).
///
/// The top window starts at bit `(W-1)·bits ≥ 257 - bits`, so its bits are
/// below `2^(bits-1)` and with a carry in it stays in range: no carry out.
fn signed_digits(k: &Scalar, bits: u32) -> [i8; MAX_WINDOWS] {
    let bytes = k.to_bytes();
    let bit = |i: usize| -> i16 {
        let byte = bytes
            .len()
            .checked_sub(1 + i / 8)
            .and_then(|at| bytes.get(at));
        byte.map_or(0, |b| i16::from((b >> (i % 8)) & 1))
    };
    let (radix, half) = (1i16 << bits, 1i16 << (bits - 1));
    let mut digits = [0i8; MAX_WINDOWS];
    let mut carry = 0i16;
    for (w, slot) in digits.iter_mut().take(windows(bits)).enumerate() {
        let start = w * bits as usize;
        let chunk = (0..bits as usize).fold(0i16, |acc, b| acc | bit(start + b) << b);
        let d = chunk + carry;
        (*slot, carry) = if d > half {
            ((d - radix) as i8, 1)
        } else {
            (d as i8, 0)
        };
    }
    digits
}

fn generator_table() -> Option<&'static Table> {
    // A VM is one thread; the table is built on the first ES256 token.
    static G: OnceLock<Option<Table>> = OnceLock::new();
    G.get_or_init(|| Table::new(&ProjectivePoint::GENERATOR, G_BITS))
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
            .get_or_init(|| Table::new(&ProjectivePoint::from(*self.key.as_affine()), KEY_BITS));
        let (Some(table), Some(g)) = (table.as_ref(), generator_table()) else {
            // Not reached for a valid key; p256's own verifier then.
            return self.key.verify(message, &sig).is_ok();
        };
        let z = <Scalar as Reduce<U256>>::reduce_bytes(&Sha256::digest(message));
        // s is in 1..n (checked by `from_slice`), so it has an inverse.
        let Some(s_inv) = invert_mod_n(&s.to_bytes().into()) else {
            return false;
        };
        let s_inv = <Scalar as Reduce<U256>>::reduce_bytes(&s_inv.into());
        let u1 = z * s_inv;
        let u2 = *r * s_inv;
        let mut sum = Jacobian::IDENTITY;
        g.add_multiple(&mut sum, &signed_digits(&u1, G_BITS));
        table.add_multiple(&mut sum, &signed_digits(&u2, KEY_BITS));
        sum.x_is(&r.to_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::expect_used)]
    use super::*;
    use p256::elliptic_curve::Group;

    fn from_digits(d: &[i8; MAX_WINDOWS], bits: u32) -> Scalar {
        let radix = Scalar::from(1u64 << bits);
        d.iter().rev().fold(Scalar::ZERO, |acc, &x| {
            let digit = Scalar::from(u64::from(x.unsigned_abs()));
            acc * radix + if x < 0 { -digit } else { digit }
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
            Scalar::from(0x2082_0820_8208_2082u64),
            Scalar::from(u64::MAX),
            -Scalar::ONE,
            -Scalar::from(7u64),
            Scalar::from(u64::MAX) * Scalar::from(u64::MAX) * Scalar::from(0xdead_beefu64),
        ];
        for bits in [KEY_BITS, 5, G_BITS, 7] {
            let half = 1i8 << (bits - 1);
            for k in samples {
                let d = signed_digits(&k, bits);
                assert!(d.iter().all(|&x| (-half..=half).contains(&x)), "{d:?}");
                assert!(d[windows(bits)..].iter().all(|&x| x == 0));
                assert_eq!(from_digits(&d, bits), k, "{bits} bits");
            }
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
        let key_table = Table::new(&g, KEY_BITS).expect("4-bit table");
        // Every entry: j·2^(bits·w)·G.
        for t in [table, &key_table] {
            let half = 1usize << (t.bits - 1);
            assert_eq!(t.points.len(), windows(t.bits) * half);
            let mut base = g;
            for w in 0..windows(t.bits) {
                let mut multiple = base;
                for j in 0..half {
                    let label = format!("{}·2^({}·{w})", j + 1, t.bits);
                    assert_eq!(t.points[w * half + j], ours(&multiple), "{label}");
                    multiple += base;
                }
                for _ in 0..t.bits {
                    base = base.double();
                }
            }
        }
        let mut k = Scalar::from(0x1234_5678_9abc_def0u64);
        for _ in 0..20 {
            let mut sum = Jacobian::IDENTITY;
            table.add_multiple(&mut sum, &signed_digits(&k, G_BITS));
            assert_eq!(affine(&sum), ours(&(g * k)));
            let mut sum = Jacobian::IDENTITY;
            key_table.add_multiple(&mut sum, &signed_digits(&k, KEY_BITS));
            assert_eq!(affine(&sum), ours(&(g * k)));
            k = k * k + Scalar::from(0x9e37_79b9u64);
        }
        let mut zero = Jacobian::IDENTITY;
        table.add_multiple(&mut zero, &signed_digits(&Scalar::ZERO, G_BITS));
        assert!(zero.is_identity());
        // Tables of other points, and both tables summed as in a verification.
        let mut q = g * Scalar::from(0xfeed_f00d_u64);
        for _ in 0..4 {
            let key_table = Table::new(&q, KEY_BITS).expect("key table");
            let (u1, u2) = (k, k * k + Scalar::ONE);
            let mut sum = Jacobian::IDENTITY;
            table.add_multiple(&mut sum, &signed_digits(&u1, G_BITS));
            key_table.add_multiple(&mut sum, &signed_digits(&u2, KEY_BITS));
            assert_eq!(affine(&sum), ours(&(g * u1 + q * u2)));
            k = k * k + Scalar::from(7u64);
            q *= k;
        }
        // k·G + (-k)·G: the last addition meets the opposite point.
        let mut cancel = Jacobian::IDENTITY;
        table.add_multiple(&mut cancel, &signed_digits(&k, G_BITS));
        table.add_multiple(&mut cancel, &signed_digits(&-k, G_BITS));
        assert!(cancel.is_identity());
    }

    /// The scalar inverse against p256's, at the edges and at random.
    #[test]
    fn scalar_inverses_agree_with_p256() {
        use p256::elliptic_curve::ops::Invert;
        let mut k = Scalar::from(0x0123_4567_89ab_cdefu64);
        let mut samples = vec![
            Scalar::ONE,
            Scalar::from(2u64),
            -Scalar::ONE,
            -Scalar::from(2u64),
        ];
        for _ in 0..200 {
            samples.push(k);
            k = k * k + Scalar::from(0x9e37_79b9_7f4a_7c15u64);
        }
        for s in samples {
            let ours = invert_mod_n(&s.to_bytes().into()).expect("nonzero");
            let theirs = Invert::invert_vartime(&s).unwrap();
            assert_eq!(ours, <[u8; 32]>::from(theirs.to_bytes()), "{s:?}");
        }
        assert!(invert_mod_n(&[0; 32]).is_none());
        assert!(invert_mod_n(&[0xff; 32]).is_none());
        let n: [u8; 32] = (-Scalar::ONE).to_bytes().into();
        let mut at_n = n;
        at_n[31] += 1; // n - 1 + 1 (its last byte is 0x50)
        assert!(invert_mod_n(&at_n).is_none());
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
