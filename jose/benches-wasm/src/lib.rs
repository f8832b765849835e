//! Exports for bench.mjs: a key and a signature are copied into linear
//! memory, then `bench_rsa` verifies the signature `iters` times.

use portico_jose::rsa_verify::{RsaKey, Scheme};

/// A buffer of `len` bytes that node fills; leaked (one per input).
#[no_mangle]
pub extern "C" fn buf(len: usize) -> *mut u8 {
    Box::leak(vec![0u8; len].into_boxed_slice()).as_mut_ptr()
}

unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    std::slice::from_raw_parts(ptr, len)
}

/// Verifies `iters` times; returns how many verified (or -1 for a bad key).
///
/// # Safety
/// The pointers come from `buf` with their lengths.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn bench_rsa(
    alg: u32,
    n: *const u8,
    n_len: usize,
    e: *const u8,
    e_len: usize,
    msg: *const u8,
    msg_len: usize,
    sig: *const u8,
    sig_len: usize,
    iters: u32,
) -> i32 {
    let Ok(key) = RsaKey::new(slice(n, n_len), slice(e, e_len)) else {
        return -1;
    };
    let scheme = match alg {
        0 => Scheme::from_alg("RS256"),
        _ => Scheme::from_alg("PS256"),
    };
    let Some(scheme) = scheme else { return -1 };
    let (msg, sig) = (slice(msg, msg_len), slice(sig, sig_len));
    let mut ok = 0;
    for _ in 0..iters {
        if key.verify(scheme, std::hint::black_box(msg), std::hint::black_box(sig)) {
            ok += 1;
        }
    }
    ok
}

/// Verifies an ES256 signature (R‖S) with the key `0x04‖x‖y` `iters` times.
///
/// # Safety
/// The pointers come from `buf` with their lengths.
#[no_mangle]
pub unsafe extern "C" fn bench_es256(
    point: *const u8,
    point_len: usize,
    msg: *const u8,
    msg_len: usize,
    sig: *const u8,
    sig_len: usize,
    iters: u32,
) -> i32 {
    let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(slice(point, point_len)) else {
        return -1;
    };
    let key = portico_jose::es256::P256Key::new(key);
    let (msg, sig) = (slice(msg, msg_len), slice(sig, sig_len));
    let mut ok = 0;
    for _ in 0..iters {
        if key.verify(std::hint::black_box(msg), std::hint::black_box(sig)) {
            ok += 1;
        }
    }
    ok
}

/// The parts of an ES256 verification, `iters` times each: 0 = a field
/// multiplication, 1 = a point addition, 2 = `to_affine`, 3 = a scalar
/// inversion, 4 = a scalar multiplication.
#[no_mangle]
pub extern "C" fn bench_p256_part(part: u32, iters: u32) -> u32 {
    use p256::elliptic_curve::ops::Invert;
    use p256::elliptic_curve::point::AffineCoordinates;
    use p256::elliptic_curve::Group;
    use p256::{FieldElement, ProjectivePoint, Scalar};
    use std::hint::black_box;
    let g = ProjectivePoint::GENERATOR;
    let mut acc = 0u32;
    match part {
        0 => {
            let mut x = FieldElement::ONE + FieldElement::ONE;
            let y = black_box(x);
            for _ in 0..iters {
                x = black_box(x * y);
            }
            acc += u32::from(x.to_bytes()[0]);
        }
        1 => {
            let mut p = g.double();
            for _ in 0..iters {
                p = black_box(p + g);
            }
            acc += u32::from(p.to_affine().x()[0]);
        }
        2 => {
            let p = g.double() + g;
            for _ in 0..iters {
                acc += u32::from(black_box(p).to_affine().x()[0]);
            }
        }
        3 => {
            let s = Scalar::from(0x1234_5678u64) * Scalar::from(u64::MAX);
            for _ in 0..iters {
                let inv = Invert::invert_vartime(&black_box(s)).unwrap_or(Scalar::ZERO);
                acc += u32::from(inv.to_bytes()[0]);
            }
        }
        _ => {
            let mut s = Scalar::from(0x1234_5678u64) * Scalar::from(u64::MAX);
            let t = black_box(s);
            for _ in 0..iters {
                s = black_box(s * t);
            }
            acc += u32::from(s.to_bytes()[0]);
        }
    }
    acc
}
