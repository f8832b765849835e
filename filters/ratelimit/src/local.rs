//! The local mode: token buckets shared by all of Envoy's workers, one per
//! distinct key a request carries, as Envoy's `local_ratelimit` (with
//! Portico's `descriptors` rules).

use crate::actions::{self, Action as KeyAction, RequestView};
use crate::bucket::{Decision, Limit};
use crate::config::LocalConfig;
use crate::table::{Placement, Table};
use crate::{clock, secret, RateLimitFilter, RateLimiter};
use portico::config::route_match::RouteMatch;
use portico::host::HostError;
use portico::{Action, ConfigError, Counter, LocalResponse, Root, Stream, Verdict};
use std::cell::Cell;
use std::fmt::Write;
use std::time::Duration;

struct Rule {
    route: Option<RouteMatch>,
    actions: Vec<KeyAction>,
}

struct Metrics {
    enabled: Counter,
    ok: Counter,
    rate_limited: Counter,
    enforced: Counter,
    evicted: Counter,
    errors: Counter,
}

/// The local mode, per VM: the compiled configuration and the shared table.
pub struct Local {
    rules: Vec<Rule>,
    /// `limits[i]` for rule `i`; the default bucket, if any, comes last.
    limits: Vec<Limit>,
    has_default: bool,
    table: Table,
    status: u16,
    headers_on_limit: Vec<(String, String)>,
    x_ratelimit_headers: bool,
    enabled: bool,
    enforced: bool,
    xff_num_trusted_hops: u32,
    metrics: Metrics,
    sweep_from: Cell<u32>,
}

impl Local {
    pub fn configure(
        config: LocalConfig,
        root: &mut Root<'_, RateLimiter>,
    ) -> Result<Self, ConfigError> {
        let secret = secret::load_or_create(root.env()).map_err(|e| {
            ConfigError::at(".", format!("cannot set up the bucket table's key: {e}"))
        })?;
        let tag = secret.hash(&[format!("{config:?}").as_bytes()]);
        let mut rules = Vec::with_capacity(config.descriptors.len());
        let mut limits = Vec::with_capacity(config.descriptors.len() + 1);
        for d in config.descriptors {
            // Every local rule has its bucket (config.rs refuses one without).
            if let Some(limit) = d.limit {
                limits.push(limit);
                rules.push(Rule {
                    route: d.route,
                    actions: d.actions,
                });
            }
        }
        let has_default = config.default_limit.is_some();
        limits.extend(config.default_limit);
        let table = Table::open(root.env(), config.max_buckets, tag, secret).map_err(|e| {
            ConfigError::at(
                "max_buckets",
                format!("cannot create the shared bucket table: {e}"),
            )
        })?;
        let p = config.stat_prefix.metric("http_local_rate_limit");
        let metrics = Metrics {
            enabled: root.counter(&format!("{p}.enabled"))?,
            ok: root.counter(&format!("{p}.ok"))?,
            rate_limited: root.counter(&format!("{p}.rate_limited"))?,
            enforced: root.counter(&format!("{p}.enforced"))?,
            evicted: root.counter(&format!("{p}.buckets_evicted"))?,
            errors: root.counter(&format!("{p}.errors"))?,
        };
        // Idle buckets give their slot back; see table.rs.
        root.every(Duration::from_secs(1), |plugin: &RateLimiter, root| {
            if let Some(local) = plugin.local() {
                let now = clock::now_ns(root.env());
                let next = local.table.sweep(root.env(), local.sweep_from.get(), now);
                local.sweep_from.set(next);
            }
        });
        log::info!(
            "ratelimit: {} descriptor rules, default bucket {}, {} slots, enforced {}, \
             refill on {}",
            rules.len(),
            if has_default { "on" } else { "off" },
            config.max_buckets,
            config.enforced,
            clock::source(root.env())
        );
        Ok(Local {
            rules,
            limits,
            has_default,
            table,
            status: config.status,
            headers_on_limit: config.headers_on_limit,
            x_ratelimit_headers: config.x_ratelimit_headers,
            enabled: config.enabled,
            enforced: config.enforced,
            xff_num_trusted_hops: config.xff_num_trusted_hops,
            metrics,
            sweep_from: Cell::new(0),
        })
    }
}

impl Local {
    /// The rule (index into `limits`) and bucket key for a request, if any
    /// bucket applies.
    fn bucket_for(&self, s: &Stream<'_, RateLimitFilter>) -> Option<(usize, String)> {
        if self.rules.is_empty() {
            return self.default_bucket();
        }
        let headers = s.request_headers();
        let path = s.path();
        let view = RequestView {
            headers: &headers,
            path: &path,
            env: s.env(),
            xff_num_trusted_hops: self.xff_num_trusted_hops,
        };
        let mut key = String::with_capacity(64);
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(route) = &rule.route {
                if !route.matches(&path, &headers) {
                    continue;
                }
            }
            key.clear();
            let _ = write!(key, "{i}");
            if actions::build_key(&rule.actions, &view, &mut key) {
                return Some((i, key));
            }
        }
        self.default_bucket()
    }

    fn default_bucket(&self) -> Option<(usize, String)> {
        self.has_default
            .then(|| (self.limits.len() - 1, "default".to_string()))
    }
}

impl Local {
    pub fn on_request_headers(
        &self,
        f: &mut RateLimitFilter,
        s: &mut Stream<'_, RateLimitFilter>,
    ) -> Verdict {
        let plugin = self;
        if !plugin.enabled {
            return Ok(Action::Continue);
        }
        let Some((rule, key)) = plugin.bucket_for(s) else {
            return Ok(Action::Continue);
        };
        let m = &plugin.metrics;
        m.enabled.inc(s);
        let now = clock::now_ns(s);
        let Some(limit) = plugin.limits.get(rule) else {
            return Ok(Action::Continue);
        };
        let decision = match plugin.table.take(s, &key, limit, now) {
            Ok((d, placement)) => {
                if placement == Placement::Evicted {
                    m.evicted.inc(s);
                }
                d
            }
            Err(HostError::CasMismatch) => {
                // Under contention so heavy that CAS kept failing, refuse
                // rather than let a request through uncounted.
                m.errors.inc(s);
                log::warn!(
                    "ratelimit: bucket contended beyond {} attempts; limiting",
                    32
                );
                Decision {
                    allowed: false,
                    remaining: 0,
                    reset_seconds: 1,
                }
            }
            Err(other) => {
                m.errors.inc(s);
                log::error!(
                    "ratelimit: shared data unavailable ({other}); letting the request through"
                );
                return Ok(Action::Continue);
            }
        };
        let max_tokens = plugin.limits.get(rule).map_or(0, |l| l.max_tokens);
        f.outcome = Some((decision, max_tokens));
        if decision.allowed {
            m.ok.inc(s);
            return Ok(Action::Continue);
        }
        m.rate_limited.inc(s);
        if !plugin.enforced {
            return Ok(Action::Continue);
        }
        m.enforced.inc(s);
        let mut reply = LocalResponse::new(plugin.status)
            .header("content-type", "text/plain")
            .header("retry-after", decision.reset_seconds.max(1).to_string())
            .body(&b"local_rate_limited"[..])
            .details("local_rate_limited");
        for (k, v) in &plugin.headers_on_limit {
            reply = reply.header(k.as_str(), v.as_str());
        }
        Err(reply)
    }

    pub fn on_response_headers(
        &self,
        f: &RateLimitFilter,
        s: &mut Stream<'_, RateLimitFilter>,
    ) -> Verdict {
        if !self.x_ratelimit_headers {
            return Ok(Action::Continue);
        }
        if let Some((d, max_tokens)) = f.outcome {
            let h = s.response_headers();
            h.set("x-ratelimit-limit", &max_tokens.to_string());
            h.set("x-ratelimit-remaining", &d.remaining.to_string());
            h.set("x-ratelimit-reset", &d.reset_seconds.to_string());
        }
        Ok(Action::Continue)
    }
}
