//! `portico-jose`: the JOSE half of Portico's JWT filter, with no Envoy in
//! it. Compact JWS tokens split and decoded, JWKS parsed into keys, and
//! signatures verified, each as Envoy's `jwt_verify` library does it, with
//! its statuses and their texts. What a filter then demands of a token
//! (issuers, audiences, requirement trees, where tokens are found, caching,
//! fetching keys) is the filter's own: `filters/jwt`.
//!
//! - `token.rs`: a JWS split and decoded (`strict_json.rs`: JSON that
//!   refuses repeated keys); `claims.rs`: the registered claims, type-checked;
//! - `jwks.rs`: keys; `verify.rs`: choosing keys for a token and checking its
//!   signature; `rsa_verify.rs`, `es256.rs` (on `p256_arith.rs`), `es_nist.rs`: the algorithms;
//! - `native.rs` (feature `native-crypto`, the dynamic module): the same
//!   checks through `ring`;
//! - `error.rs`: the statuses;
//! - `mint.rs` (feature `mint`): key pairs and token signing for tests,
//!   benchmarks and `cargo xtask token`. The filter's `.wasm` does not link it.

pub mod claims;
pub mod error;
pub mod es256;
pub mod es_nist;
pub mod jwks;
#[cfg(feature = "mint")]
pub mod mint;
#[cfg(feature = "native-crypto")]
mod native;
mod p256_arith;
pub mod rsa_verify;
pub mod strict_json;
pub mod token;
pub mod verify;

pub use error::JwtError;
