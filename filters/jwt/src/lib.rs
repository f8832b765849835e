//! `portico_jwt.wasm`: JWT validation with the configuration of Envoy's
//! `jwt_authn` filter.
//!
//! - `config.rs`: the JSON, checked as it is read;
//! - `provider.rs`: a provider compiled, and the checks of one token;
//! - `extract.rs`: where tokens are found;
//! - `claims.rs`: issuer, time, audience, subject;
//! - `requirement.rs`: `requires` trees; `error.rs`: what the client is told;
//! - this file: rules, responses, and what a verified request carries upstream.
//!
//! Tokens split and decoded, keys and signatures are JOSE, in the
//! `portico-jose` crate (`jose/`): its `token`, `jwks` and `verify` modules
//! are imported here, so `crate::jwks` and the like name them.

pub mod cache;
pub mod claim_header;
pub mod claims;
pub mod config;
pub mod error;
pub mod extract;
pub mod provider;
pub mod remote;
pub mod requirement;

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use error::{JwtError, Refusal as _};
use portico::config::route_match::RouteMatch;
use portico::{
    Action, CallError, ConfigError, Counter, Env, HttpFilter, HttpResponse, LocalResponse, Plugin,
    Root, Stream, Verdict,
};
use portico_jose::{jwks, token, verify};
use provider::{Keys, Provider};
use requirement::{Evaluation, Requirement};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

struct Rule {
    route: RouteMatch,
    requires: Option<Requirement>,
}

/// Per VM: providers with their keys, rules, metric handles.
pub struct JwtAuthn {
    providers: Vec<Provider>,
    rules: Vec<Rule>,
    bypass_cors_preflight: bool,
    strip_failure_response: bool,
    /// Headers this filter sets on success; a client's copies are removed first.
    owned_headers: Vec<String>,
    metrics: Metrics,
}

struct Metrics {
    allowed: Counter,
    denied: Counter,
    cache_hit: Counter,
    cache_miss: Counter,
    fetch_success: Counter,
    fetch_failed: Counter,
}

impl Plugin for JwtAuthn {
    type Config = config::Config;
    type Filter = JwtFilter;

    fn configure(config: config::Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError> {
        let mut names = BTreeMap::new();
        let mut providers = Vec::with_capacity(config.providers.len());
        for (name, p) in config.providers {
            names.insert(name.clone(), providers.len());
            providers.push(Provider::compile(&name, p)?);
        }
        let mut rules = Vec::with_capacity(config.rules.len());
        for r in config.rules {
            let requires = r
                .requires
                .map(|req| Requirement::compile(req, &names))
                .transpose()?;
            rules.push(Rule {
                route: r.route,
                requires,
            });
        }
        let mut owned_headers: Vec<String> = Vec::new();
        for p in &providers {
            for h in p
                .payload_header
                .iter()
                .chain(p.claim_headers.iter().map(|(h, _)| h))
            {
                if !owned_headers.contains(h) {
                    owned_headers.push(h.clone());
                }
            }
        }
        let prefix = &config.stat_prefix;
        let metrics = Metrics {
            allowed: root.counter(&prefix.metric("allowed"))?,
            denied: root.counter(&prefix.metric("denied"))?,
            cache_hit: root.counter(&prefix.metric("jwt_cache_hit"))?,
            cache_miss: root.counter(&prefix.metric("jwt_cache_miss"))?,
            fetch_success: root.counter(&prefix.metric("jwks_fetch_success"))?,
            fetch_failed: root.counter(&prefix.metric("jwks_fetch_failed"))?,
        };
        // Remote JWKS are fetched as soon as the VM runs, not on first use.
        for (index, p) in providers.iter().enumerate() {
            if matches!(p.keys, Keys::Remote(..)) {
                root.set_timer(Duration::from_millis(1), move |plugin, root| {
                    JwtAuthn::fetch(plugin, root, index)
                });
            }
        }
        log::info!("jwt: {} providers, {} rules", providers.len(), rules.len());
        Ok(JwtAuthn {
            providers,
            rules,
            bypass_cors_preflight: config.bypass_cors_preflight,
            strip_failure_response: config.strip_failure_response,
            owned_headers,
            metrics,
        })
    }

    fn new_filter(&self, _: &Env<'_>) -> JwtFilter {
        JwtFilter { waited: false }
    }
}

impl JwtAuthn {
    /// Starts a fetch of provider `index`'s remote JWKS, unless one is running.
    fn fetch(plugin: &JwtAuthn, root: &mut Root<'_, JwtAuthn>, index: usize) {
        let Some(Keys::Remote(remote, state)) = plugin.providers.get(index).map(|p| &p.keys) else {
            return;
        };
        if state.borrow().in_flight {
            return;
        }
        state.borrow_mut().in_flight = true;
        let started = root.http_call(remote.request(), move |plugin, root, reply| {
            JwtAuthn::fetched(plugin, root, index, reply)
        });
        if let Err(e) = started {
            log::warn!(
                "jwt: cannot call cluster {:?} for the JWKS: {e}",
                remote.cluster
            );
            JwtAuthn::fetched(plugin, root, index, Err(CallError::Failed));
        }
    }

    fn fetched(
        plugin: &JwtAuthn,
        root: &mut Root<'_, JwtAuthn>,
        index: usize,
        reply: Result<HttpResponse, CallError>,
    ) {
        let Some(provider) = plugin.providers.get(index) else {
            return;
        };
        let Keys::Remote(remote, state) = &provider.keys else {
            return;
        };
        let parsed = match reply {
            Ok(r) => remote::parse_reply(remote, r.status, &r.body),
            Err(CallError::TooLarge { .. }) => Err(format!(
                "JWKS larger than {} bytes",
                remote.limits.max_bytes
            )),
            Err(CallError::Failed) => Err("the callout failed or timed out".to_string()),
        };
        let next = {
            let mut st = state.borrow_mut();
            st.in_flight = false;
            match parsed {
                Ok(keys) => {
                    plugin.metrics.fetch_success.inc(root.env());
                    for warning in jwks::short_hmac_warnings(&keys) {
                        log::warn!("jwt: provider {:?}: {warning}", provider.name);
                    }
                    let rotated = st.keys.is_some();
                    st.keys = Some(Rc::new(keys));
                    st.fetched_at = Some(root.env().now());
                    st.failed = false;
                    st.attempt = 0;
                    if rotated {
                        provider.forget_tokens();
                    }
                    Some(remote.refresh_after())
                }
                Err(why) => {
                    plugin.metrics.fetch_failed.inc(root.env());
                    st.attempt += 1;
                    log::warn!(
                        "jwt: fetching the JWKS of provider {:?} from {}{} failed (attempt {}): {why}{}",
                        provider.name,
                        remote.authority,
                        remote.path,
                        st.attempt,
                        if st.keys.is_some() { "; keeping the last good keys" } else { "" }
                    );
                    if st.attempt <= remote.retries {
                        None
                    } else {
                        st.attempt = 0;
                        st.failed = st.keys.is_none();
                        Some(remote.failed_refetch)
                    }
                }
            }
        };
        match next {
            // A retry: waiting requests keep waiting.
            None => JwtAuthn::fetch(plugin, root, index),
            Some(after) => {
                let waiters = std::mem::take(&mut state.borrow_mut().waiters);
                for id in waiters {
                    if !root.wake(id) {
                        log::debug!("jwt: a request waiting for the JWKS is gone");
                    }
                }
                root.set_timer(after, move |plugin, root| {
                    JwtAuthn::fetch(plugin, root, index)
                });
            }
        }
    }
}

pub struct JwtFilter {
    /// Already waited once for keys: do not wait again.
    waited: bool,
}

impl HttpFilter for JwtFilter {
    type Plugin = JwtAuthn;

    fn on_request_headers(&mut self, plugin: &JwtAuthn, s: &mut Stream<'_, Self>) -> Verdict {
        let headers = s.request_headers();
        // The hook reads `:path` and every value of each token header: one
        // fetch of the map answers them all, and the removals below.
        headers.prefetch();
        // Whatever the outcome, the client cannot supply what this filter vouches for.
        for h in &plugin.owned_headers {
            headers.remove(h);
        }
        // As in Envoy, a preflight needs a non-empty `origin` and
        // `access-control-request-method`; empty ones do not skip auth.
        let non_empty = |name: &str| headers.get(name).is_some_and(|v| !v.is_empty());
        if plugin.bypass_cors_preflight
            && headers.method().as_deref() == Some("OPTIONS")
            && non_empty("origin")
            && non_empty("access-control-request-method")
        {
            return Ok(Action::Continue);
        }
        self.decide(plugin, s)
    }

    /// A request that waited for a remote JWKS: the fetch has finished.
    fn on_wake(&mut self, plugin: &JwtAuthn, s: &mut Stream<'_, Self>) -> Verdict {
        s.request_headers().prefetch();
        self.decide(plugin, s)
    }
}

impl JwtFilter {
    fn decide(&mut self, plugin: &JwtAuthn, s: &mut Stream<'_, Self>) -> Verdict {
        let headers = s.request_headers();
        // Read once: rule matching and token extraction both need it.
        let path = s.path();
        let Some(rule) = plugin
            .rules
            .iter()
            .find(|r| r.route.matches(&path, &headers))
        else {
            return Ok(Action::Continue);
        };
        let Some(requires) = &rule.requires else {
            return Ok(Action::Continue);
        };
        let now = i64::try_from(s.unix_seconds()).unwrap_or(i64::MAX);
        let mut eval = Evaluation::new(&plugin.providers, &headers, &path, now);
        let waiting = eval.waiting_for_keys();
        if !waiting.is_empty() && !self.waited {
            let mut parked = false;
            for index in waiting {
                if let Some(Keys::Remote(_, state)) = plugin.providers.get(index).map(|p| &p.keys) {
                    let mut st = state.borrow_mut();
                    if st.waiters.len() < remote::MAX_WAITERS && !parked {
                        st.waiters.push(s.id());
                        parked = true;
                    }
                }
            }
            if parked {
                self.waited = true;
                return Ok(Action::Pause);
            }
        }
        let outcome = eval.evaluate(requires);
        if eval.cache_hits > 0 {
            plugin.metrics.cache_hit.add(s, eval.cache_hits);
        }
        if eval.cache_misses > 0 {
            plugin.metrics.cache_miss.add(s, eval.cache_misses);
        }
        match outcome {
            Ok(()) => {
                for (index, accepted) in &eval.accepted {
                    let Some(p) = plugin.providers.get(*index) else {
                        continue;
                    };
                    if let Some(h) = &p.payload_header {
                        let value = if p.pad_payload {
                            URL_SAFE.encode(
                                URL_SAFE_NO_PAD
                                    .decode(accepted.payload_b64.as_bytes())
                                    .unwrap_or_default(),
                            )
                        } else {
                            accepted.payload_b64.to_string()
                        };
                        headers.add(h, &value);
                    }
                    // Appended: with several tokens, Envoy adds one value per token.
                    for (h, claim) in &p.claim_headers {
                        if let Some(v) = provider::claim_value(&accepted.claims, claim) {
                            headers.add(h, &v);
                        }
                    }
                    if !p.forward {
                        if let Some(loc) = p.locations.get(accepted.location) {
                            extract::remove(loc, &headers);
                        }
                    }
                }
                plugin.metrics.allowed.inc(s);
                Ok(Action::Continue)
            }
            Err(e) => {
                plugin.metrics.denied.inc(s);
                log::debug!(
                    "jwt: refused {} {}: {}",
                    headers.method().unwrap_or_default(),
                    portico::query::path_only(&path),
                    e.message()
                );
                Err(deny(plugin, s, e))
            }
        }
    }
}

/// Envoy's realm holds at most this many bytes of the path.
const MAX_REALM_PATH: usize = 256;

fn deny(plugin: &JwtAuthn, s: &Stream<'_, JwtFilter>, e: JwtError) -> LocalResponse {
    let response = LocalResponse::new(e.status()).details("jwt_authn_access_denied");
    // As in Envoy: a stripped refusal has no body and no challenge either.
    if plugin.strip_failure_response {
        return response.body(b"");
    }
    let headers = s.request_headers();
    let full = s.path();
    let mut path = portico::query::path_only(&full);
    if path.len() > MAX_REALM_PATH {
        let mut end = MAX_REALM_PATH;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        path = path.get(..end).unwrap_or_default();
    }
    let realm = format!(
        "{}://{}{}",
        headers.scheme().unwrap_or_else(|| "http".into()),
        headers.authority().unwrap_or_default(),
        path
    );
    let challenge = match e {
        JwtError::Missing => format!("Bearer realm=\"{realm}\""),
        _ => format!("Bearer realm=\"{realm}\", error=\"invalid_token\""),
    };
    response
        .header("www-authenticate", challenge)
        .header("content-type", "text/plain")
        .body(e.message().as_bytes())
}

// Exports the plugin from this crate's own .wasm; off (no `module`
// feature) when another module links the crate as a member of a chain
// (filters/edge), which exports its own.
#[cfg(feature = "module")]
portico::main!(JwtAuthn);

// The name of this filter in a `portico::Chain`'s `filters` list.
portico::member!(JwtAuthn, "jwt");
