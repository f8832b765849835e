//! Verified tokens, per provider and VM, so a token seen again skips the
//! signature check. Only tokens that verified are kept; time, issuer and
//! audience are checked again on every use.

use crate::claims::Registered;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// Envoy's default `jwt_cache_size`.
pub const DEFAULT_SIZE: usize = 100;

pub struct Verified {
    pub registered: Registered,
    pub claims: Rc<Map<String, Value>>,
    pub payload_b64: Rc<str>,
}

pub struct TokenCache {
    capacity: usize,
    entries: HashMap<String, Rc<Verified>>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            capacity,
            entries: HashMap::new(),
        }
    }

    pub fn get(&self, token: &str) -> Option<Rc<Verified>> {
        self.entries.get(token).cloned()
    }

    /// Keeps `token` unless the cache is disabled. When full, expired entries
    /// go first, then an arbitrary one: the bound matters more than the choice.
    pub fn insert(&mut self, token: &str, verified: Rc<Verified>, now: i64) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, v| {
                v.registered
                    .exp
                    .is_none_or(|exp| i128::from(exp) > i128::from(now))
            });
        }
        if self.entries.len() >= self.capacity {
            if let Some(victim) = self.entries.keys().next().cloned() {
                self.entries.remove(&victim);
            }
        }
        self.entries.insert(token.to_string(), verified);
    }

    /// After a key rotation: tokens verified with the old keys must verify again.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
