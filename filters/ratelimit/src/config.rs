//! The configuration: close to Envoy's `LocalRateLimit` with Portico's
//! `descriptors` rules, or with `rate_limit_service` Envoy's `RateLimit`
//! (the global mode, `global_config.rs`), read into its checked form
//! ([`Config`]) by `Deserialize`, so every refusal names the JSON path of
//! its field.

use crate::actions::Action;
use crate::bucket::Limit;
use crate::global_config::{
    self, Descriptor, Override, RawHitsAddend, RequestType, Service, StreamDone,
};
use portico::config::{
    self, ConfigError, Duration, HeaderName, HeaderValue, NonEmptyString, RouteMatch, StatPrefix,
    Unsupported, UnsupportedTrue,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// Envoy asserts this floor on `fill_interval` too.
const MIN_FILL_INTERVAL_MS: u128 = 50;
pub const DEFAULT_MAX_BUCKETS: u32 = 100_000;
const MAX_MAX_BUCKETS: u32 = 1_000_000;

portico::unsupported_reasons! {
    pub NotSupported = "is not supported by Portico";
    pub PerConnection = "per-connection buckets are not supported by Portico: its buckets are \
        shared by all workers; key by `remote_address` for per-client limits";
    pub AlwaysConsume = "`true` is not supported by Portico: a request a `descriptors` rule claims \
        takes a token from that rule's bucket only, never from the default bucket \
        (native's `false`); set `false` or leave it out";
    pub Entries = "Envoy's `entries` need route-level `rate_limits`, which a wasm filter \
        cannot see; describe the key with `actions` instead";
}

/// The configuration, checked: the local mode (Envoy's `local_ratelimit`)
/// or, with `rate_limit_service`, the global one (Envoy's `ratelimit`).
#[derive(Debug)]
pub enum Config {
    Local(LocalConfig),
    Global(GlobalConfig),
}

/// The local mode: token buckets in shared data.
#[derive(Debug)]
pub struct LocalConfig {
    pub stat_prefix: StatPrefix,
    /// `token_bucket`: the bucket of requests no rule claims.
    pub default_limit: Option<Limit>,
    pub descriptors: Vec<Rule>,
    pub x_ratelimit_headers: bool,
    pub status: u16,
    pub headers_on_limit: Vec<(String, String)>,
    pub enabled: bool,
    pub enforced: bool,
    pub max_buckets: u32,
    pub xff_num_trusted_hops: u32,
}

/// The global mode: a Rate Limit Service decides.
#[derive(Debug)]
pub struct GlobalConfig {
    /// Empty: native's `cluster.<cluster>.ratelimit.ok`; else
    /// `cluster.<cluster>.ratelimit.<stat_prefix>.ok`.
    pub stat_prefix: String,
    pub domain: String,
    pub service: Service,
    pub timeout: std::time::Duration,
    pub failure_mode_deny: bool,
    pub descriptors: Vec<Descriptor>,
    pub x_ratelimit_headers: bool,
    pub x_envoy_ratelimited_header: bool,
    pub rate_limited_status: u16,
    pub status_on_error: u16,
    pub headers_on_limit: Vec<(String, String)>,
    pub enabled: bool,
    pub enforced: bool,
    pub request_type: RequestType,
    pub xff_num_trusted_hops: u32,
}

/// Native's default for the call's `timeout`.
const DEFAULT_TIMEOUT_MS: u64 = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    // Both modes.
    #[serde(default)]
    stat_prefix: Option<StatPrefix>,
    #[serde(default)]
    descriptors: Option<Vec<Rule>>,
    #[serde(default)]
    enable_x_ratelimit_headers: XRateLimitHeaders,
    #[serde(default)]
    response_headers_to_add: Vec<HeaderValueOption>,
    #[serde(default)]
    filter_enabled: Option<AllOrNothing>,
    #[serde(default)]
    filter_enforced: Option<AllOrNothing>,
    #[serde(default)]
    xff_num_trusted_hops: u32,
    // The local mode.
    #[serde(default)]
    token_bucket: Option<Limit>,
    #[serde(default)]
    status: Option<HttpStatus>,
    #[serde(default, deserialize_with = "max_buckets")]
    max_buckets: Option<u32>,
    // The global mode.
    #[serde(default)]
    rate_limit_service: Option<Service>,
    #[serde(default)]
    domain: Option<NonEmptyString>,
    #[serde(default)]
    rate_limits: Option<Vec<Rule>>,
    #[serde(default)]
    timeout: Option<Duration>,
    #[serde(default)]
    failure_mode_deny: bool,
    #[serde(default)]
    disable_x_envoy_ratelimited_header: bool,
    #[serde(default)]
    rate_limited_status: Option<HttpStatus>,
    #[serde(default)]
    status_on_error: Option<HttpStatus>,
    #[serde(default)]
    request_type: RequestType,
    #[serde(default, rename = "stage", deserialize_with = "stage_zero")]
    _stage: (),
    // Envoy fields Portico does not implement: refused by name.
    #[serde(default, rename = "local_rate_limit_per_downstream_connection")]
    _per_connection: UnsupportedTrue<PerConnection>,
    #[serde(default, rename = "always_consume_default_token_bucket")]
    _always_consume: UnsupportedTrue<AlwaysConsume>,
    #[serde(default, rename = "local_cluster_rate_limit")]
    _local_cluster_rate_limit: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "rate_limited_as_resource_exhausted")]
    _rate_limited_as_resource_exhausted: UnsupportedTrue<NotSupported>,
    #[serde(default, rename = "request_headers_to_add_when_not_enforced")]
    _request_headers_to_add_when_not_enforced: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "vh_rate_limits")]
    _vh_rate_limits: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "failure_mode_deny_percent")]
    _failure_mode_deny_percent: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "status_on_error_percent")]
    _status_on_error_percent: Option<Unsupported<NotSupported>>,
}

fn max_buckets<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u32::deserialize(d)?;
    if n == 0 || n > MAX_MAX_BUCKETS {
        return Err(
            ConfigError::here(format!("must be between 1 and {MAX_MAX_BUCKETS}")).into_de(),
        );
    }
    Ok(Some(n))
}

/// `stage`: stages pick among route-level `rate_limits`, which a wasm filter
/// cannot see; its descriptors are its own, so only the default stage 0
/// means anything.
fn stage_zero<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    match u32::deserialize(d)? {
        0 => Ok(()),
        _ => Err(ConfigError::here(
            "only stage 0 is supported: Portico's descriptors are its own, not the route's",
        )
        .into_de()),
    }
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawConfig| match raw.rate_limit_service.is_some() {
            true => global(raw).map(Config::Global),
            false => local(raw).map(Config::Local),
        })
    }
}

/// A field set that belongs to the other mode, refused by name.
fn refuse_if(set: bool, field: &str, why: &str) -> Result<(), ConfigError> {
    if set {
        return Err(ConfigError::at(field, why));
    }
    Ok(())
}

const GLOBAL_ONLY: &str = "belongs to the global mode, which needs `rate_limit_service`";
const LOCAL_ONLY: &str =
    "belongs to the local mode; with `rate_limit_service` the service holds the limits";

fn local(raw: RawConfig) -> Result<LocalConfig, ConfigError> {
    refuse_if(raw.domain.is_some(), "domain", GLOBAL_ONLY)?;
    refuse_if(raw.rate_limits.is_some(), "rate_limits", GLOBAL_ONLY)?;
    refuse_if(raw.timeout.is_some(), "timeout", GLOBAL_ONLY)?;
    refuse_if(raw.failure_mode_deny, "failure_mode_deny", GLOBAL_ONLY)?;
    refuse_if(
        raw.disable_x_envoy_ratelimited_header,
        "disable_x_envoy_ratelimited_header",
        GLOBAL_ONLY,
    )?;
    refuse_if(
        raw.rate_limited_status.is_some(),
        "rate_limited_status",
        GLOBAL_ONLY,
    )?;
    refuse_if(
        raw.status_on_error.is_some(),
        "status_on_error",
        GLOBAL_ONLY,
    )?;
    refuse_if(
        raw.request_type != RequestType::Both,
        "request_type",
        GLOBAL_ONLY,
    )?;
    let Some(stat_prefix) = raw.stat_prefix else {
        return Err(ConfigError::here("missing field `stat_prefix`"));
    };
    let rules = raw.descriptors.unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        if rule.limit.is_none() {
            return Err(ConfigError::at(
                format!("descriptors[{i}].token_bucket"),
                "missing field `token_bucket` (each local rule has its own bucket)",
            ));
        }
        if rule.hits_addend.is_some() {
            return Err(ConfigError::at(
                format!("descriptors[{i}].hits_addend"),
                GLOBAL_ONLY,
            ));
        }
    }
    if raw.token_bucket.is_none() && rules.is_empty() {
        return Err(ConfigError::here(
            "nothing to limit: set `token_bucket` (the default bucket), `descriptors`, or both",
        ));
    }
    Ok(LocalConfig {
        stat_prefix,
        default_limit: raw.token_bucket,
        descriptors: rules,
        x_ratelimit_headers: raw.enable_x_ratelimit_headers == XRateLimitHeaders::DraftVersion03,
        status: raw.status.map_or(429, |s| s.0),
        headers_on_limit: header_pairs(raw.response_headers_to_add),
        enabled: raw.filter_enabled.is_none_or(|p| p.0),
        enforced: raw.filter_enforced.is_none_or(|p| p.0),
        max_buckets: raw.max_buckets.unwrap_or(DEFAULT_MAX_BUCKETS),
        xff_num_trusted_hops: raw.xff_num_trusted_hops,
    })
}

fn global(raw: RawConfig) -> Result<GlobalConfig, ConfigError> {
    refuse_if(raw.token_bucket.is_some(), "token_bucket", LOCAL_ONLY)?;
    refuse_if(
        raw.status.is_some(),
        "status",
        "is `rate_limited_status` in the global mode",
    )?;
    refuse_if(raw.max_buckets.is_some(), "max_buckets", LOCAL_ONLY)?;
    let Some(domain) = raw.domain else {
        return Err(ConfigError::here("missing field `domain`"));
    };
    let (field, rules) = match (raw.descriptors, raw.rate_limits) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::at(
                "rate_limits",
                "`descriptors` and `rate_limits` are one list under two names: set one",
            ))
        }
        (Some(d), None) => ("descriptors", d),
        (None, Some(r)) => ("rate_limits", r),
        (None, None) => ("descriptors", Vec::new()),
    };
    if rules.is_empty() {
        return Err(ConfigError::at(
            field,
            "needs at least one descriptor (Envoy `RateLimit` with `actions`)",
        ));
    }
    let mut descriptors = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        if rule.limit.is_some() {
            return Err(ConfigError::at(
                format!("{field}[{i}].token_bucket"),
                LOCAL_ONLY,
            ));
        }
        if rule.actions.is_empty() {
            return Err(ConfigError::at(
                format!("{field}[{i}].actions"),
                "needs at least one action (as in Envoy)",
            ));
        }
        descriptors.push(Descriptor {
            route: rule.route,
            actions: rule.actions,
            hits_addend: rule.hits_addend,
        });
    }
    let timeout = raw
        .timeout
        .map_or(std::time::Duration::from_millis(DEFAULT_TIMEOUT_MS), |t| {
            t.get()
        });
    if timeout.is_zero() {
        return Err(ConfigError::at("timeout", "must be more than 0"));
    }
    let stat_prefix = raw
        .stat_prefix
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let Some(service) = raw.rate_limit_service else {
        return Err(ConfigError::here("missing field `rate_limit_service`"));
    };
    Ok(GlobalConfig {
        stat_prefix,
        domain: domain.into(),
        service,
        timeout,
        failure_mode_deny: raw.failure_mode_deny,
        descriptors,
        x_ratelimit_headers: raw.enable_x_ratelimit_headers == XRateLimitHeaders::DraftVersion03,
        x_envoy_ratelimited_header: !raw.disable_x_envoy_ratelimited_header,
        rate_limited_status: raw.rate_limited_status.map_or(429, |s| s.0),
        status_on_error: raw.status_on_error.map_or(500, |s| s.0),
        headers_on_limit: header_pairs(raw.response_headers_to_add),
        enabled: raw.filter_enabled.is_none_or(|p| p.0),
        enforced: raw.filter_enforced.is_none_or(|p| p.0),
        request_type: raw.request_type,
        xff_num_trusted_hops: raw.xff_num_trusted_hops,
    })
}

fn header_pairs(list: Vec<HeaderValueOption>) -> Vec<(String, String)> {
    list.into_iter()
        .map(|h| (h.header.key.into_string(), h.header.value.into_string()))
        .collect()
}

/// A descriptor rule. In the local mode the requests it claims get a bucket
/// per distinct combination of action values (`token_bucket` required); in
/// the global mode it is Envoy's `RateLimit`, a descriptor to send.
#[derive(Debug)]
pub struct Rule {
    pub route: Option<RouteMatch>,
    pub actions: Vec<Action>,
    pub limit: Option<Limit>,
    pub hits_addend: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, rename = "match")]
    route: Option<RouteMatch>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    token_bucket: Option<Limit>,
    #[serde(default)]
    hits_addend: Option<RawHitsAddend>,
    #[serde(default, rename = "stage", deserialize_with = "stage_zero")]
    _stage: (),
    #[serde(default, rename = "entries")]
    _entries: Option<Unsupported<Entries>>,
    #[serde(default, rename = "disable_key")]
    _disable_key: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "limit")]
    _limit: Option<Unsupported<Override>>,
    #[serde(default, rename = "apply_on_stream_done")]
    _apply_on_stream_done: UnsupportedTrue<StreamDone>,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawRule| {
            if raw.actions.is_empty() && raw.route.is_none() {
                return Err(ConfigError::here("needs `actions`, a `match`, or both"));
            }
            Ok(Rule {
                route: raw.route,
                actions: raw.actions,
                limit: raw.token_bucket,
                hits_addend: global_config::hits_addend(raw.hits_addend)?,
            })
        })
    }
}

/// `envoy.type.v3.TokenBucket`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTokenBucket {
    max_tokens: u32,
    #[serde(default)]
    tokens_per_fill: Option<u32>,
    fill_interval: Duration,
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawTokenBucket| {
            if raw.max_tokens == 0 {
                return Err(ConfigError::at("max_tokens", "must be at least 1"));
            }
            let tokens_per_fill = raw.tokens_per_fill.unwrap_or(1);
            if tokens_per_fill == 0 {
                return Err(ConfigError::at("tokens_per_fill", "must be at least 1"));
            }
            let interval = raw.fill_interval.get();
            if interval.as_millis() < MIN_FILL_INTERVAL_MS {
                return Err(ConfigError::at(
                    "fill_interval",
                    format!(
                        "must be at least 50ms (as in Envoy), got {}",
                        raw.fill_interval
                    ),
                ));
            }
            let fill_interval_ns = u64::try_from(interval.as_nanos())
                .map_err(|_| ConfigError::at("fill_interval", "is too long"))?;
            Ok(Limit {
                max_tokens: u64::from(raw.max_tokens),
                tokens_per_fill: u64::from(tokens_per_fill),
                fill_interval_ns,
            })
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
enum XRateLimitHeaders {
    #[default]
    #[serde(rename = "OFF")]
    Off,
    #[serde(rename = "DRAFT_VERSION_03")]
    DraftVersion03,
}

/// `envoy.type.v3.HttpStatus` (`{"code": 429}` or `{"code": "TooManyRequests"}`),
/// a 4xx or 5xx.
struct HttpStatus(u16);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    code: StatusCode,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StatusCode {
    Number(u16),
    Name(String),
}

impl<'de> Deserialize<'de> for HttpStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawStatus| {
            let code = match raw.code {
                StatusCode::Number(n) => n,
                StatusCode::Name(name) => match name.as_str() {
                    "TooManyRequests" => 429,
                    "ServiceUnavailable" => 503,
                    "Forbidden" => 403,
                    "BadRequest" => 400,
                    "InternalServerError" => 500,
                    other => {
                        return Err(ConfigError::at(
                            "code",
                            format!("unknown status name {other:?}; use a number"),
                        ))
                    }
                },
            };
            if !(400..=599).contains(&code) {
                return Err(ConfigError::at(
                    "code",
                    format!("{code} is not a 4xx or 5xx status"),
                ));
            }
            Ok(HttpStatus(code))
        })
    }
}

/// `envoy.config.core.v3.HeaderValueOption`, literal values only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderValueOption {
    header: HeaderKeyValue,
    #[serde(default, rename = "append_action")]
    _append_action: Option<IgnoredAny>,
    #[serde(default, rename = "append")]
    _append: Option<bool>,
    #[serde(default, rename = "keep_empty_value")]
    _keep_empty_value: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderKeyValue {
    key: HeaderName,
    #[serde(default)]
    value: HeaderValue,
}

/// Envoy's `RuntimeFractionalPercent` (`{"default_value": {"numerator":
/// 100, "denominator": "HUNDRED"}, "runtime_key": ...}`), or a plain bool:
/// only all (100%) or nothing (0) — runtime overrides and sampling are not supported.
struct AllOrNothing(bool);

#[derive(Deserialize)]
#[serde(untagged)]
enum Percent {
    Bool(bool),
    Runtime(RuntimePercent),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimePercent {
    default_value: FractionalPercent,
    #[serde(default, rename = "runtime_key")]
    _runtime_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FractionalPercent {
    #[serde(default)]
    numerator: u32,
    #[serde(default)]
    denominator: Option<String>,
}

impl<'de> Deserialize<'de> for AllOrNothing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: Percent| {
            let p = match raw {
                Percent::Bool(b) => return Ok(AllOrNothing(b)),
                Percent::Runtime(p) => p.default_value,
            };
            let per = match p.denominator.as_deref().unwrap_or("HUNDRED") {
                "HUNDRED" => 100,
                "TEN_THOUSAND" => 10_000,
                "MILLION" => 1_000_000,
                other => {
                    return Err(ConfigError::at(
                        "default_value.denominator",
                        format!("unknown denominator {other:?}"),
                    ))
                }
            };
            match p.numerator {
                0 => Ok(AllOrNothing(false)),
                n if n >= per => Ok(AllOrNothing(true)),
                _ => Err(ConfigError::at(
                    "default_value.numerator",
                    "Portico applies a limit to all requests or none: use 0 or 100%",
                )),
            }
        })
    }
}
