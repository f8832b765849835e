//! A provider, compiled: where its tokens are, what it demands, its keys,
//! and what it adds to a request it accepts.

use crate::cache::{self, TokenCache, Verified};
use crate::claims::{self, Policy};
use crate::config::{self, default_clock_skew};
use crate::error::JwtError;
use crate::extract::{self, Location};
use crate::jwks::{self, Key};
use crate::remote::{self, Remote};
use crate::token;
use crate::verify;
use portico::config::HeaderName;
use portico::ConfigError;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// Where a provider's keys come from.
pub enum Keys {
    Local(Vec<Key>),
    Remote(Remote, remote::Shared),
}

/// Cache outcome of one `accept`, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    Off,
    Hit,
    Miss,
}

/// Default bound on a token's size (Envoy's `jwt_max_token_size` sets it).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

pub struct Provider {
    pub name: String,
    pub locations: Vec<Location>,
    pub policy: Policy,
    pub keys: Keys,
    pub cache: Option<RefCell<TokenCache>>,
    pub forward: bool,
    pub payload_header: Option<String>,
    pub pad_payload: bool,
    pub claim_headers: Vec<(String, String)>,
    pub max_token_bytes: usize,
}

/// A token this provider accepted.
#[derive(Clone)]
pub struct Accepted {
    pub payload_b64: Rc<str>,
    pub claims: Rc<Map<String, Value>>,
    pub location: usize,
}

impl Provider {
    /// The provider `name` of a checked configuration. It cannot fail any
    /// more (everything is checked as the JSON is read); the `Result` stays
    /// for its callers.
    pub fn compile(name: &str, p: config::Provider) -> Result<Provider, ConfigError> {
        let keys = match p.keys {
            config::ProviderKeys::Local(keys) => {
                for warning in jwks::short_hmac_warnings(&keys) {
                    log::warn!("jwt: provider {name:?}: {warning}");
                }
                Keys::Local(keys)
            }
            config::ProviderKeys::Remote(remote) => Keys::Remote(remote, Rc::default()),
        };
        let mut locations: Vec<Location> = p
            .from_headers
            .iter()
            .map(|h| Location::Header {
                name: h.name.as_str().to_string(),
                prefix: h.value_prefix.clone(),
            })
            .collect();
        locations.extend(p.from_params.iter().map(|n| Location::Param(n.clone())));
        locations.extend(p.from_cookies.iter().map(|n| Location::Cookie(n.clone())));
        if locations.is_empty() {
            locations = extract::default_locations();
        }
        let locations = extract::native_order(locations);
        let payload_header = p.forward_payload_header.map(HeaderName::into_string);
        let claim_headers = p
            .claim_to_headers
            .iter()
            .map(|c| {
                (
                    c.header_name.as_str().to_string(),
                    c.claim_name.as_str().to_string(),
                )
            })
            .collect();
        let max_token_bytes = p
            .jwt_cache_config
            .as_ref()
            .and_then(|c| c.jwt_max_token_size)
            .map_or(DEFAULT_MAX_TOKEN_BYTES, |n| n as usize);
        // As in Envoy, the cache is on only when `jwt_cache_config` is given.
        let cache = p.jwt_cache_config.as_ref().map(|c| {
            let size = c.jwt_cache_size.map_or(cache::DEFAULT_SIZE, |n| n as usize);
            RefCell::new(TokenCache::new(size.min(100_000)))
        });
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
                // As in Envoy, 0 means the default (60 s), not "no tolerance".
                clock_skew_secs: i64::from(if p.clock_skew_seconds > 0 {
                    p.clock_skew_seconds
                } else {
                    default_clock_skew()
                }),
            },
            keys,
            cache,
            forward: p.forward,
            payload_header,
            pad_payload: p.pad_forward_payload_header,
            claim_headers,
            max_token_bytes,
        })
    }

    /// The keys to verify with now: `Ok(None)` while a first remote fetch
    /// is pending.
    pub fn current_keys(&self) -> Result<Option<KeySet<'_>>, JwtError> {
        match &self.keys {
            Keys::Local(keys) => Ok(Some(KeySet::Borrowed(keys))),
            Keys::Remote(_, state) => {
                let state = state.borrow();
                match &state.keys {
                    Some(keys) => Ok(Some(KeySet::Shared(Rc::clone(keys)))),
                    None if state.failed => Err(JwtError::JwksUnavailable),
                    None => Ok(None),
                }
            }
        }
    }

    /// Checks one token, in Envoy's order: format, issuer, time, audience,
    /// subject, key, signature. A cached token skips parsing and signature.
    pub fn accept(
        &self,
        found: &extract::Found,
        now: i64,
        audiences: Option<&[String]>,
    ) -> (Result<Accepted, JwtError>, CacheUse) {
        if found.token.len() > self.max_token_bytes {
            return (Err(JwtError::TooLarge), CacheUse::Off);
        }
        let cached = self
            .cache
            .as_ref()
            .and_then(|c| c.borrow().get(&found.token));
        let cache_use = match (&self.cache, &cached) {
            (None, _) => CacheUse::Off,
            (Some(_), Some(_)) => CacheUse::Hit,
            (Some(_), None) => CacheUse::Miss,
        };
        let verified = match cached {
            Some(v) => {
                let checked = self
                    .policy
                    .check_issuer(&v.registered)
                    .and_then(|()| self.policy.check(&v.registered, now, audiences));
                if let Err(e) = checked {
                    return (Err(e), cache_use);
                }
                v
            }
            None => match self.verify_fresh(&found.token, now, audiences) {
                Ok(v) => v,
                Err(e) => return (Err(e), cache_use),
            },
        };
        if cache_use == CacheUse::Miss {
            if let Some(c) = &self.cache {
                c.borrow_mut()
                    .insert(&found.token, Rc::clone(&verified), now);
            }
        }
        let accepted = Accepted {
            payload_b64: Rc::clone(&verified.payload_b64),
            claims: Rc::clone(&verified.claims),
            location: found.location,
        };
        (Ok(accepted), cache_use)
    }

    /// Parses and verifies a token not seen before, in Envoy's order: the
    /// claim checks need no key, so a token failing them costs no signature.
    fn verify_fresh(
        &self,
        text: &str,
        now: i64,
        audiences: Option<&[String]>,
    ) -> Result<Rc<Verified>, JwtError> {
        let t = token::parse(text)?;
        let registered = t.registered;
        self.policy.check_issuer(&registered)?;
        self.policy.check(&registered, now, audiences)?;
        let keys = self.current_keys()?.ok_or(JwtError::JwksUnavailable)?;
        verify::verify(&t.jws, keys.as_slice())?;
        Ok(Rc::new(Verified {
            registered,
            claims: Rc::new(t.claims),
            payload_b64: Rc::from(t.jws.payload_b64),
        }))
    }

    /// Clears verified tokens after the keys changed.
    pub fn forget_tokens(&self) {
        if let Some(c) = &self.cache {
            c.borrow_mut().clear();
        }
    }
}

/// Keys borrowed from the config or shared with the fetcher.
pub enum KeySet<'a> {
    Borrowed(&'a [Key]),
    Shared(Rc<Vec<Key>>),
}

impl KeySet<'_> {
    pub fn as_slice(&self) -> &[Key] {
        match self {
            KeySet::Borrowed(k) => k,
            KeySet::Shared(k) => k,
        }
    }
}

pub use crate::claim_header::claim_value;
