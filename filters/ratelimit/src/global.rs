//! The global mode: Envoy's `ratelimit` filter. The request's descriptors,
//! built from `actions` as native builds them, go to a Rate Limit Service
//! (`ShouldRateLimit` over gRPC); the request waits for the answer, which
//! decides as native's `Filter::complete` does: `OK` goes on (with the
//! service's request headers), `OVER_LIMIT` is answered locally (429),
//! an error or timeout follows `failure_mode_deny`.

use crate::actions::{self, RequestView};
use crate::config::GlobalConfig;
use crate::draft03;
use crate::global_config::{Descriptor, RequestType, Service};
use crate::rls_proto::{
    code, Entry, HeaderValue, RateLimitDescriptor, RateLimitRequest, RateLimitResponse, UInt64Value,
};
use crate::{RateLimitFilter, RateLimiter};
use portico::config::{HeaderName, HeaderValue as PortHeaderValue};
use portico::{
    Action, ConfigError, Counter, Env, GrpcError, GrpcRequest, GrpcStatus, LocalResponse, Root,
    Stream, Verdict,
};
use std::cell::RefCell;
use std::time::Duration;

const SERVICE: &str = "envoy.service.ratelimit.v3.RateLimitService";
const METHOD: &str = "ShouldRateLimit";
/// Answers larger than this are an error, not a decision.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Clusters with their own counters; routes to more share the last set.
const MAX_METRIC_CLUSTERS: usize = 64;

/// The counters native keeps in the route's cluster's scope.
#[derive(Clone, Copy)]
struct Metrics {
    ok: Counter,
    over_limit: Counter,
    error: Counter,
    failure_mode_allowed: Counter,
}

/// The global mode, per VM.
pub struct Global {
    stat_prefix: String,
    domain: String,
    service: Service,
    timeout: Duration,
    failure_mode_deny: bool,
    descriptors: Vec<Descriptor>,
    x_ratelimit_headers: bool,
    x_envoy_ratelimited_header: bool,
    rate_limited_status: u16,
    status_on_error: u16,
    headers_on_limit: Vec<(String, String)>,
    enabled: bool,
    enforced: bool,
    request_type: RequestType,
    xff_num_trusted_hops: u32,
    /// Defined when a route's cluster is first seen, as native's scope.
    metrics: RefCell<Vec<(String, Metrics)>>,
}

/// How the service answered, as native's client reports it.
enum Outcome {
    Ok,
    OverLimit,
    Error,
}

impl Global {
    pub fn configure(
        config: GlobalConfig,
        _root: &mut Root<'_, RateLimiter>,
    ) -> Result<Self, ConfigError> {
        log::info!(
            "ratelimit: global mode, domain {:?}, {} descriptors, service cluster {:?}, \
             timeout {:?}, failure mode {}",
            config.domain,
            config.descriptors.len(),
            config.service.cluster,
            config.timeout,
            if config.failure_mode_deny {
                "deny"
            } else {
                "allow"
            }
        );
        Ok(Global {
            stat_prefix: config.stat_prefix,
            domain: config.domain,
            service: config.service,
            timeout: config.timeout,
            failure_mode_deny: config.failure_mode_deny,
            descriptors: config.descriptors,
            x_ratelimit_headers: config.x_ratelimit_headers,
            x_envoy_ratelimited_header: config.x_envoy_ratelimited_header,
            rate_limited_status: config.rate_limited_status,
            status_on_error: config.status_on_error,
            headers_on_limit: config.headers_on_limit,
            enabled: config.enabled,
            enforced: config.enforced,
            request_type: config.request_type,
            xff_num_trusted_hops: config.xff_num_trusted_hops,
            metrics: RefCell::new(Vec::new()),
        })
    }

    /// `cluster.<cluster>.ratelimit[.<stat_prefix>].<name>`, as native.
    fn metrics(&self, env: &Env<'_>, cluster: &str) -> Option<Metrics> {
        let mut known = self.metrics.borrow_mut();
        if let Some((_, m)) = known.iter().find(|(c, _)| c == cluster) {
            return Some(*m);
        }
        if known.len() >= MAX_METRIC_CLUSTERS {
            return known.last().map(|(_, m)| *m);
        }
        let scope = if self.stat_prefix.is_empty() {
            format!("cluster.{cluster}.ratelimit")
        } else {
            format!("cluster.{cluster}.ratelimit.{}", self.stat_prefix)
        };
        let define = |name: &str| env.counter(&format!("{scope}.{name}")).ok();
        let m = Metrics {
            ok: define("ok")?,
            over_limit: define("over_limit")?,
            error: define("error")?,
            failure_mode_allowed: define("failure_mode_allowed")?,
        };
        known.push((cluster.to_string(), m));
        Some(m)
    }

    /// The descriptors this request sends, in configuration order.
    fn descriptors_for(&self, s: &Stream<'_, RateLimitFilter>) -> Vec<RateLimitDescriptor> {
        let headers = s.request_headers();
        let path = s.path();
        let view = RequestView {
            headers: &headers,
            path: &path,
            env: s.env(),
            xff_num_trusted_hops: self.xff_num_trusted_hops,
        };
        let mut out = Vec::new();
        for d in &self.descriptors {
            if let Some(route) = &d.route {
                if !route.matches(&path, &headers) {
                    continue;
                }
            }
            let Some(entries) = actions::descriptor(&d.actions, &view) else {
                continue;
            };
            // Every action skipped (absent headers with `skip_if_absent`)
            // leaves an empty descriptor, which native sends as it is.
            out.push(RateLimitDescriptor {
                entries: entries
                    .into_iter()
                    .map(|(key, value)| Entry { key, value })
                    .collect(),
                limit: None,
                hits_addend: d.hits_addend.map(|value| UInt64Value { value }),
            });
        }
        out
    }

    pub fn on_request_headers(
        &self,
        f: &mut RateLimitFilter,
        s: &mut Stream<'_, RateLimitFilter>,
    ) -> Verdict {
        if !self.enabled {
            return Ok(Action::Continue);
        }
        // The header is read only when the type matters: `both` (the
        // default) costs no host call.
        if self.request_type != RequestType::Both {
            let internal = s.request_headers().get("x-envoy-internal");
            if !self.request_type.applies(internal.as_deref()) {
                return Ok(Action::Continue);
            }
        }
        // Native limits only requests routed to a cluster (a direct
        // response has none) and counts in that cluster's scope.
        let Some(cluster) = s.property_str(&["xds", "cluster_name"]) else {
            return Ok(Action::Continue);
        };
        let descriptors = self.descriptors_for(s);
        if descriptors.is_empty() {
            return Ok(Action::Continue);
        }
        let request = RateLimitRequest {
            domain: self.domain.clone(),
            descriptors,
            hits_addend: 0,
        };
        let mut call = GrpcRequest::new(&self.service.cluster, SERVICE, METHOD, &request)
            .timeout(self.timeout)
            .max_response_bytes(MAX_RESPONSE_BYTES);
        for (k, v) in &self.service.metadata {
            call = call.metadata(k, v);
        }
        let reply_cluster = cluster.clone();
        let sent = s.grpc_call(
            call,
            move |f: &mut RateLimitFilter,
                  plugin: &RateLimiter,
                  s: &mut Stream<'_, RateLimitFilter>,
                  reply: Result<RateLimitResponse, GrpcError>| {
                match plugin.global() {
                    Some(g) => g.complete(f, s, &reply_cluster, reply),
                    None => Ok(Action::Continue),
                }
            },
        );
        match sent {
            Ok(_) => Ok(Action::Pause),
            Err(e) => {
                log::warn!("ratelimit: cannot call the rate limit service: {e}");
                self.complete(
                    f,
                    s,
                    &cluster,
                    Err(GrpcError {
                        status: GrpcStatus(14),
                        message: Some(e.to_string()),
                    }),
                )
            }
        }
    }

    fn complete(
        &self,
        f: &mut RateLimitFilter,
        s: &mut Stream<'_, RateLimitFilter>,
        cluster: &str,
        reply: Result<RateLimitResponse, GrpcError>,
    ) -> Verdict {
        let m = self.metrics(s.env(), cluster);
        let count = |c: fn(&Metrics) -> Counter| {
            if let Some(m) = &m {
                c(m).inc(s.env());
            }
        };
        let (outcome, response) = match reply {
            Ok(r) => (
                // As native's client: only `OVER_LIMIT` limits; `UNKNOWN`
                // or a code it does not know is `OK`.
                match r.overall_code {
                    code::OVER_LIMIT => Outcome::OverLimit,
                    _ => Outcome::Ok,
                },
                r,
            ),
            Err(e) => {
                log::debug!("ratelimit: rate limit service failed: {e}");
                (Outcome::Error, RateLimitResponse::default())
            }
        };
        // What native adds to the client's response: the service's headers,
        // `x-envoy-ratelimited` when over the limit, the draft-03 headers.
        let mut to_client = valid(&response.response_headers_to_add);
        match outcome {
            Outcome::Ok => count(|m| m.ok),
            Outcome::Error => count(|m| m.error),
            Outcome::OverLimit => {
                count(|m| m.over_limit);
                if self.x_envoy_ratelimited_header {
                    // Native sets it: the service's first one becomes
                    // `true` where it stands, any others go.
                    let name = "x-envoy-ratelimited";
                    let mut seen = false;
                    to_client.retain_mut(|(k, v)| {
                        if k != name {
                            return true;
                        }
                        let first = !seen;
                        seen = true;
                        *v = "true".into();
                        first
                    });
                    if !seen {
                        to_client.push((name.into(), "true".into()));
                    }
                }
            }
        }
        if self.x_ratelimit_headers {
            for (k, v) in draft03::headers(&response.statuses) {
                to_client.push((k.to_string(), v));
            }
        }
        match outcome {
            Outcome::OverLimit if self.enforced => {
                let mut reply = LocalResponse::new(self.rate_limited_status)
                    .body(response.raw_body)
                    .details("request_rate_limited");
                for (k, v) in to_client.iter().chain(&self.headers_on_limit) {
                    reply = reply.header(k.as_str(), v.as_str());
                }
                Err(reply)
            }
            Outcome::Error if self.failure_mode_deny => {
                Err(LocalResponse::new(self.status_on_error)
                    .body(response.raw_body)
                    .details("rate_limiter_error"))
            }
            _ => {
                if matches!(outcome, Outcome::Error) {
                    count(|m| m.failure_mode_allowed);
                }
                let upstream = s.request_headers();
                for (k, v) in valid(&response.request_headers_to_add) {
                    upstream.add(&k, &v);
                }
                f.response_headers = to_client;
                Ok(Action::Continue)
            }
        }
    }

    /// Adds what the service asked for to the upstream's response.
    pub fn on_response_headers(
        &self,
        f: &mut RateLimitFilter,
        s: &mut Stream<'_, RateLimitFilter>,
    ) -> Verdict {
        if f.response_headers.is_empty() {
            return Ok(Action::Continue);
        }
        let headers = s.response_headers();
        for (k, v) in f.response_headers.drain(..) {
            headers.add(&k, &v);
        }
        Ok(Action::Continue)
    }
}

/// The service's headers, lower-cased; one that no HTTP message could
/// carry (a bad name, a pseudo-header, CR, LF or NUL in the value) is
/// dropped and logged, where native would pass it on to fail in the codec.
fn valid(list: &[HeaderValue]) -> Vec<(String, String)> {
    list.iter()
        .filter_map(|h| {
            let key = h.key.to_ascii_lowercase();
            if HeaderName::is_valid(&key) && PortHeaderValue::is_valid(&h.value) {
                Some((key, h.value.clone()))
            } else {
                log::warn!(
                    "ratelimit: the rate limit service sent a header that cannot be sent on \
                     ({} bytes of name); dropped",
                    h.key.len()
                );
                None
            }
        })
        .collect()
}
