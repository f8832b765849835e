//! The JSON form of Envoy's `JwtAuthentication`, as written. Unsupported
//! fields are refused by name, never ignored.

use portico::config::route_match::RouteMatch;
use portico::config::string_match::StringMatcher;
use portico::config::Duration;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub providers: BTreeMap<String, Provider>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default = "default_stat_prefix")]
    pub stat_prefix: String,
    #[serde(default)]
    pub bypass_cors_preflight: bool,
    #[serde(default)]
    pub strip_failure_response: bool,
    #[serde(default)]
    pub requirement_map: Option<IgnoredAny>,
    #[serde(default)]
    pub filter_state_rules: Option<IgnoredAny>,
}

fn default_stat_prefix() -> String {
    "jwt_authn".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub subjects: Option<StringMatcher>,
    #[serde(default)]
    pub require_expiration: bool,
    #[serde(default)]
    pub max_lifetime: Option<Duration>,
    #[serde(default = "default_clock_skew")]
    pub clock_skew_seconds: u32,
    #[serde(default)]
    pub local_jwks: Option<LocalJwks>,
    #[serde(default)]
    pub remote_jwks: Option<crate::remote::RawRemoteJwks>,
    #[serde(default)]
    pub forward: bool,
    #[serde(default)]
    pub from_headers: Vec<FromHeader>,
    #[serde(default)]
    pub from_params: Vec<String>,
    #[serde(default)]
    pub from_cookies: Vec<String>,
    #[serde(default)]
    pub forward_payload_header: Option<String>,
    #[serde(default)]
    pub pad_forward_payload_header: bool,
    #[serde(default)]
    pub claim_to_headers: Vec<ClaimToHeader>,
    #[serde(default)]
    pub jwt_cache_config: Option<JwtCacheConfig>,
    /// Portico: bounds on the JWKS document.
    #[serde(default = "default_max_jwks_bytes")]
    pub max_jwks_bytes: usize,
    #[serde(default = "default_max_jwks_keys")]
    pub max_jwks_keys: usize,
    #[serde(default)]
    pub payload_in_metadata: Option<IgnoredAny>,
    #[serde(default)]
    pub header_in_metadata: Option<IgnoredAny>,
    #[serde(default)]
    pub failed_status_in_metadata: Option<IgnoredAny>,
    #[serde(default)]
    pub normalize_payload_in_metadata: Option<IgnoredAny>,
    #[serde(default)]
    pub clear_route_cache: Option<IgnoredAny>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalJwks {
    #[serde(default)]
    pub inline_string: Option<String>,
    #[serde(default)]
    pub filename: Option<IgnoredAny>,
    #[serde(default)]
    pub inline_bytes: Option<IgnoredAny>,
    #[serde(default)]
    pub environment_variable: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromHeader {
    pub name: String,
    #[serde(default)]
    pub value_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeader {
    pub header_name: String,
    pub claim_name: String,
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
    #[serde(default)]
    pub requirement_name: Option<IgnoredAny>,
}

/// `JwtRequirement`: exactly one field set.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Requirement {
    ProviderName(String),
    ProviderAndAudiences(ProviderAndAudiences),
    RequiresAny(RequirementList),
    RequiresAll(RequirementList),
    AllowMissingOrFailed(IgnoredAny),
    AllowMissing(IgnoredAny),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAndAudiences {
    pub provider_name: String,
    #[serde(default)]
    pub audiences: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementList {
    pub requirements: Vec<Requirement>,
}
