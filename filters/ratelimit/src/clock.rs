//! The clock buckets run on.
//!
//! Native `local_ratelimit` refills on Envoy's monotonic clock, so a wall
//! clock stepped back (NTP, an operator) changes nothing. proxy-wasm's
//! `proxy_get_current_time_nanoseconds` is wall time, but Envoy's wasm host
//! (proxy-wasm-cpp-host) also implements WASI `clock_time_get`, and its
//! monotonic clock (id 1) is the context's `getMonotonicTimeNanoseconds`:
//! Envoy's steady clock, one per process, so every worker's VM reads the same
//! time line. Buckets use it in Envoy. Elsewhere (the test host, or a host
//! without the WASI clock) they use the host's own monotonic clock (a
//! dynamic module's), or fall back to wall time; `bucket.rs` then
//! treats a clock that went back as "no time passed".

use portico::Env;

/// Nanoseconds on the bucket clock.
pub fn now_ns(env: &Env<'_>) -> u64 {
    monotonic()
        .or_else(|| env.monotonic_nanos())
        .unwrap_or_else(|| u64::try_from(env.unix_nanos()).unwrap_or(u64::MAX))
}

/// Which clock buckets run on here, for the log.
pub fn source(env: &Env<'_>) -> &'static str {
    if monotonic().or_else(|| env.monotonic_nanos()).is_some() {
        "Envoy's monotonic clock"
    } else {
        "wall time"
    }
}

#[cfg(target_os = "wasi")]
fn monotonic() -> Option<u64> {
    // SAFETY: a WASI import with no pointer arguments; the crate's wrapper
    // returns the timestamp by value.
    match unsafe { wasi::clock_time_get(wasi::CLOCKID_MONOTONIC, 1) } {
        Ok(ns) if ns > 0 => Some(ns),
        _ => None,
    }
}

#[cfg(not(target_os = "wasi"))]
fn monotonic() -> Option<u64> {
    None
}
