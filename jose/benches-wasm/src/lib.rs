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
