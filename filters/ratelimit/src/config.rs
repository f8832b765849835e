//! The configuration as written: close to Envoy's `LocalRateLimit`, with
//! Portico's `descriptors` rules. Checked at load; errors name the JSON path.

use crate::actions::Action;
use crate::bucket::Limit;
use portico::config::route_match::RouteMatch;
use portico::config::Duration;
use portico::ConfigError;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Envoy asserts this floor on `fill_interval` too.
const MIN_FILL_INTERVAL_MS: u128 = 50;
pub const DEFAULT_MAX_BUCKETS: u32 = 100_000;
const MAX_MAX_BUCKETS: u32 = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub stat_prefix: String,
    #[serde(default)]
    pub token_bucket: Option<TokenBucket>,
    #[serde(default)]
    pub descriptors: Vec<Rule>,
    #[serde(default)]
    pub enable_x_ratelimit_headers: XRateLimitHeaders,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub response_headers_to_add: Vec<HeaderValueOption>,
    #[serde(default)]
    pub filter_enabled: Option<Percent>,
    #[serde(default)]
    pub filter_enforced: Option<Percent>,
    #[serde(default)]
    pub local_rate_limit_per_downstream_connection: bool,
    #[serde(default = "default_max_buckets")]
    pub max_buckets: u32,
    #[serde(default)]
    pub xff_num_trusted_hops: u32,
    // Envoy fields Portico does not implement: named so the error can say so.
    #[serde(default)]
    local_cluster_rate_limit: Option<IgnoredAny>,
    #[serde(default)]
    always_consume_default_token_bucket: Option<bool>,
    #[serde(default)]
    rate_limited_as_resource_exhausted: Option<IgnoredAny>,
    #[serde(default)]
    request_headers_to_add_when_not_enforced: Option<IgnoredAny>,
    #[serde(default)]
    stage: Option<IgnoredAny>,
    #[serde(default)]
    rate_limits: Option<IgnoredAny>,
    #[serde(default)]
    vh_rate_limits: Option<IgnoredAny>,
}

fn default_max_buckets() -> u32 {
    DEFAULT_MAX_BUCKETS
}

/// `envoy.type.v3.TokenBucket`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBucket {
    pub max_tokens: u32,
    #[serde(default)]
    pub tokens_per_fill: Option<u32>,
    pub fill_interval: Duration,
}

/// A Portico descriptor rule: the requests it claims get a bucket per
/// distinct combination of action values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, rename = "match")]
    pub route: Option<RouteMatch>,
    #[serde(default)]
    pub actions: Vec<Action>,
    pub token_bucket: TokenBucket,
    #[serde(default)]
    entries: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum XRateLimitHeaders {
    #[default]
    #[serde(rename = "OFF")]
    Off,
    #[serde(rename = "DRAFT_VERSION_03")]
    DraftVersion03,
}

/// `envoy.type.v3.HttpStatus`: `{"code": 429}` or `{"code": "TooManyRequests"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub code: StatusCode,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusCode {
    Number(u16),
    Name(String),
}

/// `envoy.config.core.v3.HeaderValueOption`, literal values only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValueOption {
    pub header: HeaderValue,
    #[serde(default)]
    pub append_action: Option<IgnoredAny>,
    #[serde(default)]
    pub append: Option<bool>,
    #[serde(default)]
    pub keep_empty_value: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Envoy's `RuntimeFractionalPercent` (`{"default_value": {"numerator":
/// 100, "denominator": "HUNDRED"}, "runtime_key": ...}`), or a plain bool.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Percent {
    Bool(bool),
    Runtime(RuntimePercent),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimePercent {
    pub default_value: FractionalPercent,
    #[serde(default)]
    pub runtime_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FractionalPercent {
    #[serde(default)]
    pub numerator: u32,
    #[serde(default)]
    pub denominator: Option<String>,
}

impl TokenBucket {
    pub fn limit(&self, at: &str) -> Result<Limit, ConfigError> {
        if self.max_tokens == 0 {
            return Err(ConfigError::at(
                format!("{at}.max_tokens"),
                "must be at least 1",
            ));
        }
        let tokens_per_fill = self.tokens_per_fill.unwrap_or(1);
        if tokens_per_fill == 0 {
            return Err(ConfigError::at(
                format!("{at}.tokens_per_fill"),
                "must be at least 1",
            ));
        }
        let interval = self.fill_interval.get();
        if interval.as_millis() < MIN_FILL_INTERVAL_MS {
            return Err(ConfigError::at(
                format!("{at}.fill_interval"),
                format!(
                    "must be at least 50ms (as in Envoy), got {}",
                    self.fill_interval
                ),
            ));
        }
        let fill_interval_ns = u64::try_from(interval.as_nanos())
            .map_err(|_| ConfigError::at(format!("{at}.fill_interval"), "is too long"))?;
        Ok(Limit {
            max_tokens: u64::from(self.max_tokens),
            tokens_per_fill: u64::from(tokens_per_fill),
            fill_interval_ns,
        })
    }
}

impl Percent {
    /// Only all-or-nothing is supported: runtime overrides and sampling are not.
    pub fn all_or_nothing(&self, at: &str) -> Result<bool, ConfigError> {
        let p = match self {
            Percent::Bool(b) => return Ok(*b),
            Percent::Runtime(p) => p,
        };
        let per = match p.default_value.denominator.as_deref().unwrap_or("HUNDRED") {
            "HUNDRED" => 100,
            "TEN_THOUSAND" => 10_000,
            "MILLION" => 1_000_000,
            other => {
                return Err(ConfigError::at(
                    format!("{at}.default_value.denominator"),
                    format!("unknown denominator {other:?}"),
                ))
            }
        };
        match p.default_value.numerator {
            0 => Ok(false),
            n if n >= per => Ok(true),
            _ => Err(ConfigError::at(
                format!("{at}.default_value.numerator"),
                "Portico applies a limit to all requests or none: use 0 or 100%",
            )),
        }
    }
}

impl StatusCode {
    pub fn code(&self, at: &str) -> Result<u16, ConfigError> {
        let code = match self {
            StatusCode::Number(n) => *n,
            StatusCode::Name(name) => match name.as_str() {
                "TooManyRequests" => 429,
                "ServiceUnavailable" => 503,
                "Forbidden" => 403,
                "BadRequest" => 400,
                "InternalServerError" => 500,
                other => {
                    return Err(ConfigError::at(
                        at,
                        format!("unknown status name {other:?}; use a number"),
                    ))
                }
            },
        };
        if !(400..=599).contains(&code) {
            return Err(ConfigError::at(
                at,
                format!("{code} is not a 4xx or 5xx status"),
            ));
        }
        Ok(code)
    }
}

impl Config {
    /// Refusals that serde cannot express.
    pub fn check_unsupported(&self) -> Result<(), ConfigError> {
        let unsupported = [
            (
                "local_cluster_rate_limit",
                self.local_cluster_rate_limit.is_some(),
            ),
            (
                "rate_limited_as_resource_exhausted",
                self.rate_limited_as_resource_exhausted.is_some(),
            ),
            (
                "request_headers_to_add_when_not_enforced",
                self.request_headers_to_add_when_not_enforced.is_some(),
            ),
            ("stage", self.stage.is_some()),
            ("rate_limits", self.rate_limits.is_some()),
            ("vh_rate_limits", self.vh_rate_limits.is_some()),
        ];
        if let Some((field, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(ConfigError::at(*field, "is not supported by Portico"));
        }
        if self.always_consume_default_token_bucket == Some(true) {
            return Err(ConfigError::at(
                "always_consume_default_token_bucket",
                "`true` is not supported by Portico: a request a `descriptors` rule claims \
                 takes a token from that rule's bucket only, never from the default bucket \
                 (native's `false`); set `false` or leave it out",
            ));
        }
        if self.local_rate_limit_per_downstream_connection {
            return Err(ConfigError::at(
                "local_rate_limit_per_downstream_connection",
                "per-connection buckets are not supported by Portico: its buckets are \
                 shared by all workers; key by `remote_address` for per-client limits",
            ));
        }
        if self.stat_prefix.is_empty() || self.stat_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::at(
                "stat_prefix",
                "must be non-empty and without spaces",
            ));
        }
        if self.max_buckets == 0 || self.max_buckets > MAX_MAX_BUCKETS {
            return Err(ConfigError::at(
                "max_buckets",
                format!("must be between 1 and {MAX_MAX_BUCKETS}"),
            ));
        }
        for (i, rule) in self.descriptors.iter().enumerate() {
            if rule.entries.is_some() {
                return Err(ConfigError::at(
                    format!("descriptors[{i}].entries"),
                    "Envoy's `entries` need route-level `rate_limits`, which a wasm filter \
                     cannot see; describe the key with `actions` instead",
                ));
            }
            if rule.actions.is_empty() && rule.route.is_none() {
                return Err(ConfigError::at(
                    format!("descriptors[{i}]"),
                    "needs `actions`, a `match`, or both",
                ));
            }
        }
        Ok(())
    }
}
