//! A provider, compiled: where its tokens are, what it demands, its keys,
//! and what it adds to a request it accepts.

use crate::claims::{self, Policy};
use crate::config;
use crate::error::JwtError;
use crate::extract::{self, Location};
use crate::jwks::{self, Key, Limits};
use crate::token;
use crate::verify;
use portico::ConfigError;
use serde_json::{Map, Value};

/// Default bound on a token's size (Envoy's `jwt_max_token_size` sets it).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub locations: Vec<Location>,
    pub policy: Policy,
    pub keys: Vec<Key>,
    pub forward: bool,
    pub payload_header: Option<String>,
    pub pad_payload: bool,
    pub claim_headers: Vec<(String, String)>,
    pub max_token_bytes: usize,
}

/// A token this provider accepted.
#[derive(Debug)]
pub struct Accepted {
    pub payload_b64: String,
    pub claims: Map<String, Value>,
    pub location: usize,
}

fn header_name(at: &str, name: &str) -> Result<String, ConfigError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !ok {
        return Err(ConfigError::at(
            at,
            format!("{name:?} is not a valid header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

impl Provider {
    pub fn compile(name: &str, p: config::Provider) -> Result<Provider, ConfigError> {
        let at = |f: &str| format!("providers.{name}.{f}");
        let unsupported = [
            ("remote_jwks", p.remote_jwks.is_some(), "remote JWKS is not implemented yet; use `local_jwks.inline_string`"),
            ("payload_in_metadata", p.payload_in_metadata.is_some(), "dynamic metadata is not reachable from a wasm filter; use `forward_payload_header` or `claim_to_headers`"),
            ("header_in_metadata", p.header_in_metadata.is_some(), "dynamic metadata is not reachable from a wasm filter"),
            ("failed_status_in_metadata", p.failed_status_in_metadata.is_some(), "dynamic metadata is not reachable from a wasm filter"),
            ("normalize_payload_in_metadata", p.normalize_payload_in_metadata.is_some(), "dynamic metadata is not reachable from a wasm filter"),
            ("clear_route_cache", p.clear_route_cache.is_some(), "not supported by Portico"),
        ];
        if let Some((field, _, why)) = unsupported.iter().find(|(_, set, _)| *set) {
            return Err(ConfigError::at(at(field), why));
        }
        let jwks_text = match p.local_jwks {
            Some(config::LocalJwks {
                inline_string: Some(s),
                filename: None,
                inline_bytes: None,
                environment_variable: None,
            }) => s,
            Some(config::LocalJwks {
                filename: Some(_), ..
            }) => {
                return Err(ConfigError::at(
                    at("local_jwks.filename"),
                    "a wasm VM cannot read files; use `inline_string`",
                ))
            }
            Some(_) => return Err(ConfigError::at(at("local_jwks"), "set `inline_string`")),
            None => return Err(ConfigError::at(name_path(name), "needs `local_jwks`")),
        };
        let limits = Limits {
            max_bytes: p.max_jwks_bytes,
            max_keys: p.max_jwks_keys,
        };
        let keys = jwks::parse(&jwks_text, limits)
            .map_err(|m| ConfigError::at(at("local_jwks.inline_string"), m))?;
        let mut locations = Vec::new();
        for (i, h) in p.from_headers.iter().enumerate() {
            locations.push(Location::Header {
                name: header_name(&at(&format!("from_headers[{i}].name")), &h.name)?,
                prefix: h.value_prefix.clone(),
            });
        }
        locations.extend(p.from_params.iter().map(|n| Location::Param(n.clone())));
        locations.extend(p.from_cookies.iter().map(|n| Location::Cookie(n.clone())));
        if p.from_headers.is_empty() && p.from_params.is_empty() && p.from_cookies.is_empty() {
            locations = extract::default_locations();
        }
        let payload_header = p
            .forward_payload_header
            .as_deref()
            .map(|h| header_name(&at("forward_payload_header"), h))
            .transpose()?;
        let mut claim_headers = Vec::new();
        for (i, c) in p.claim_to_headers.iter().enumerate() {
            let h = header_name(
                &at(&format!("claim_to_headers[{i}].header_name")),
                &c.header_name,
            )?;
            if c.claim_name.is_empty() {
                return Err(ConfigError::at(
                    at(&format!("claim_to_headers[{i}].claim_name")),
                    "must not be empty",
                ));
            }
            claim_headers.push((h, c.claim_name.clone()));
        }
        let max_token_bytes = p
            .jwt_cache_config
            .as_ref()
            .and_then(|c| c.jwt_max_token_size)
            .map_or(DEFAULT_MAX_TOKEN_BYTES, |n| n as usize);
        Ok(Provider {
            name: name.to_string(),
            locations,
            policy: Policy {
                issuer: p.issuer.filter(|i| !i.is_empty()),
                audiences: p
                    .audiences
                    .iter()
                    .map(|a| claims::normalise_audience(a))
                    .collect(),
                subjects: p.subjects,
                require_expiration: p.require_expiration,
                max_lifetime_secs: p.max_lifetime.map(|d| d.get().as_secs()),
                clock_skew_secs: i64::from(p.clock_skew_seconds),
            },
            keys,
            forward: p.forward,
            payload_header,
            pad_payload: p.pad_forward_payload_header,
            claim_headers,
            max_token_bytes,
        })
    }

    /// Checks one token, in Envoy's order: format, issuer, time, audience,
    /// subject, key, signature.
    pub fn accept(
        &self,
        found: &extract::Found,
        now: i64,
        audiences: Option<&[String]>,
    ) -> Result<Accepted, JwtError> {
        if found.token.len() > self.max_token_bytes {
            return Err(JwtError::TooLarge);
        }
        let t = token::parse(&found.token)?;
        let registered = claims::read(&t.claims)?;
        self.policy.check_issuer(&registered)?;
        self.policy.check(&registered, now, audiences)?;
        verify::verify(&t, &self.keys)?;
        Ok(Accepted {
            payload_b64: t.payload_b64.to_string(),
            claims: t.claims,
            location: found.location,
        })
    }
}

fn name_path(name: &str) -> String {
    format!("providers.{name}")
}

/// A claim by dotted path (`realm.roles`), rendered for a header:
/// strings as they are, numbers and booleans as JSON, lists joined by `,`.
pub fn claim_value(claims: &Map<String, Value>, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let strs: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect();
            strs.map(|s| s.join(","))
        }
        _ => None,
    }
}
