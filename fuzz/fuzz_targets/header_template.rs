//! Arbitrary header templates rendered against arbitrary header values:
//! the bytes before the first NUL are the template, the rest the value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (template, value) = text.split_once('\0').unwrap_or((&text, "v"));
    portico_robustness::header_template(template, value);
});
