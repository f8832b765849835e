//! The configuration: close to Envoy's `LocalRateLimit`, with Portico's
//! `descriptors` rules, read into its checked form ([`Config`]) by
//! `Deserialize`, so every refusal names the JSON path of its field.

use crate::actions::Action;
use crate::bucket::Limit;
use portico::config::{
    self, ConfigError, Duration, HeaderName, HeaderValue, RouteMatch, StatPrefix, Unsupported,
    UnsupportedTrue,
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

/// The configuration, checked.
#[derive(Debug)]
pub struct Config {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    stat_prefix: StatPrefix,
    #[serde(default)]
    token_bucket: Option<Limit>,
    #[serde(default)]
    descriptors: Vec<Rule>,
    #[serde(default)]
    enable_x_ratelimit_headers: XRateLimitHeaders,
    #[serde(default)]
    status: Option<HttpStatus>,
    #[serde(default)]
    response_headers_to_add: Vec<HeaderValueOption>,
    #[serde(default)]
    filter_enabled: Option<AllOrNothing>,
    #[serde(default)]
    filter_enforced: Option<AllOrNothing>,
    #[serde(default, deserialize_with = "max_buckets")]
    max_buckets: Option<u32>,
    #[serde(default)]
    xff_num_trusted_hops: u32,
    // Envoy fields Portico does not implement: refused by name.
    #[serde(default, rename = "local_rate_limit_per_downstream_connection")]
    _per_connection: UnsupportedTrue<PerConnection>,
    #[serde(default, rename = "always_consume_default_token_bucket")]
    _always_consume: UnsupportedTrue<AlwaysConsume>,
    #[serde(default, rename = "local_cluster_rate_limit")]
    _local_cluster_rate_limit: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "rate_limited_as_resource_exhausted")]
    _rate_limited_as_resource_exhausted: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "request_headers_to_add_when_not_enforced")]
    _request_headers_to_add_when_not_enforced: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "stage")]
    _stage: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "rate_limits")]
    _rate_limits: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "vh_rate_limits")]
    _vh_rate_limits: Option<Unsupported<NotSupported>>,
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

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawConfig| {
            if raw.token_bucket.is_none() && raw.descriptors.is_empty() {
                return Err(ConfigError::here(
                    "nothing to limit: set `token_bucket` (the default bucket), `descriptors`, or both",
                ));
            }
            Ok(Config {
                stat_prefix: raw.stat_prefix,
                default_limit: raw.token_bucket,
                descriptors: raw.descriptors,
                x_ratelimit_headers: raw.enable_x_ratelimit_headers
                    == XRateLimitHeaders::DraftVersion03,
                status: raw.status.map_or(429, |s| s.0),
                headers_on_limit: raw
                    .response_headers_to_add
                    .into_iter()
                    .map(|h| (h.header.key.into_string(), h.header.value.into_string()))
                    .collect(),
                enabled: raw.filter_enabled.is_none_or(|p| p.0),
                enforced: raw.filter_enforced.is_none_or(|p| p.0),
                max_buckets: raw.max_buckets.unwrap_or(DEFAULT_MAX_BUCKETS),
                xff_num_trusted_hops: raw.xff_num_trusted_hops,
            })
        })
    }
}

/// A Portico descriptor rule: the requests it claims get a bucket per
/// distinct combination of action values.
#[derive(Debug)]
pub struct Rule {
    pub route: Option<RouteMatch>,
    pub actions: Vec<Action>,
    pub limit: Limit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, rename = "match")]
    route: Option<RouteMatch>,
    #[serde(default)]
    actions: Vec<Action>,
    token_bucket: Limit,
    #[serde(default, rename = "entries")]
    _entries: Option<Unsupported<Entries>>,
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
