//! The global mode's pieces of configuration, in the vocabulary of Envoy's
//! `envoy.filters.http.ratelimit` (`envoy.extensions.filters.http.ratelimit.v3.RateLimit`):
//! the Rate Limit Service to call and the descriptors (Envoy's
//! `config.route.v3.RateLimit`) to send it. `config.rs` puts them together
//! with the fields both modes share.

use crate::actions::Action;
use crate::config::NotSupported;
use portico::config::{self, ConfigError, HeaderName, HeaderValue, NonEmptyString, RouteMatch};
use portico::config::{Unsupported, UnsupportedTrue};
use serde::{Deserialize, Deserializer};

portico::unsupported_reasons! {
    pub GoogleGrpc = "Envoy's Google gRPC client is not available to a wasm filter; \
        use `envoy_grpc` with a cluster";
    pub ServiceTimeout = "Portico times the call with the filter's `timeout` (as native \
        does for the limit call); set that instead";
    pub HitsFormat = "substitution formats are not supported by Portico; use `number`";
    pub Override = "limit overrides come from dynamic metadata, which Portico cannot read";
    pub StreamDone = "Portico asks the service before the request goes upstream only";
}

/// Native's largest `hits_addend.number`.
const MAX_HITS_ADDEND: u64 = 1_000_000_000;

/// `rate_limit_service` (`envoy.config.ratelimit.v3.RateLimitServiceConfig`),
/// checked: where the calls go.
#[derive(Debug, Clone)]
pub struct Service {
    /// `grpc_service.envoy_grpc.cluster_name`.
    pub cluster: String,
    /// `grpc_service.initial_metadata`, sent with every call.
    pub metadata: Vec<(String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    grpc_service: RawGrpcService,
    transport_api_version: ApiVersion,
}

/// Envoy refuses anything but `V3` at load.
#[derive(Deserialize)]
enum ApiVersion {
    V3,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrpcService {
    #[serde(default)]
    envoy_grpc: Option<RawEnvoyGrpc>,
    #[serde(default)]
    initial_metadata: Vec<RawMetadata>,
    #[serde(default, rename = "google_grpc")]
    _google_grpc: Option<Unsupported<GoogleGrpc>>,
    #[serde(default, rename = "timeout")]
    _timeout: Option<Unsupported<ServiceTimeout>>,
    #[serde(default, rename = "retry_policy")]
    _retry_policy: Option<Unsupported<NotSupported>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvoyGrpc {
    cluster_name: NonEmptyString,
    #[serde(default, rename = "authority")]
    _authority: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "retry_policy")]
    _retry_policy: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "max_receive_message_length")]
    _max_receive_message_length: Option<Unsupported<NotSupported>>,
    #[serde(default, rename = "skip_envoy_headers")]
    _skip_envoy_headers: UnsupportedTrue<NotSupported>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    key: HeaderName,
    #[serde(default)]
    value: HeaderValue,
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawService| {
            let ApiVersion::V3 = raw.transport_api_version;
            let grpc = raw.grpc_service;
            let Some(envoy_grpc) = grpc.envoy_grpc else {
                return Err(ConfigError::at(
                    "grpc_service",
                    "needs `envoy_grpc` with the service's `cluster_name`",
                ));
            };
            Ok(Service {
                cluster: envoy_grpc.cluster_name.into(),
                metadata: grpc
                    .initial_metadata
                    .into_iter()
                    .map(|m| (m.key.into_string(), m.value.into_string()))
                    .collect(),
            })
        })
    }
}

/// One descriptor to send (Envoy's `config.route.v3.RateLimit`): built from
/// `actions` as native builds it, for the requests `match` claims (Portico's;
/// every request when absent).
#[derive(Debug)]
pub struct Descriptor {
    pub route: Option<RouteMatch>,
    pub actions: Vec<Action>,
    /// `hits_addend.number`: sent as the descriptor's own `hits_addend`.
    pub hits_addend: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHitsAddend {
    #[serde(default)]
    number: Option<u64>,
    #[serde(default, rename = "format")]
    _format: Option<Unsupported<HitsFormat>>,
}

/// The checked `hits_addend` of a descriptor.
pub(crate) fn hits_addend(raw: Option<RawHitsAddend>) -> Result<Option<u64>, ConfigError> {
    let Some(h) = raw else {
        return Ok(None);
    };
    match h.number {
        None => Err(ConfigError::at("hits_addend", "needs `number`")),
        Some(n) if n > MAX_HITS_ADDEND => Err(ConfigError::at(
            "hits_addend.number",
            format!("must be at most {MAX_HITS_ADDEND} (as in Envoy)"),
        )),
        Some(n) => Ok(Some(n)),
    }
}

/// `request_type`: which requests the filter applies to, by
/// `x-envoy-internal`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    #[default]
    #[serde(rename = "both", alias = "")]
    Both,
    #[serde(rename = "internal")]
    Internal,
    #[serde(rename = "external")]
    External,
}

impl RequestType {
    /// Whether a request with this `x-envoy-internal` value is limited.
    pub fn applies(self, x_envoy_internal: Option<&str>) -> bool {
        let internal = x_envoy_internal == Some("true");
        match self {
            RequestType::Both => true,
            RequestType::Internal => internal,
            RequestType::External => !internal,
        }
    }
}
