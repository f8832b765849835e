//! RSA signature verification (RS256/384/512, PS256/384/512) on 28-bit limbs.
//!
//! Why not the `rsa` crate through jwt-compact: on wasm32 its big integers
//! use 64-bit digits whose products are emulated 128-bit arithmetic, and
//! every operation allocates. Verifying only needs `s^e mod n` with a small
//! public exponent, which Montgomery multiplication on 32-bit words (native
//! 32×32→64 multiplies in wasm) does several times faster. The limbs hold 28
//! bits (27 above 3582-bit keys), not 32: a whole column of products then
//! sums in a `u64` with no carry from one product to the next (see `Mont`),
//! which halved the time per verification in V8 against full 32-bit limbs
//! with carry-propagating loops. On wasm the columns run four products at a
//! time in SIMD128 (`i64x2.extmul`), which Envoy's V8 supports. Everything
//! here is public data, so nothing needs to be constant-time.
//!
//! The Montgomery constants of a key are computed once, when the JWKS is
//! loaded; a verification allocates a few limb buffers.

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
    mont: Mont,
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

/// Big-endian bytes into `limbs` little-endian limbs of `w` bits; `None`
/// when the value does not fit.
fn to_limbs(bytes: &[u8], w: u32, limbs: usize) -> Option<Vec<u32>> {
    let mask = (1u64 << w) - 1;
    let mut out = Vec::with_capacity(limbs + 1);
    let (mut acc, mut have) = (0u64, 0u32);
    for &b in bytes.iter().rev() {
        acc |= u64::from(b) << have;
        have += 8;
        if have >= w {
            out.push((acc & mask) as u32);
            acc >>= w;
            have -= w;
        }
    }
    out.push(acc as u32);
    if out
        .get(limbs..)
        .is_some_and(|high| high.iter().any(|&x| x != 0))
    {
        return None;
    }
    out.resize(limbs, 0);
    Some(out)
}

/// `w`-bit limbs into `len` big-endian bytes (the value must fit).
fn to_bytes(limbs: &[u32], w: u32, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let (mut acc, mut have) = (0u64, 0u32);
    let mut limbs = limbs.iter();
    for byte in out.iter_mut().rev() {
        if have < 8 {
            acc |= u64::from(limbs.next().copied().unwrap_or(0)) << have;
            have += w;
        }
        *byte = acc as u8;
        acc >>= 8;
        have -= 8;
    }
    out
}

/// `a < b`, both of the same length and limb width.
fn less(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` on `w`-bit limbs, for `a ≥ b`.
fn sub_in_place(a: &mut [u32], b: &[u32], w: u32) {
    let mut borrow = 0u32;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        // A wrapped difference has bits above the limb's width set.
        borrow = d >> w & 1;
        *x = d & ((1 << w) - 1);
    }
}

/// `Σ x[i]·y[i]` over the shorter length: one column of a product, its
/// second operand stored backwards so that both run forwards.
///
/// The limbs are narrower than 32 bits so that a whole column adds up in a
/// `u64` without carries (`Mont::new` proves the bound): the products are
/// independent, with no carry chain from one to the next as in
/// operand-scanning multiplication on full 32-bit limbs. On wasm, four
/// products at a time in SIMD lanes (see `Lanes`).
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
#[inline]
fn dot(x: &[u32], y: &[u32], z: Zero) -> u64 {
    let len = x.len().min(y.len());
    let (x, y) = (
        x.get(..len).unwrap_or_default(),
        y.get(..len).unwrap_or_default(),
    );
    let (xs, ys) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: u64 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(&a, &b)| u64::from(a) * u64::from(b))
        .sum();
    let mut acc = Lanes::ZERO;
    for (a, b) in xs.zip(ys) {
        acc = acc.add_products(a, b, z);
    }
    acc.sum() + tail
}

/// Two `u64` lanes of a column sum: SIMD128 on wasm (`i64x2.extmul` makes
/// two 32×32→64 products per instruction; Envoy's V8 runs SIMD), and the
/// same arithmetic in plain integers elsewhere, so that native tests cover
/// `dot`'s chunking.
#[derive(Clone, Copy)]
struct Lanes(
    #[cfg(target_arch = "wasm32")] core::arch::wasm32::v128,
    #[cfg(not(target_arch = "wasm32"))] [u64; 2],
);

/// An all-zero vector that the optimiser cannot prove is zero, or-ed into
/// the limbs loaded for `i64x2.extmul`: on plain loads LLVM rewrites the
/// extmul into `v128.load32x2_u` and a full `i64x2.mul`, which V8 compiles to
/// three `pmuludq` and shifts; with this it stays one `pmuludq` and two
/// unpacks. In V8 (node 20) RS256-2048 took 72 µs per verification with
/// LLVM's rewrite, 42 µs without it (and 59 µs on scalar code).
#[derive(Clone, Copy)]
struct Zero(#[cfg(target_arch = "wasm32")] core::arch::wasm32::v128);

impl Zero {
    #[cfg(target_arch = "wasm32")]
    #[target_feature(enable = "simd128")]
    fn new() -> Zero {
        Zero(std::hint::black_box(core::arch::wasm32::u32x4_splat(0)))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn new() -> Zero {
        Zero()
    }
}

#[cfg(target_arch = "wasm32")]
impl Lanes {
    const ZERO: Lanes = Lanes(core::arch::wasm32::u64x2(0, 0));

    /// Adds `a[i]·b[i]` for four limbs (`a` and `b` have four).
    #[target_feature(enable = "simd128")]
    #[inline]
    fn add_products(self, a: &[u32], b: &[u32], z: Zero) -> Lanes {
        use core::arch::wasm32::*;
        let (Ok(&[a0, a1, a2, a3]), Ok(&[b0, b1, b2, b3])) =
            (<&[u32; 4]>::try_from(a), <&[u32; 4]>::try_from(b))
        else {
            return self;
        };
        let a = v128_or(u32x4(a0, a1, a2, a3), z.0);
        let b = v128_or(u32x4(b0, b1, b2, b3), z.0);
        let low = i64x2_add(self.0, u64x2_extmul_low_u32x4(a, b));
        Lanes(i64x2_add(low, u64x2_extmul_high_u32x4(a, b)))
    }

    #[target_feature(enable = "simd128")]
    #[inline]
    fn sum(self) -> u64 {
        use core::arch::wasm32::*;
        u64x2_extract_lane::<0>(self.0) + u64x2_extract_lane::<1>(self.0)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Lanes {
    const ZERO: Lanes = Lanes([0, 0]);

    #[inline]
    fn add_products(self, a: &[u32], b: &[u32], _: Zero) -> Lanes {
        let (Ok(&[a0, a1, a2, a3]), Ok(&[b0, b1, b2, b3])) =
            (<&[u32; 4]>::try_from(a), <&[u32; 4]>::try_from(b))
        else {
            return self;
        };
        let p = |x: u32, y: u32| u64::from(x) * u64::from(y);
        let [l0, l1] = self.0;
        Lanes([l0 + p(a0, b0) + p(a2, b2), l1 + p(a1, b1) + p(a3, b3)])
    }

    #[inline]
    fn sum(self) -> u64 {
        let [l0, l1] = self.0;
        l0 + l1
    }
}

/// Montgomery arithmetic modulo `n` on limbs of `w` < 32 bits held in `u32`s
/// (product scanning: each column of `a·b + m·n` summed whole, then one
/// shift carries it into the next), with `R = 2^(w·limbs) > 4n` so that
/// operands and results may stay in `[0, 2n)` without a subtraction after
/// each product. Public data only: nothing here needs to be constant-time.
#[derive(Clone)]
struct Mont {
    /// Limb width in bits.
    w: u32,
    /// The modulus, least significant limb first.
    n: Vec<u32>,
    /// The same, most significant limb first (the columns' second operand).
    n_rev: Vec<u32>,
    /// `-n⁻¹ mod 2^w`.
    n0inv: u32,
    /// `R² mod n` (takes a number into Montgomery form), most significant limb first.
    rr_rev: Vec<u32>,
}

/// `x` backwards into `out` (of the same length).
fn reverse_into(x: &[u32], out: &mut [u32]) {
    for (o, &v) in out.iter_mut().zip(x.iter().rev()) {
        *o = v;
    }
}

impl Mont {
    /// `None` when no limb width keeps a column within 64 bits (not for
    /// `n` up to 13 000 bits).
    fn new(n: &[u8], bits: usize) -> Option<Mont> {
        // The widest limbs whose columns fit: a column is at most 2·limbs
        // products of two limbs plus the carry of the column before, itself
        // at most a column's sum shifted right by `w` (a geometric series).
        let (w, limbs) = (20..=28u32).rev().find_map(|w| {
            let limbs = (bits + 2).div_ceil(w as usize);
            let top = (1u128 << w) - 1;
            let column = 2 * limbs as u128 * top * top;
            let carry = column.div_ceil(top);
            (column + carry < 1 << 64).then_some((w, limbs))
        })?;
        let n_limbs = to_limbs(n, w, limbs)?;
        let n0 = n_limbs.first().copied().unwrap_or(1);
        // Newton's iteration doubles the correct low bits each step: 1 → 32 in 5;
        // the inverse mod 2³² is also one mod 2^w.
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        let rr = r_squared(&n_limbs, w);
        Some(Mont {
            w,
            n_rev: n_limbs.iter().rev().copied().collect(),
            n: n_limbs,
            n0inv: inv.wrapping_neg() & ((1 << w) - 1),
            rr_rev: rr.iter().rev().copied().collect(),
        })
    }

    fn mask(&self) -> u32 {
        (1 << self.w) - 1
    }

    /// The reduction's columns below `limbs` (which choose `m`), given the
    /// columns of the product `col(k, lo, base)`; then the upper columns
    /// into `out`. Column `k` pairs `x[i]` with `y[k-i]` for `i` from `lo`;
    /// `y[k-i]` is `y_rev[base + i - lo]`.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    #[inline]
    fn reduce(
        &self,
        out: &mut [u32],
        m: &mut [u32],
        z: Zero,
        col: impl Fn(usize, usize, usize) -> u64,
    ) {
        let n = self.n_rev.as_slice();
        let l = n.len();
        let (w, mask) = (self.w, self.mask());
        let n0 = u64::from(self.n.first().copied().unwrap_or(0));
        let mut carry = 0u64;
        for k in 0..l {
            // Σ m[i]·n[k-i] for i < k; m[k] then zeroes the column's low bits.
            let base = l - 1 - k;
            let mn = dot(
                m.get(..k).unwrap_or_default(),
                n.get(base..).unwrap_or_default(),
                z,
            );
            let acc = carry + col(k, 0, base) + mn;
            let mk = (acc as u32).wrapping_mul(self.n0inv) & mask;
            if let Some(slot) = m.get_mut(k) {
                *slot = mk;
            }
            carry = (acc + u64::from(mk) * n0) >> w;
        }
        for (k, o) in (l..2 * l).zip(out.iter_mut()) {
            let lo = k + 1 - l;
            let mn = dot(m.get(lo..).unwrap_or_default(), n, z);
            let acc = carry + col(k, lo, 0) + mn;
            *o = (acc as u32) & mask;
            carry = acc >> w;
        }
    }

    /// `out = a·b·R⁻¹ mod n`, in `[0, 2n)` for `a, b` in `[0, 2n)`, with `b`
    /// given backwards; `m` is scratch.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn mul(&self, a: &[u32], b_rev: &[u32], out: &mut [u32], m: &mut [u32], z: Zero) {
        let l = self.n.len();
        self.reduce(out, m, z, |k, lo, base| {
            let hi = k.min(l - 1);
            dot(
                a.get(lo..=hi).unwrap_or_default(),
                b_rev.get(base..).unwrap_or_default(),
                z,
            )
        });
    }

    /// `out = a²·R⁻¹ mod n`: each cross product `a[i]·a[j]` computed once and
    /// doubled, so half the multiplications of `mul`'s product columns;
    /// `a_rev` is scratch for `a` backwards.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn sqr(&self, a: &[u32], out: &mut [u32], m: &mut [u32], a_rev: &mut [u32], z: Zero) {
        reverse_into(a, a_rev);
        let a_rev = &*a_rev;
        self.reduce(out, m, z, |k, lo, base| {
            // Pairs i < k - i: i below ⌈k/2⌉.
            let half = k.div_ceil(2);
            let cross = dot(
                a.get(lo..half).unwrap_or_default(),
                a_rev.get(base..).unwrap_or_default(),
                z,
            );
            let diag = if k % 2 == 0 {
                a.get(k / 2).map_or(0, |&x| u64::from(x) * u64::from(x))
            } else {
                0
            };
            2 * cross + diag
        });
    }

    /// `x^e mod n`, fully reduced, for `x < n` and `e ≥ 1`.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn pow(&self, x: &[u32], e: u64) -> Vec<u32> {
        let l = self.n.len();
        let z = Zero::new();
        let mut m = vec![0u32; l];
        let mut rev = vec![0u32; l];
        let mut base = vec![0u32; l];
        self.mul(x, &self.rr_rev, &mut base, &mut m, z);
        let mut base_rev = vec![0u32; l];
        reverse_into(&base, &mut base_rev);
        let mut acc = base;
        let mut tmp = vec![0u32; l];
        let top = 63 - e.leading_zeros();
        for bit in (0..top).rev() {
            self.sqr(&acc, &mut tmp, &mut m, &mut rev, z);
            if bit == 0 && e & 1 == 1 {
                // The last multiply by `x` itself rather than `x·R`: its
                // `R⁻¹` also takes the result out of Montgomery form, which
                // saves a product by 1 (about 7% of RS256's arithmetic).
                reverse_into(x, &mut base_rev);
                self.mul(&tmp, &base_rev, &mut acc, &mut m, z);
                return self.reduced(acc);
            }
            if (e >> bit) & 1 == 1 {
                self.mul(&tmp, &base_rev, &mut acc, &mut m, z);
            } else {
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        // Out of Montgomery form: multiply by 1.
        rev.fill(0);
        if let Some(last) = rev.last_mut() {
            *last = 1;
        }
        self.mul(&acc, &rev, &mut tmp, &mut m, z);
        self.reduced(tmp)
    }

    /// `x mod n` for `x < 2n`.
    fn reduced(&self, mut x: Vec<u32>) -> Vec<u32> {
        if !less(&x, &self.n) {
            sub_in_place(&mut x, &self.n, self.w);
        }
        x
    }
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
        let mont = Mont::new(n, bits).ok_or("RSA key too large for the arithmetic")?;
        Ok(RsaKey {
            mont,
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
        let mont = &self.mont;
        let s = to_limbs(signature, mont.w, mont.n.len())?;
        if !less(&s, &mont.n) {
            return None;
        }
        Some(to_bytes(&mont.pow(&s, self.e), mont.w, self.bytes))
    }
}

/// `R² mod n` by doubling 1 into place, `2·w·limbs` times: slow, once per key.
fn r_squared(n: &[u32], w: u32) -> Vec<u32> {
    let mut x = vec![0u32; n.len()];
    if let Some(first) = x.first_mut() {
        *first = 1;
    }
    let mask = (1u32 << w) - 1;
    for _ in 0..2 * w as usize * n.len() {
        let mut carry = 0u32;
        for limb in x.iter_mut() {
            let next = *limb >> (w - 1);
            *limb = ((*limb << 1) & mask) | carry;
            carry = next;
        }
        // No carry out: 2x < 2n < 2^(w·limbs).
        if carry != 0 || !less(&x, n) {
            sub_in_place(&mut x, n, w);
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
        // n = 2^2048 - 1 is odd: 2^3 mod n through the public operation (s = 2, e = 3).
        let key = RsaKey::new(&[0xffu8; 256], &[3]).unwrap();
        let mont = &key.mont;
        assert_eq!(mont.w, 28);
        assert_eq!(mont.n.len(), 74);
        let n0 = mont.n.first().copied().unwrap();
        assert_eq!(n0.wrapping_mul(mont.n0inv) & mont.mask(), mont.mask());
        let mut s = vec![0u8; 256];
        s[255] = 2;
        let out = key.public_op(&s).unwrap();
        assert_eq!(out[255], 8);
        assert!(out[..255].iter().all(|&b| b == 0));
        // s ≥ n and a wrong length are refused before any arithmetic.
        assert!(key.public_op(&[0xffu8; 256]).is_none());
        assert!(key.public_op(&[1u8; 255]).is_none());
        // The limb width narrows where 28-bit columns would overflow.
        let mut n = vec![0xffu8; 448];
        n[0] = 0x3f; // 3582 bits
        assert_eq!(RsaKey::new(&n, &[3]).unwrap().mont.w, 28);
        assert_eq!(RsaKey::new(&n, &[3]).unwrap().mont.n.len(), 128);
        n[0] = 0x7f;
        assert_eq!(RsaKey::new(&n, &[3]).unwrap().mont.w, 27);
        assert_eq!(RsaKey::new(&[0xff; 1024], &[3]).unwrap().mont.w, 27);
    }

    #[test]
    fn limb_conversions_round_trip() {
        for w in [20, 27, 28] {
            let bytes: Vec<u8> = (0..=255u8).rev().collect();
            let limbs = to_limbs(&bytes, w, (8 * 256usize).div_ceil(w as usize)).unwrap();
            assert!(limbs.iter().all(|&l| l < 1 << w));
            assert_eq!(to_bytes(&limbs, w, 256), bytes);
            // One limb short: the top bits do not fit.
            assert!(to_limbs(&bytes, w, limbs.len() - 1).is_none());
        }
    }

    /// The arithmetic against `num-bigint-dig` (the `rsa` crate's): moduli
    /// of each limb width and at the edges of the column bound, products and
    /// squares of the largest operands allowed (where the column sums are
    /// largest; debug builds check the additions for overflow), and the
    /// public operation on random and edge signatures.
    #[cfg(feature = "mint")]
    #[test]
    fn arithmetic_agrees_with_bigint() {
        use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};
        use rsa::traits::PublicKeyParts;
        use rsa::BigUint;

        let mut rng = StdRng::seed_from_u64(5);
        let random_below = |rng: &mut StdRng, bound: &BigUint| {
            let mut bytes = bound.to_bytes_be();
            rng.fill_bytes(&mut bytes);
            BigUint::from_bytes_be(&bytes) % bound
        };
        let mut moduli: Vec<BigUint> = Vec::new();
        // All ones: the largest operands have (nearly) every limb at its maximum.
        // 3582 bits is the largest size on 28-bit limbs.
        for bits in [2048usize, 2049, 3582, 3583, 4096, 8192] {
            moduli.push((BigUint::from(1u32) << bits) - 1u32);
        }
        // Random odd moduli with the top bit set, and real keys.
        for bits in [2048usize, 2051, 3072, 4096, 4097, 6000, 8191] {
            let mut n = BigUint::from(1u32) << (bits - 1);
            n |= random_below(&mut rng, &n) | BigUint::from(1u32);
            moduli.push(n);
        }
        for bits in [2048, 4096] {
            let key = rsa::RsaPrivateKey::new(&mut rng, bits).unwrap();
            moduli.push(key.n().clone());
        }
        for n in &moduli {
            let n_bytes = n.to_bytes_be();
            let bytes = n_bytes.len();
            for e in [
                3u64,
                65537,
                (1 << 33) - 1,
                1 << 32 | rng.gen::<u32>() as u64 | 1,
            ] {
                let key = RsaKey::new(&n_bytes, &e.to_be_bytes()).unwrap();
                let mont = &key.mont;
                let (w, l) = (mont.w, mont.n.len());
                let label = format!("{} bits, w = {w}, e = {e}", n.bits());
                let big = |limbs: &[u32]| BigUint::from_bytes_be(&to_bytes(limbs, w, 8 * l));
                let limbs = |x: &BigUint| to_limbs(&x.to_bytes_be(), w, l).unwrap();
                let r = BigUint::from(1u32) << (w as usize * l);
                assert!(r > n * 4u32, "{label}");
                let rr: Vec<u32> = mont.rr_rev.iter().rev().copied().collect();
                assert_eq!(big(&rr), (&r * &r) % n, "{label}");
                if e == 65537 {
                    // Montgomery products of operands in [0, 2n), the largest included.
                    let top = n * 2u32 - 1u32;
                    let two_n = n * 2u32;
                    let mut m = vec![0u32; l];
                    for (a, b) in [
                        (top.clone(), top.clone()),
                        (top.clone(), BigUint::from(1u32)),
                        (BigUint::from(0u32), top.clone()),
                        (
                            random_below(&mut rng, &two_n),
                            random_below(&mut rng, &two_n),
                        ),
                    ] {
                        let (al, mut bl) = (limbs(&a), limbs(&b));
                        bl.reverse();
                        let mut rev = vec![0u32; l];
                        // out = a·b/R mod n, checked as out·R ≡ a·b.
                        let want = (&a * &b) % n;
                        let mut out = vec![0u32; l];
                        mont.mul(&al, &bl, &mut out, &mut m, Zero::new());
                        assert!(big(&out) < two_n, "{label}: mul range");
                        assert_eq!(big(&out) * &r % n, want, "{label}: mul");
                        mont.sqr(&al, &mut out, &mut m, &mut rev, Zero::new());
                        assert!(big(&out) < two_n, "{label}: sqr range");
                        assert_eq!(big(&out) * &r % n, (&a * &a) % n, "{label}: sqr");
                    }
                    // Exponents no key has (even ones, and 1) end with a product by 1.
                    let x = random_below(&mut rng, n);
                    for e in [1u64, 2, 4, 65536, 65538] {
                        let got = big(&mont.pow(&limbs(&x), e));
                        assert_eq!(got, x.modpow(&BigUint::from(e), n), "{label}: ^{e}");
                    }
                }
                // The public operation: random signatures and the edges.
                let e_big = BigUint::from(e);
                let mut signatures = vec![
                    BigUint::from(0u32),
                    BigUint::from(1u32),
                    BigUint::from(2u32),
                    n - 1u32,
                    n - 2u32,
                ];
                signatures.push(random_below(&mut rng, n));
                for s in signatures {
                    let mut sig = s.to_bytes_be();
                    sig.splice(0..0, std::iter::repeat_n(0, bytes - sig.len()));
                    let mut want = s.modpow(&e_big, n).to_bytes_be();
                    want.splice(0..0, std::iter::repeat_n(0, bytes - want.len()));
                    assert_eq!(key.public_op(&sig).unwrap(), want, "{label}: {s}");
                }
                // At or above n: refused.
                for s in [
                    n.clone(),
                    n + 1u32,
                    (BigUint::from(1u32) << (8 * bytes)) - 1u32,
                ] {
                    let mut sig = s.to_bytes_be();
                    if sig.len() > bytes {
                        continue; // n + 1 = 2^(8·bytes) for n of all ones
                    }
                    sig.splice(0..0, std::iter::repeat_n(0, bytes - sig.len()));
                    assert!(key.public_op(&sig).is_none(), "{label}: {s} ≥ n");
                }
            }
        }
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
