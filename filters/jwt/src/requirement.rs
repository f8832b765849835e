//! `requires` trees and how a request satisfies them.

use crate::config;
use crate::error::JwtError;
use crate::extract::{self, Found, Location};
use crate::provider::{Accepted, Provider};
use portico::{ConfigError, Headers};
use std::collections::BTreeMap;

#[derive(Debug)]
pub enum Requirement {
    Provider {
        index: usize,
        /// `provider_and_audiences`: replaces the provider's audiences.
        audiences: Option<Vec<String>>,
    },
    Any(Vec<Requirement>),
    All(Vec<Requirement>),
    /// `scope`: the providers whose locations are searched; `None` is all.
    AllowMissingOrFailed {
        scope: Option<Vec<usize>>,
    },
    AllowMissing {
        scope: Option<Vec<usize>>,
    },
}

impl Requirement {
    /// Resolves provider names to indices. A name is checked where it is
    /// written while the JSON is read; this only fails outside
    /// `portico::config::parse`, where that check cannot see `providers`.
    pub fn compile(
        raw: config::Requirement,
        names: &BTreeMap<String, usize>,
    ) -> Result<Requirement, ConfigError> {
        let provider = |name: &config::ProviderName| {
            names
                .get(&name.0)
                .copied()
                .ok_or_else(|| ConfigError::at("rules", format!("no provider named {:?}", name.0)))
        };
        Ok(match raw {
            config::Requirement::ProviderName(name) => Requirement::Provider {
                index: provider(&name)?,
                audiences: None,
            },
            config::Requirement::ProviderAndAudiences(pa) => Requirement::Provider {
                index: provider(&pa.provider_name)?,
                audiences: Some(
                    pa.audiences
                        .iter()
                        .map(|a| crate::claims::normalise_audience(a))
                        .collect(),
                ),
            },
            config::Requirement::RequiresAny(list) => {
                let mut children = Self::list(list, names)?;
                // As in Envoy, `allow_missing*` inside `requires_any` looks
                // only where its sibling providers look: a token in another
                // provider's header is not this group's business.
                let mut siblings = Vec::new();
                for child in &children {
                    child.providers(&mut siblings);
                }
                for child in &mut children {
                    if let Requirement::AllowMissing { scope }
                    | Requirement::AllowMissingOrFailed { scope } = child
                    {
                        *scope = Some(siblings.clone());
                    }
                }
                Requirement::Any(children)
            }
            config::Requirement::RequiresAll(list) => Requirement::All(Self::list(list, names)?),
            config::Requirement::AllowMissingOrFailed(_) => {
                Requirement::AllowMissingOrFailed { scope: None }
            }
            config::Requirement::AllowMissing(_) => Requirement::AllowMissing { scope: None },
        })
    }

    /// Every provider this requirement names, at any depth.
    fn providers(&self, out: &mut Vec<usize>) {
        match self {
            Requirement::Provider { index, .. } => {
                if !out.contains(index) {
                    out.push(*index);
                }
            }
            Requirement::Any(list) | Requirement::All(list) => {
                for r in list {
                    r.providers(out);
                }
            }
            Requirement::AllowMissing { .. } | Requirement::AllowMissingOrFailed { .. } => {}
        }
    }

    fn list(
        list: config::RequirementList,
        names: &BTreeMap<String, usize>,
    ) -> Result<Vec<Requirement>, ConfigError> {
        list.requirements
            .into_iter()
            .map(|r| Requirement::compile(r, names))
            .collect()
    }
}

/// One request's evaluation: tokens found and verdicts, each computed once.
pub struct Evaluation<'a> {
    providers: &'a [Provider],
    headers: &'a Headers<'a>,
    path: &'a str,
    now: i64,
    found: BTreeMap<usize, Vec<Found>>,
    verdicts: Vec<(usize, String, Result<Accepted, JwtError>)>,
    /// Tokens that verified, by provider, for forwarding.
    pub accepted: Vec<(usize, Accepted)>,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

impl<'a> Evaluation<'a> {
    pub fn new(
        providers: &'a [Provider],
        headers: &'a Headers<'a>,
        path: &'a str,
        now: i64,
    ) -> Self {
        Evaluation {
            providers,
            headers,
            path,
            now,
            found: BTreeMap::new(),
            verdicts: Vec::new(),
            accepted: Vec::new(),
            cache_hits: 0,
            cache_misses: 0,
        }
    }

    /// Providers that found a token but have no keys yet (first remote
    /// fetch in flight): the request must wait for them.
    pub fn waiting_for_keys(&mut self) -> Vec<usize> {
        (0..self.providers.len())
            .filter(|i| {
                let pending = self
                    .providers
                    .get(*i)
                    .is_some_and(|p| matches!(p.current_keys(), Ok(None)));
                pending && !self.tokens(*i).is_empty()
            })
            .collect()
    }

    fn tokens(&mut self, index: usize) -> Vec<Found> {
        if let Some(f) = self.found.get(&index) {
            return f.clone();
        }
        let found = self
            .providers
            .get(index)
            .map(|p| extract::find(&p.locations, self.headers, self.path))
            .unwrap_or_default();
        self.found.insert(index, found.clone());
        found
    }

    fn check(
        &mut self,
        index: usize,
        found: &Found,
        audiences: Option<&[String]>,
    ) -> Result<(), JwtError> {
        let memo = audiences.is_none();
        let known = if memo {
            self.verdicts
                .iter()
                .find(|(i, t, _)| *i == index && *t == found.token)
                .map(|(_, _, v)| v.clone())
        } else {
            None
        };
        let result = match known {
            Some(v) => v,
            None => {
                let provider = self.providers.get(index).ok_or(JwtError::NoValidKeys)?;
                let (result, cache_use) = provider.accept(found, self.now, audiences);
                match cache_use {
                    crate::provider::CacheUse::Hit => self.cache_hits += 1,
                    crate::provider::CacheUse::Miss => self.cache_misses += 1,
                    crate::provider::CacheUse::Off => {}
                }
                if memo {
                    self.verdicts
                        .push((index, found.token.clone(), result.clone()));
                }
                result
            }
        };
        // Each occurrence forwards its claims, as Envoy appends them per token.
        result.map(|mut accepted| {
            accepted.location = found.location;
            self.accepted.push((index, accepted));
        })
    }

    /// Every token the provider's locations hold must verify. Envoy checks
    /// the last one found first and stops at the first failure, which is
    /// then the answer.
    fn provider(&mut self, index: usize, audiences: Option<&[String]>) -> Result<(), JwtError> {
        let tokens = self.tokens(index);
        if tokens.is_empty() {
            return Err(JwtError::Missing);
        }
        for t in tokens.iter().rev() {
            self.check(index, t, audiences)?;
        }
        Ok(())
    }

    /// Every location of every provider, merged as Envoy's shared extractor
    /// merges them, with the providers (and their location index) that name it.
    fn all_locations(&self, scope: Option<&[usize]>) -> Vec<(Location, Vec<(usize, usize)>)> {
        let mut all: Vec<(Location, Vec<(usize, usize)>)> = Vec::new();
        for (p, provider) in self.providers.iter().enumerate() {
            if scope.is_some_and(|s| !s.contains(&p)) {
                continue;
            }
            for (l, loc) in provider.locations.iter().enumerate() {
                match all.iter_mut().find(|(known, _)| known == loc) {
                    Some((_, owners)) => owners.push((p, l)),
                    None => all.push((loc.clone(), vec![(p, l)])),
                }
            }
        }
        let order = extract::native_order(all.iter().map(|(l, _)| l.clone()).collect());
        order
            .into_iter()
            .filter_map(|loc| all.iter().find(|(l, _)| *l == loc).cloned())
            .collect()
    }

    /// `allow_missing*`: every token any provider's locations hold, checked
    /// last to first like Envoy, each with the providers that name its
    /// location; the error reported prefers a provider whose issuer the
    /// token names. Unlike Envoy, which answers with the last token checked,
    /// every token must verify (README, "Differences"). Returns whether any
    /// token was present.
    fn any_present(&mut self, scope: Option<&[usize]>) -> Result<bool, JwtError> {
        let locations = self.all_locations(scope);
        let plain: Vec<Location> = locations.iter().map(|(l, _)| l.clone()).collect();
        let found = extract::find(&plain, self.headers, self.path);
        let mut failure = None;
        for f in found.iter().rev() {
            let Some((_, owners)) = locations.get(f.location) else {
                continue;
            };
            let mut error = None;
            let mut ok = false;
            for (index, at) in owners {
                let mine = Found {
                    token: f.token.clone(),
                    location: *at,
                };
                match self.check(*index, &mine, None) {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(JwtError::UnknownIssuer) => {
                        error.get_or_insert(JwtError::UnknownIssuer);
                    }
                    Err(e) => error = Some(e),
                }
            }
            if !ok {
                failure = Some(error.unwrap_or(JwtError::UnknownIssuer));
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(!found.is_empty()),
        }
    }

    pub fn evaluate(&mut self, req: &Requirement) -> Result<(), JwtError> {
        match req {
            Requirement::Provider { index, audiences } => {
                self.provider(*index, audiences.as_deref())
            }
            Requirement::All(list) => list.iter().try_for_each(|r| self.evaluate(r)),
            Requirement::Any(list) => {
                let mut error = JwtError::Missing;
                for r in list {
                    match self.evaluate(r) {
                        Ok(()) => return Ok(()),
                        // As in Envoy: the last failure other than a
                        // missing token answers, but an `allow_missing`
                        // child's failure only when no other child failed
                        // otherwise (Envoy does not count its status
                        // among its siblings').
                        Err(JwtError::Missing) => {}
                        Err(e) if matches!(r, Requirement::AllowMissing { .. }) => {
                            if error == JwtError::Missing {
                                error = e;
                            }
                        }
                        Err(e) => error = e,
                    }
                }
                Err(error)
            }
            Requirement::AllowMissingOrFailed { scope } => {
                let _ = self.any_present(scope.as_deref());
                Ok(())
            }
            Requirement::AllowMissing { scope } => self.any_present(scope.as_deref()).map(|_| ()),
        }
    }
}
