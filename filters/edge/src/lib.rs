//! The edge chain in one module: [`portico_jwt`], [`portico_ratelimit`] and
//! [`portico_headers`] as the members of one [`portico::Chain`], in that
//! order, configured as
//! `{"filters": [{"name": "jwt", "config": {...}}, {"name": "ratelimit", "config": {...}}, {"name": "headers", "config": {...}}]}`
//! where each `config` is exactly that filter's own configuration. Any of
//! the three may be left out; those listed come in this order, once each.
//! See README.md.

use portico::Chain;
use portico_headers::HeaderRewriter;
use portico_jwt::JwtAuthn;
use portico_ratelimit::RateLimiter;

/// jwt → ratelimit → headers on the request path, headers → ratelimit →
/// jwt on the response path, as three consecutive filters would run.
pub type Edge = Chain<JwtAuthn, Chain<RateLimiter, HeaderRewriter>>;

portico::main!(Edge);
