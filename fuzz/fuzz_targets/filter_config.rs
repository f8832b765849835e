//! Arbitrary text as the configuration of every filter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    portico_robustness::any_config(&String::from_utf8_lossy(data));
});
