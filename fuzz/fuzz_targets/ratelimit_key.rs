//! The rate-limit key builder on arbitrary header, query and
//! x-forwarded-for values (separated by NUL bytes in the input).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let header = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let xff = parts.next().unwrap_or_default();
    portico_robustness::ratelimit_key(header, query, xff);
});
