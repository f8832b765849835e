//! The JSON form of Envoy's `JwtAuthentication`, checked as it is read:
//! each refusal names the JSON path of its field, and Envoy fields Portico
//! does not support are refused by name, never ignored.

use crate::jwks::{self, Key, Limits};
use crate::remote::Remote;
use portico::config::{
    self, ConfigError, Duration, HeaderName, NonEmptyString, RouteMatch, StatPrefix, StringMatcher,
    Unsupported,
};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

portico::unsupported_reasons! {
    pub RequirementMap = "per-route requirements are not supported; use `rules`";
    pub FilterState = "filter state is not reachable from a wasm filter";
    pub RequirementName = "not supported; write `requires`";
    pub PayloadInMetadata = "dynamic metadata is not reachable from a wasm filter; \
        use `forward_payload_header` or `claim_to_headers`";
    pub Metadata = "dynamic metadata is not reachable from a wasm filter";
    pub NotSupported = "not supported by Portico";
    pub Files = "a wasm VM cannot read files; use `inline_string`";
    pub InlineOnly = "not supported by Portico; use `inline_string`";
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub providers: BTreeMap<String, Provider>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default = "default_stat_prefix")]
    pub stat_prefix: StatPrefix,
    #[serde(default)]
    pub bypass_cors_preflight: bool,
    #[serde(default)]
    pub strip_failure_response: bool,
    #[serde(default, rename = "requirement_map")]
    _requirement_map: Option<Unsupported<RequirementMap>>,
    #[serde(default, rename = "filter_state_rules")]
    _filter_state_rules: Option<Unsupported<FilterState>>,
}

fn default_stat_prefix() -> StatPrefix {
    StatPrefix::literal("jwt_authn")
}

/// A `JwtProvider`, checked: its keys parsed (local) or its fetch set up (remote).
pub struct Provider {
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    pub subjects: Option<StringMatcher>,
    pub require_expiration: bool,
    pub max_lifetime: Option<Duration>,
    pub clock_skew_seconds: u32,
    pub keys: ProviderKeys,
    pub forward: bool,
    pub from_headers: Vec<FromHeader>,
    pub from_params: Vec<String>,
    pub from_cookies: Vec<String>,
    pub forward_payload_header: Option<HeaderName>,
    pub pad_forward_payload_header: bool,
    pub claim_to_headers: Vec<ClaimToHeader>,
    pub jwt_cache_config: Option<JwtCacheConfig>,
}

/// Where a provider's keys come from.
pub enum ProviderKeys {
    Local(Vec<Key>),
    Remote(Remote),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    subjects: Option<StringMatcher>,
    #[serde(default)]
    require_expiration: bool,
    #[serde(default)]
    max_lifetime: Option<Duration>,
    #[serde(default = "default_clock_skew")]
    clock_skew_seconds: u32,
    #[serde(default)]
    local_jwks: Option<LocalJwks>,
    #[serde(default)]
    remote_jwks: Option<Remote>,
    #[serde(default)]
    forward: bool,
    #[serde(default)]
    from_headers: Vec<FromHeader>,
    #[serde(default)]
    from_params: Vec<String>,
    #[serde(default)]
    from_cookies: Vec<String>,
    #[serde(default)]
    forward_payload_header: Option<HeaderName>,
    #[serde(default)]
    pad_forward_payload_header: bool,
    #[serde(default)]
    claim_to_headers: Vec<ClaimToHeader>,
    #[serde(default)]
    jwt_cache_config: Option<JwtCacheConfig>,
    /// Portico: bounds on the JWKS document.
    #[serde(default = "default_max_jwks_bytes")]
    max_jwks_bytes: usize,
    #[serde(default = "default_max_jwks_keys")]
    max_jwks_keys: usize,
    #[serde(default, rename = "payload_in_metadata")]
    _payload_in_metadata: Option<Unsupported<PayloadInMetadata>>,
    #[serde(default, rename = "header_in_metadata")]
    _header_in_metadata: Option<Unsupported<Metadata>>,
    #[serde(default, rename = "failed_status_in_metadata")]
    _failed_status_in_metadata: Option<Unsupported<Metadata>>,
    #[serde(default, rename = "normalize_payload_in_metadata")]
    _normalize_payload_in_metadata: Option<Unsupported<Metadata>>,
    #[serde(default, rename = "clear_route_cache")]
    _clear_route_cache: Option<Unsupported<NotSupported>>,
}

pub fn default_clock_skew() -> u32 {
    60
}

fn default_max_jwks_bytes() -> usize {
    256 * 1024
}

fn default_max_jwks_keys() -> usize {
    64
}

impl<'de> Deserialize<'de> for Provider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |p: RawProvider| {
            let limits = Limits {
                max_bytes: p.max_jwks_bytes,
                max_keys: p.max_jwks_keys,
            };
            let keys = match (p.local_jwks, p.remote_jwks) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::here(
                        "set `local_jwks` or `remote_jwks`, not both",
                    ))
                }
                (Some(local), None) => ProviderKeys::Local(
                    jwks::parse(&local.inline_string, limits)
                        .map_err(|m| ConfigError::at("local_jwks.inline_string", m))?,
                ),
                (None, Some(mut remote)) => {
                    remote.limits = limits;
                    ProviderKeys::Remote(remote)
                }
                (None, None) => {
                    return Err(ConfigError::here("needs `local_jwks` or `remote_jwks`"))
                }
            };
            Ok(Provider {
                issuer: p.issuer,
                audiences: p.audiences,
                subjects: p.subjects,
                require_expiration: p.require_expiration,
                max_lifetime: p.max_lifetime,
                clock_skew_seconds: p.clock_skew_seconds,
                keys,
                forward: p.forward,
                from_headers: p.from_headers,
                from_params: p.from_params,
                from_cookies: p.from_cookies,
                forward_payload_header: p.forward_payload_header,
                pad_forward_payload_header: p.pad_forward_payload_header,
                claim_to_headers: p.claim_to_headers,
                jwt_cache_config: p.jwt_cache_config,
            })
        })
    }
}

/// `local_jwks`: an inline JWKS only.
struct LocalJwks {
    inline_string: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalJwks {
    #[serde(default)]
    inline_string: Option<String>,
    #[serde(default, rename = "filename")]
    _filename: Option<Unsupported<Files>>,
    #[serde(default, rename = "inline_bytes")]
    _inline_bytes: Option<Unsupported<InlineOnly>>,
    #[serde(default, rename = "environment_variable")]
    _environment_variable: Option<Unsupported<InlineOnly>>,
}

impl<'de> Deserialize<'de> for LocalJwks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawLocalJwks| match raw.inline_string {
            Some(inline_string) => Ok(LocalJwks { inline_string }),
            None => Err(ConfigError::here("set `inline_string`")),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromHeader {
    pub name: HeaderName,
    #[serde(default)]
    pub value_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeader {
    pub header_name: HeaderName,
    pub claim_name: NonEmptyString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtCacheConfig {
    #[serde(default)]
    pub jwt_cache_size: Option<u32>,
    #[serde(default)]
    pub jwt_max_token_size: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match")]
    pub route: RouteMatch,
    #[serde(default)]
    pub requires: Option<Requirement>,
    #[serde(default, rename = "requirement_name")]
    _requirement_name: Option<Unsupported<RequirementName>>,
}

/// `JwtRequirement`: exactly one field set.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Requirement {
    ProviderName(ProviderName),
    ProviderAndAudiences(ProviderAndAudiences),
    RequiresAny(RequirementList),
    RequiresAll(RequirementList),
    AllowMissingOrFailed(serde::de::IgnoredAny),
    AllowMissing(serde::de::IgnoredAny),
}

/// The name of a provider of this configuration, checked where it is
/// written, whether `providers` comes before or after it in the JSON.
#[derive(Debug)]
pub struct ProviderName(pub String);

impl<'de> Deserialize<'de> for ProviderName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let known =
            config::with_document(|doc| doc.get("providers").and_then(|p| p.get(&name)).is_some());
        if known == Some(false) {
            return Err(ConfigError::here(format!("no provider named {name:?}")).into_de());
        }
        Ok(ProviderName(name))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAndAudiences {
    pub provider_name: ProviderName,
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// `JwtRequirementOrList`: at least two requirements, as in Envoy.
#[derive(Debug)]
pub struct RequirementList {
    pub requirements: Vec<Requirement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirementList {
    requirements: Vec<Requirement>,
}

impl<'de> Deserialize<'de> for RequirementList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawRequirementList| {
            if raw.requirements.len() < 2 {
                return Err(ConfigError::at(
                    "requirements",
                    "needs at least 2 requirements, as in Envoy",
                ));
            }
            Ok(RequirementList {
                requirements: raw.requirements,
            })
        })
    }
}
