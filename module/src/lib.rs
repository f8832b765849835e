//! `libportico.so`: every Portico filter in one Envoy dynamic module, and the
//! one-module edge chain (`edge`), each selected by `filter_name` and configured with the same JSON as its
//! `.wasm` twin. See `docs/dynamic-modules.md`.

portico::dynamic_module! {
    "jwt" => portico_jwt::JwtAuthn,
    "headers" => portico_headers::HeaderRewriter,
    "ratelimit" => portico_ratelimit::RateLimiter,
    "hello" => portico_hello::Hello,
    "edge" => portico_edge::Edge,
}
