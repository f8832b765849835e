//! The cheapest HTTP filter Envoy can load: the proxy-wasm entry points a
//! stream needs, each returning "continue", no host call, no allocator, no
//! std. `cargo xtask bench` runs it to show Envoy's fixed cost of a wasm
//! filter, below which no filter built on any SDK can go.
//!
//! Only the wasm build has content; natively (`cargo test --workspace`) the
//! crate is empty.

#![cfg_attr(target_arch = "wasm32", no_std)]

#[cfg(target_arch = "wasm32")]
mod abi {
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        core::arch::wasm32::unreachable()
    }

    /// The ABI version Envoy checks for.
    #[no_mangle]
    pub extern "C" fn proxy_abi_version_0_2_1() {}

    /// Envoy asks for memory only to hand the module data, which it never
    /// requests here; a null answer makes any such call fail loudly.
    #[no_mangle]
    pub extern "C" fn proxy_on_memory_allocate(_size: usize) -> *mut u8 {
        core::ptr::null_mut()
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_context_create(_context: u32, _root: u32) {}

    #[no_mangle]
    pub extern "C" fn proxy_on_vm_start(_root: u32, _size: usize) -> bool {
        true
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_configure(_root: u32, _size: usize) -> bool {
        true
    }

    /// 0 is `Continue` for the headers, body and trailers callbacks alike.
    #[no_mangle]
    pub extern "C" fn proxy_on_request_headers(_context: u32, _headers: usize, _end: bool) -> u32 {
        0
    }

    #[no_mangle]
    pub extern "C" fn proxy_on_response_headers(_context: u32, _headers: usize, _end: bool) -> u32 {
        0
    }
}
