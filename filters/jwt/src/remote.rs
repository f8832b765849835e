//! Remote JWKS: fetched by HTTP callout when the VM starts, refreshed by a
//! timer before it expires, shared by the VM's requests. Requests that need
//! keys before the first fetch has finished wait for it.

use crate::jwks::{self, Key, Limits};
use portico::config::Duration as ConfigDuration;
use portico::{ConfigError, HttpRequest, StreamId};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

/// Envoy's default `cache_duration`.
const DEFAULT_CACHE_DURATION: Duration = Duration::from_secs(600);
/// Envoy's default `failed_refetch_duration`.
const DEFAULT_FAILED_REFETCH: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Waiting requests held per provider; more are refused rather than queued.
pub const MAX_WAITERS: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteJwks {
    http_uri: RawHttpUri,
    #[serde(default)]
    cache_duration: Option<ConfigDuration>,
    #[serde(default)]
    async_fetch: Option<RawAsyncFetch>,
    #[serde(default)]
    retry_policy: Option<RawRetryPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpUri {
    uri: String,
    cluster: String,
    #[serde(default)]
    timeout: Option<ConfigDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsyncFetch {
    /// Accepted: Portico fetches when the VM starts anyway.
    #[serde(default, rename = "fast_listener")]
    _fast_listener: bool,
    #[serde(default)]
    failed_refetch_duration: Option<ConfigDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetryPolicy {
    #[serde(default)]
    num_retries: Option<u32>,
    #[serde(default, rename = "retry_back_off")]
    _retry_back_off: Option<IgnoredAny>,
    #[serde(default, rename = "retry_priority")]
    _retry_priority: Option<IgnoredAny>,
}

/// Where and how often to fetch.
#[derive(Debug, Clone)]
pub struct Remote {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout: Duration,
    pub cache_duration: Duration,
    pub failed_refetch: Duration,
    pub retries: u32,
    pub limits: Limits,
}

impl<'de> Deserialize<'de> for Remote {
    /// With the default limits: the provider sets its own.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        portico::config::compile(d, |raw: RawRemoteJwks| {
            Remote::compile(
                raw,
                Limits {
                    max_bytes: 256 * 1024,
                    max_keys: 64,
                },
            )
        })
    }
}

impl Remote {
    fn compile(raw: RawRemoteJwks, limits: Limits) -> Result<Remote, ConfigError> {
        let uri = &raw.http_uri.uri;
        let rest = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"))
            .ok_or_else(|| ConfigError::at("http_uri.uri", "must be an http:// or https:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or("/"),
            ),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(ConfigError::at("http_uri.uri", "has no host"));
        }
        if raw.http_uri.cluster.is_empty() {
            return Err(ConfigError::at("http_uri.cluster", "must name a cluster"));
        }
        let cache_duration = raw
            .cache_duration
            .map_or(DEFAULT_CACHE_DURATION, |d| d.get());
        if cache_duration < Duration::from_secs(1) {
            return Err(ConfigError::at("cache_duration", "must be at least 1s"));
        }
        Ok(Remote {
            cluster: raw.http_uri.cluster,
            authority: authority.to_string(),
            path: path.to_string(),
            timeout: raw.http_uri.timeout.map_or(DEFAULT_TIMEOUT, |d| d.get()),
            cache_duration,
            failed_refetch: raw
                .async_fetch
                .and_then(|a| a.failed_refetch_duration)
                .map_or(DEFAULT_FAILED_REFETCH, |d| {
                    d.get().max(Duration::from_millis(100))
                }),
            retries: raw
                .retry_policy
                .and_then(|r| r.num_retries)
                .unwrap_or(0)
                .min(10),
            limits,
        })
    }

    pub fn request(&self) -> HttpRequest {
        HttpRequest::get(&self.cluster, &self.authority, &self.path)
            .header("accept", "application/json")
            .timeout(self.timeout)
            .max_response_bytes(self.limits.max_bytes)
    }

    /// When to refresh after a successful fetch: before the keys expire.
    pub fn refresh_after(&self) -> Duration {
        self.cache_duration.mul_f64(0.9)
    }
}

/// What a VM knows about a remote JWKS.
#[derive(Default)]
pub struct State {
    /// The last good keys; kept when a refresh fails.
    pub keys: Option<Rc<Vec<Key>>>,
    pub fetched_at: Option<SystemTime>,
    pub in_flight: bool,
    /// The first fetch (and its retries) failed and no keys were ever had.
    pub failed: bool,
    pub attempt: u32,
    pub waiters: Vec<StreamId>,
}

pub type Shared = Rc<RefCell<State>>;

/// Outcome of a fetch reply.
pub fn parse_reply(remote: &Remote, status: u16, body: &[u8]) -> Result<Vec<Key>, String> {
    if status != 200 {
        return Err(format!("HTTP status {status}"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    jwks::parse(text, remote.limits)
}
