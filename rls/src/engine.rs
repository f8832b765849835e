//! The decisions, as envoyproxy/ratelimit makes them: a tree of descriptors
//! per domain in its YAML, each request descriptor walked down the tree
//! entry by entry (an exact `value` first, else the key alone), the limit of
//! the node the last entry reaches, one fixed-window counter per distinct
//! descriptor in Redis.

use crate::proto::{code, unit, DescriptorStatus, RateLimit, RateLimitResponse};
use crate::resp::Client;
use crate::Received;
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// One file of envoyproxy/ratelimit's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub domain: String,
    #[serde(default)]
    pub descriptors: Vec<Node>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub rate_limit: Option<Limit>,
    #[serde(default)]
    pub descriptors: Vec<Node>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub unit: Unit,
    pub requests_per_unit: u32,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn seconds(self) -> u64 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3600,
            Unit::Day => 86400,
        }
    }

    fn code(self) -> i32 {
        match self {
            Unit::Second => unit::SECOND,
            Unit::Minute => unit::MINUTE,
            Unit::Hour => unit::HOUR,
            Unit::Day => unit::DAY,
        }
    }
}

/// The limit a request descriptor reaches in `nodes`, if any.
pub fn limit_for<'a>(nodes: &'a [Node], entries: &[(String, String)]) -> Option<&'a Limit> {
    let mut level = nodes;
    let mut reached = None;
    for (key, value) in entries {
        let node = level
            .iter()
            .find(|n| n.key == *key && n.value.as_deref() == Some(value.as_str()))
            .or_else(|| level.iter().find(|n| n.key == *key && n.value.is_none()))?;
        reached = Some(node);
        level = &node.descriptors;
    }
    reached.and_then(|n| n.rate_limit.as_ref())
}

pub struct Engine {
    configs: Vec<Config>,
    redis: Client,
}

impl Engine {
    pub fn new(configs: Vec<Config>, redis: Client) -> Engine {
        Engine { configs, redis }
    }

    pub async fn decide(&self, req: &Received, hits: &[u64]) -> Result<RateLimitResponse, String> {
        let nodes = self
            .configs
            .iter()
            .find(|c| c.domain == req.domain)
            .map(|c| c.descriptors.as_slice())
            .unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut statuses = Vec::with_capacity(req.descriptors.len());
        let mut over = false;
        for (i, entries) in req.descriptors.iter().enumerate() {
            let Some(limit) = limit_for(nodes, entries) else {
                statuses.push(DescriptorStatus {
                    code: code::OK,
                    current_limit: None,
                    limit_remaining: 0,
                    duration_until_reset: None,
                });
                continue;
            };
            let window = limit.unit.seconds();
            let start = now / window * window;
            let mut key = req.domain.clone();
            for (k, v) in entries {
                key.push('_');
                key.push_str(k);
                key.push('_');
                key.push_str(v);
            }
            key.push_str(&format!("_{start}"));
            let add = hits.get(i).copied().unwrap_or(1);
            let count = self.redis.incr_with_expiry(&key, add, window).await?;
            let limited = count > u64::from(limit.requests_per_unit);
            over |= limited;
            statuses.push(DescriptorStatus {
                code: if limited { code::OVER_LIMIT } else { code::OK },
                current_limit: Some(RateLimit {
                    requests_per_unit: limit.requests_per_unit,
                    unit: limit.unit.code(),
                    name: limit.name.clone().unwrap_or_default(),
                }),
                limit_remaining: u32::try_from(
                    u64::from(limit.requests_per_unit).saturating_sub(count),
                )
                .unwrap_or(0),
                duration_until_reset: Some(crate::proto::Duration {
                    seconds: i64::try_from(start + window - now).unwrap_or(0),
                    nanos: 0,
                }),
            });
        }
        Ok(RateLimitResponse {
            overall_code: if over { code::OVER_LIMIT } else { code::OK },
            statuses,
            response_headers_to_add: Vec::new(),
            request_headers_to_add: Vec::new(),
            raw_body: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<Node> {
        let config: Config = serde_yaml::from_str(
            "domain: edge\n\
             descriptors:\n\
             - key: generic_key\n  value: api\n  descriptors:\n  - key: user\n    rate_limit: {unit: minute, requests_per_unit: 3}\n\
             - key: user\n  value: vip\n  rate_limit: {unit: second, requests_per_unit: 100}\n\
             - key: user\n  rate_limit: {unit: minute, requests_per_unit: 5}\n",
        )
        .unwrap();
        config.descriptors
    }

    fn e(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn descriptors_walk_the_tree_exact_value_first() {
        let n = nodes();
        let rpu =
            |entries: &[(&str, &str)]| limit_for(&n, &e(entries)).map(|l| l.requests_per_unit);
        assert_eq!(rpu(&[("generic_key", "api"), ("user", "alice")]), Some(3));
        assert_eq!(rpu(&[("user", "vip")]), Some(100));
        assert_eq!(rpu(&[("user", "bob")]), Some(5));
        // A prefix of a path, or an entry the tree does not know: no limit.
        assert_eq!(rpu(&[("generic_key", "api")]), None);
        assert_eq!(rpu(&[("generic_key", "other"), ("user", "a")]), None);
    }
}
