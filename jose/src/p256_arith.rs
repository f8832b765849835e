//! P-256 field and point arithmetic for `es256.rs`, on 32-bit words.
//!
//! Why not p256's own: its 32-bit field code widens to 64-bit words whose
//! products are emulated 128-bit arithmetic on wasm32 (its source says so:
//! "adapt 64-bit arithmetic to proper 32-bit arithmetic"), so a field
//! multiplication took 73 ns in V8 and a point addition 1.1 µs. Here a
//! multiplication is 64 native 32×32→64 products plus a Montgomery reduction
//! by p's shape, with no multiplications: about 42 ns in V8 (a generic
//! word-by-word Montgomery reduction, CIOS, made it about 50-60 ns).
//!
//! Points are Jacobian (`x = X/Z²`, `y = Y/Z³`) and the tables affine, so a
//! verification's additions are mixed additions (7M + 4S). The formulas are
//! incomplete; the cases they miss (equal or opposite points, the identity)
//! are tested for and handled. Everything here is public data (signature
//! verification): nothing needs to be constant-time.

/// p = 2²⁵⁶ - 2²²⁴ + 2¹⁹² + 2⁹⁶ - 1, least significant word first.
const P: [u32; 8] = [
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0,
    0,
    0,
    1,
    0xffff_ffff,
];

/// R² mod p with R = 2²⁵⁶: takes a number into Montgomery form.
const R2: [u32; 8] = [
    0x0000_0003,
    0x0000_0000,
    0xffff_ffff,
    0xffff_fffb,
    0xffff_fffe,
    0xffff_ffff,
    0xffff_fffd,
    0x0000_0004,
];

/// A field element in Montgomery form (`a·R mod p`), fully reduced, so that
/// equal elements have equal words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fe([u32; 8]);

/// `a < b`.
fn less(a: &[u32; 8], b: &[u32; 8]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a - b` and the borrow out.
fn sub_words(a: &[u32; 8], b: &[u32; 8]) -> ([u32; 8], bool) {
    let mut out = [0u32; 8];
    let mut borrow = 0u64;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let d = u64::from(x).wrapping_sub(u64::from(y)).wrapping_sub(borrow);
        *o = d as u32;
        borrow = d >> 63;
    }
    (out, borrow != 0)
}

/// `a + b` and the carry out.
fn add_words(a: &[u32; 8], b: &[u32; 8]) -> ([u32; 8], bool) {
    let mut out = [0u32; 8];
    let mut carry = 0u64;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let s = u64::from(x) + u64::from(y) + carry;
        *o = s as u32;
        carry = s >> 32;
    }
    (out, carry != 0)
}

impl Fe {
    pub const ZERO: Fe = Fe([0; 8]);
    /// 1 in Montgomery form: R mod p.
    pub const ONE: Fe = Fe([
        1,
        0,
        0,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_ffff,
        0xffff_fffe,
        0,
    ]);

    /// From 32 big-endian bytes; `None` at or above p.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Fe> {
        let mut words = [0u32; 8];
        for (w, chunk) in words.iter_mut().zip(bytes.rchunks_exact(4)) {
            *w = chunk.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b));
        }
        less(&words, &P).then(|| Fe(words).mul(&Fe(R2)))
    }

    /// To 32 big-endian bytes (out of Montgomery form).
    #[cfg(test)]
    pub fn to_bytes(self) -> [u8; 32] {
        let plain = self.mul(&Fe([1, 0, 0, 0, 0, 0, 0, 0]));
        let mut out = [0u8; 32];
        for (chunk, w) in out.rchunks_exact_mut(4).zip(plain.0) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }

    pub fn add(&self, b: &Fe) -> Fe {
        let (sum, carry) = add_words(&self.0, &b.0);
        if carry || !less(&sum, &P) {
            Fe(sub_words(&sum, &P).0)
        } else {
            Fe(sum)
        }
    }

    pub fn sub(&self, b: &Fe) -> Fe {
        let (diff, borrow) = sub_words(&self.0, &b.0);
        if borrow {
            Fe(add_words(&diff, &P).0)
        } else {
            Fe(diff)
        }
    }

    pub fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    pub fn double(&self) -> Fe {
        self.add(self)
    }

    /// `a·b·R⁻¹ mod p`: the 512-bit product, then Montgomery reduction by
    /// p's shape instead of by multiplications.
    ///
    /// The product's columns are summed without carries, each 32×32→64
    /// product split into its halves (a column of 8 halves fits easily in 64
    /// bits). The reduction adds `m·p·2^(32i)` for `m` the word at `i` (p ≡ -1
    /// mod 2³², so `m·p` clears it); `m·p` is `m` added at words i+3, i+6 and
    /// i+8 and subtracted at i and i+7, so signed 64-bit words take it with
    /// no multiplications and carries move once per word.
    pub fn mul(&self, b: &Fe) -> Fe {
        // Schoolbook rows with carries: t = a·b in 16 words.
        let mut t = [0u32; 16];
        for (i, &bi) in b.0.iter().enumerate() {
            let bi = u64::from(bi);
            let mut carry = 0u64;
            for (tj, &aj) in t.iter_mut().skip(i).zip(&self.0) {
                let s = u64::from(*tj) + u64::from(aj) * bi + carry;
                *tj = s as u32;
                carry = s >> 32;
            }
            if let Some(next) = t.get_mut(i + 8) {
                *next = carry as u32;
            }
        }
        redc(&t)
    }

    /// `a²·R⁻¹ mod p`: the cross products `a[i]·a[j]` (i < j) once, doubled,
    /// plus the squares: 36 products instead of 64.
    pub fn square(&self) -> Fe {
        let a = &self.0;
        let mut t = [0u32; 16];
        for (i, &ai) in a.iter().enumerate() {
            let ai = u64::from(ai);
            let mut carry = 0u64;
            for (tj, &aj) in t.iter_mut().skip(2 * i + 1).zip(a.iter().skip(i + 1)) {
                let s = u64::from(*tj) + u64::from(aj) * ai + carry;
                *tj = s as u32;
                carry = s >> 32;
            }
            if let Some(next) = t.get_mut(i + 8) {
                *next = carry as u32;
            }
        }
        // Doubled (the cross products sum below 2⁵¹¹: nothing shifts out).
        let mut top_bit = 0u32;
        for w in t.iter_mut() {
            let next = *w >> 31;
            *w = (*w << 1) | top_bit;
            top_bit = next;
        }
        let mut carry = 0u64;
        for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
            let sq = u64::from(ai) * u64::from(ai);
            for (w, half) in pair.iter_mut().zip([sq & 0xffff_ffff, sq >> 32]) {
                let s = u64::from(*w) + half + carry;
                *w = s as u32;
                carry = s >> 32;
            }
        }
        redc(&t)
    }
}

/// `t·R⁻¹ mod p` for `t < p²` in 16 words: Montgomery reduction by p's
/// shape (see `Fe::mul`).
fn redc(t: &[u32; 16]) -> Fe {
    let mut acc = [0i64; 17];
    for (a, &w) in acc.iter_mut().zip(t) {
        *a = i64::from(w);
    }
    let mut carry = 0i64;
    for i in 0..8 {
        let v = acc.get(i).copied().unwrap_or(0) + carry;
        let m = v & 0xffff_ffff;
        // v - m ≡ 0 (mod 2³²): the division is exact.
        carry = (v - m) >> 32;
        for (at, sign) in [(i + 3, 1), (i + 6, 1), (i + 7, -1), (i + 8, 1)] {
            if let Some(word) = acc.get_mut(at) {
                *word += sign * m;
            }
        }
    }
    // The upper half, with the last carry: T·R⁻¹ + (a multiple of p) in [0, 2p).
    let mut out = [0u32; 8];
    for (o, &word) in out.iter_mut().zip(acc.iter().skip(8)) {
        let v = word + carry;
        *o = v as u32;
        carry = v >> 32;
    }
    let top = acc.get(16).copied().unwrap_or(0) + carry;
    if top != 0 || !less(&out, &P) {
        Fe(sub_words(&out, &P).0)
    } else {
        Fe(out)
    }
}

impl Fe {
    /// `a⁻¹` as `a^(p-2)` (0 for 0): square and multiply, MSB first.
    pub fn invert(&self) -> Fe {
        let (e, _) = sub_words(&P, &[2, 0, 0, 0, 0, 0, 0, 0]);
        let mut acc = Fe::ONE;
        for word in e.iter().rev() {
            for bit in (0..32).rev() {
                acc = acc.square();
                if (word >> bit) & 1 == 1 {
                    acc = acc.mul(self);
                }
            }
        }
        acc
    }
}

/// The group order n, least significant word first.
const N: [u32; 8] = [
    0xfc63_2551,
    0xf3b9_cac2,
    0xa717_9e84,
    0xbce6_faad,
    0xffff_ffff,
    0xffff_ffff,
    0x0000_0000,
    0xffff_ffff,
];

fn is_even(x: &[u32; 8]) -> bool {
    x.first().is_none_or(|&w| w & 1 == 0)
}

/// `x >> 1`, `top` shifted in as bit 255.
fn half_words(x: &[u32; 8], top: bool) -> [u32; 8] {
    let mut out = [0u32; 8];
    let mut high = u32::from(top);
    for (o, &w) in out.iter_mut().zip(x).rev() {
        *o = (w >> 1) | (high << 31);
        high = w & 1;
    }
    out
}

/// `x/2 mod n` for `x < n`.
fn half_mod_n(x: &[u32; 8]) -> [u32; 8] {
    if is_even(x) {
        half_words(x, false)
    } else {
        let (sum, carry) = add_words(x, &N);
        half_words(&sum, carry)
    }
}

/// `a - b mod n` for `a, b < n`.
fn sub_mod_n(a: &[u32; 8], b: &[u32; 8]) -> [u32; 8] {
    let (diff, borrow) = sub_words(a, b);
    if borrow {
        add_words(&diff, &N).0
    } else {
        diff
    }
}

/// `s⁻¹ mod n` for a scalar in 1..n, as 32 big-endian bytes; `None` for 0
/// or at least n. Binary extended Euclid on 32-bit words (the algorithm
/// of p256's `invert_vartime`, which spends 7.6 µs in V8 on its generic
/// big integers); variable-time, as a verification can be.
pub fn invert_mod_n(s: &[u8; 32]) -> Option<[u8; 32]> {
    let mut u = [0u32; 8];
    for (w, chunk) in u.iter_mut().zip(s.rchunks_exact(4)) {
        *w = chunk.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b));
    }
    if u == [0; 8] || !less(&u, &N) {
        return None;
    }
    // A·s ≡ u and C·s ≡ v (mod n) throughout; v ends at gcd(s, n) = 1.
    let mut v = N;
    let mut a = [1, 0, 0, 0, 0, 0, 0, 0];
    let mut c = [0u32; 8];
    while u != [0; 8] {
        while is_even(&u) {
            u = half_words(&u, false);
            a = half_mod_n(&a);
        }
        while is_even(&v) {
            v = half_words(&v, false);
            c = half_mod_n(&c);
        }
        if less(&u, &v) {
            v = sub_words(&v, &u).0;
            c = sub_mod_n(&c, &a);
        } else {
            u = sub_words(&u, &v).0;
            a = sub_mod_n(&a, &c);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, w) in out.rchunks_exact_mut(4).zip(c) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    Some(out)
}

/// An affine point (never the identity).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Affine {
    pub x: Fe,
    pub y: Fe,
}

impl Affine {
    pub fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

/// A Jacobian point; `z = 0` is the identity.
#[derive(Clone, Copy, Debug)]
pub struct Jacobian {
    pub x: Fe,
    pub y: Fe,
    pub z: Fe,
}

impl From<Affine> for Jacobian {
    fn from(p: Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }
}

impl Jacobian {
    pub const IDENTITY: Jacobian = Jacobian {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    pub fn is_identity(&self) -> bool {
        self.z.is_zero()
    }

    /// `2P` ("dbl-2001-b", a = -3: 3M + 5S).
    pub fn double(&self) -> Jacobian {
        if self.is_identity() || self.y.is_zero() {
            return Jacobian::IDENTITY;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x = alpha.square().sub(&beta4.double());
        let z = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().double().double().double();
        let y = alpha.mul(&beta4.sub(&x)).sub(&gamma2_8);
        Jacobian { x, y, z }
    }

    /// `P + Q` for an affine `Q` ("madd-2007-bl": 7M + 4S).
    pub fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_identity() {
            return Jacobian::from(*q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let rr = s2.sub(&self.y);
        if h.is_zero() {
            // Same x: the same point (double it) or its opposite (sum 0).
            return if rr.is_zero() {
                self.double()
            } else {
                Jacobian::IDENTITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let r = rr.double();
        let v = self.x.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&self.y.mul(&j).double());
        let z = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian { x, y, z }
    }

    /// `P + Q` ("add-2007-bl": 11M + 5S), for building tables.
    pub fn add(&self, q: &Jacobian) -> Jacobian {
        if self.is_identity() {
            return *q;
        }
        if q.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let rr = s2.sub(&s1);
        if h.is_zero() {
            return if rr.is_zero() {
                self.double()
            } else {
                Jacobian::IDENTITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let r = rr.double();
        let v = u1.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub(&x)).sub(&s1.mul(&j).double());
        let z = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian { x, y, z }
    }

    /// Whether the affine x-coordinate, reduced mod the group order n, is
    /// `r` (ECDSA's final check), without an inversion: `X = r·Z²`, or
    /// `X = (r+n)·Z²` when `r + n < p` (x lies in [0, p), and p < 2n).
    /// `r` is 32 big-endian bytes below n.
    pub fn x_is(&self, r: &[u8; 32]) -> bool {
        /// n, and p - n, big-endian.
        const N: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];
        const P_MINUS_N: [u8; 32] = [
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x43, 0x19, 0x05, 0x53, 0x58, 0xe8,
            0x61, 0x7b, 0x0c, 0x46, 0x35, 0x3d, 0x03, 0x9c, 0xda, 0xae,
        ];
        if self.is_identity() {
            return false;
        }
        let (Some(r_fe), Some(n_fe)) = (Fe::from_bytes(r), Fe::from_bytes(&N)) else {
            return false;
        };
        let zz = self.z.square();
        if r_fe.mul(&zz) == self.x {
            return true;
        }
        // r < p - n: the big-endian bytes compare as the numbers do.
        r < &P_MINUS_N && r_fe.add(&n_fe).mul(&zz) == self.x
    }
}

/// The points in affine form, with one inversion for all (Montgomery's
/// trick); `None` if one is the identity.
pub fn to_affine_all(points: &[Jacobian]) -> Option<Vec<Affine>> {
    if points.iter().any(Jacobian::is_identity) {
        return None;
    }
    // prefix[i] = z[0]·…·z[i-1].
    let mut prefix = Vec::with_capacity(points.len());
    let mut product = Fe::ONE;
    for p in points {
        prefix.push(product);
        product = product.mul(&p.z);
    }
    let mut inv = product.invert();
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for ((o, p), before) in out.iter_mut().zip(points).zip(&prefix).rev() {
        // inv = (z[0]·…·z[i])⁻¹ here.
        let z_inv = inv.mul(before);
        inv = inv.mul(&p.z);
        let z2 = z_inv.square();
        *o = Affine {
            x: p.x.mul(&z2),
            y: p.y.mul(&z2.mul(&z_inv)),
        };
    }
    Some(out)
}

#[cfg(test)]
#[cfg(feature = "mint")]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, RngCore, SeedableRng};
    use rsa::BigUint;

    fn p() -> BigUint {
        BigUint::from_bytes_be(&Fe(P).to_be_words())
    }

    impl Fe {
        /// The words as big-endian bytes, as they are (no conversion).
        fn to_be_words(self) -> Vec<u8> {
            self.0.iter().rev().flat_map(|w| w.to_be_bytes()).collect()
        }
    }

    fn fe(x: &BigUint) -> Fe {
        let mut bytes = [0u8; 32];
        let b = x.to_bytes_be();
        bytes[32 - b.len()..].copy_from_slice(&b);
        Fe::from_bytes(&bytes).unwrap()
    }

    fn big(x: Fe) -> BigUint {
        BigUint::from_bytes_be(&x.to_bytes())
    }

    #[test]
    fn field_agrees_with_bigint() {
        let p = p();
        assert_eq!(
            p,
            BigUint::parse_bytes(
                b"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
                16
            )
            .unwrap()
        );
        let r = BigUint::from(1u32) << 256;
        assert_eq!(
            BigUint::from_bytes_be(&Fe(R2).to_be_words()),
            (&r * &r) % &p
        );
        assert_eq!(BigUint::from_bytes_be(&Fe::ONE.to_be_words()), &r % &p);
        assert!(Fe::from_bytes(&Fe(P).to_be_words().try_into().unwrap()).is_none());
        assert!(Fe::from_bytes(&[0xff; 32]).is_none());
        let mut rng = StdRng::seed_from_u64(3);
        let mut values: Vec<BigUint> = [0u32, 1, 2]
            .iter()
            .map(|&v| BigUint::from(v))
            .chain([&p - 1u32, &p - 2u32, BigUint::from(1u32) << 255])
            .collect();
        for _ in 0..40 {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            values.push(BigUint::from_bytes_be(&bytes) % &p);
        }
        // Many random products, and words at their extremes (all ones,
        // all zeros but one) where the reduction's signed words swing most.
        for _ in 0..2000 {
            let mut bytes = [0u8; 64];
            rng.fill_bytes(&mut bytes);
            let a = BigUint::from_bytes_be(&bytes[..32]) % &p;
            let b = BigUint::from_bytes_be(&bytes[32..]) % &p;
            assert_eq!(big(fe(&a).mul(&fe(&b))), (&a * &b) % &p, "{a} · {b}");
            assert_eq!(big(fe(&a).square()), (&a * &a) % &p, "{a}²");
        }
        for shift in (0..256).step_by(32) {
            for v in [
                (BigUint::from(1u32) << shift) % &p,
                ((BigUint::from(1u32) << (shift + 32)) - 1u32) % &p,
                (&p - 1u32) >> shift,
            ] {
                values.push(v);
            }
        }
        for a in &values {
            let fa = fe(a);
            assert_eq!(&big(fa), a);
            assert_eq!(big(fa.neg()), (&p - a) % &p);
            assert_eq!(big(fa.square()), (a * a) % &p);
            if *a != BigUint::from(0u32) {
                assert_eq!(big(fa.invert().mul(&fa)), BigUint::from(1u32), "{a}");
            } else {
                assert!(fa.invert().is_zero());
            }
            for b in values.iter().step_by(5) {
                let fb = fe(b);
                assert_eq!(big(fa.add(&fb)), (a + b) % &p);
                assert_eq!(big(fa.sub(&fb)), (a + &p - b) % &p);
                assert_eq!(big(fa.mul(&fb)), (a * b) % &p);
            }
        }
    }
}
