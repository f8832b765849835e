//! Metrics with labels: one family, one series per combination of label
//! values, named so that Envoy's `stats_tags` turn the labels back into tags.
//!
//! The naming convention: a family `jwt_requests` with labels `provider` and
//! `outcome` writes the series `jwt_requests.provider.<value>.outcome.<value>`
//! (Envoy shows it as `wasmcustom.jwt_requests.provider.main.outcome.ok`).
//! [`CounterFamily::stats_tags`] gives the `stats_config.stats_tags` entries
//! that extract each label, so Envoy's Prometheus output (which drops the
//! `wasmcustom.` namespace) reads `jwt_requests{provider="main",outcome="ok"}`.

use super::env::Env;
use super::metrics::{Counter, Histogram};
use crate::config::ConfigError;
use crate::host::MetricKind;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// Series one family defines at most; later combinations count in the
/// series whose every label is `other`, so request data cannot grow the
/// stats without bound.
pub const MAX_SERIES: usize = 64;

/// Label values longer than this are cut.
const MAX_VALUE_LEN: usize = 64;

/// Names of families and labels: what Envoy's stats and Prometheus both
/// keep as they are.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// A label value as it appears in the stat name: no `.` (the separator),
/// nothing Prometheus would mangle.
fn clean(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_VALUE_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The `stats_config.stats_tags` entries (Envoy's `TagSpecifier`s, as JSON)
/// that extract the labels of family `name` as tags, for the bootstrap.
/// Each regex skips whole `.label.value` pairs, so a value that happens to
/// spell another label's name is not taken for it.
pub fn stats_tags(name: &str, labels: &[&str]) -> Value {
    let tags: Vec<Value> = labels
        .iter()
        .map(|label| {
            json!({
                "tag_name": label,
                "regex": format!(r"^wasmcustom\.{name}(?:\.[^.]+\.[^.]+)*?(\.{label}\.([^.]+))"),
            })
        })
        .collect();
    Value::Array(tags)
}

struct Series<M> {
    kind: MetricKind,
    name: String,
    labels: Vec<String>,
    defined: RefCell<HashMap<Vec<String>, M>>,
}

impl<M: Copy> Series<M> {
    fn new(kind: MetricKind, name: &str, labels: &[&str]) -> Result<Self, ConfigError> {
        if !valid_name(name) {
            return Err(ConfigError::at(
                ".",
                format!("metric family name {name:?} must be lower-case letters, digits and `_`"),
            ));
        }
        for label in labels {
            if !valid_name(label) {
                return Err(ConfigError::at(
                    ".",
                    format!("label {label:?} of metric family {name:?} must be lower-case letters, digits and `_`"),
                ));
            }
        }
        Ok(Series {
            kind,
            name: name.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            defined: RefCell::new(HashMap::new()),
        })
    }

    fn stat_name(&self, values: &[String]) -> String {
        let mut name = self.name.clone();
        for (label, value) in self.labels.iter().zip(values) {
            name.push('.');
            name.push_str(label);
            name.push('.');
            name.push_str(value);
        }
        name
    }

    /// The handle of one series, defined on first use.
    fn get(&self, env: &Env<'_>, values: &[&str], wrap: fn(u32) -> M) -> Option<M> {
        let mut values: Vec<String> = (0..self.labels.len())
            .map(|i| clean(values.get(i).copied().unwrap_or("")))
            .collect();
        let mut defined = self.defined.borrow_mut();
        if let Some(m) = defined.get(&values) {
            return Some(*m);
        }
        if defined.len() >= MAX_SERIES - 1 {
            values = vec!["other".to_string(); self.labels.len()];
            if let Some(m) = defined.get(&values) {
                return Some(*m);
            }
        }
        match env.host.define_metric(self.kind, &self.stat_name(&values)) {
            Ok(id) => {
                let m = wrap(id);
                defined.insert(values, m);
                Some(m)
            }
            Err(err) => {
                log::debug!("portico: metric {} not defined: {err}", self.name);
                None
            }
        }
    }

    fn stats_tags(&self) -> Value {
        let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        stats_tags(&self.name, &labels)
    }
}

/// Counters with labels. Define the family at configure time
/// ([`crate::Root::counter_family`]) and count with the label values.
pub struct CounterFamily(Series<Counter>);

impl CounterFamily {
    pub(crate) fn new(name: &str, labels: &[&str]) -> Result<Self, ConfigError> {
        Series::new(MetricKind::Counter, name, labels).map(CounterFamily)
    }

    /// Adds one to the series of these label values (in the family's label
    /// order; missing ones are empty).
    pub fn inc(&self, env: &Env<'_>, values: &[&str]) {
        self.add(env, values, 1);
    }

    pub fn add(&self, env: &Env<'_>, values: &[&str], n: u64) {
        if let Some(c) = self.0.get(env, values, Counter) {
            c.add(env, n);
        }
    }

    /// The stat name of a series (without Envoy's `wasmcustom.` prefix).
    pub fn stat_name(&self, values: &[&str]) -> String {
        let values: Vec<String> = values.iter().map(|v| clean(v)).collect();
        self.0.stat_name(&values)
    }

    /// The `stats_config.stats_tags` entries (Envoy's `TagSpecifier`s, as
    /// JSON) that extract this family's labels as tags.
    pub fn stats_tags(&self) -> Value {
        self.0.stats_tags()
    }
}

/// Histograms with labels, named like [`CounterFamily`].
pub struct HistogramFamily(Series<Histogram>);

impl HistogramFamily {
    pub(crate) fn new(name: &str, labels: &[&str]) -> Result<Self, ConfigError> {
        Series::new(MetricKind::Histogram, name, labels).map(HistogramFamily)
    }

    pub fn record(&self, env: &Env<'_>, values: &[&str], value: u64) {
        if let Some(h) = self.0.get(env, values, Histogram) {
            h.record(env, value);
        }
    }

    pub fn stats_tags(&self) -> Value {
        self.0.stats_tags()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Envoy's tag extraction: each specifier in turn, its first group
    /// removed from the name, its second the tag's value.
    fn extract(specs: &Value, stat: &str) -> (String, Vec<(String, String)>) {
        let mut name = stat.to_string();
        let mut tags = Vec::new();
        for spec in specs.as_array().into_iter().flatten() {
            let re = regex_lite::Regex::new(spec["regex"].as_str().unwrap_or("")).unwrap();
            let Some(caps) = re.captures(&name) else {
                continue;
            };
            let (Some(whole), Some(value)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            tags.push((
                spec["tag_name"].as_str().unwrap_or("").to_string(),
                value.as_str().to_string(),
            ));
            name = format!("{}{}", &name[..whole.start()], &name[whole.end()..]);
        }
        (name, tags)
    }

    #[test]
    fn labels_come_back_as_tags_even_when_a_value_spells_a_label() {
        let family = CounterFamily::new("jwt_requests", &["provider", "outcome"]).unwrap();
        let stat = format!("wasmcustom.{}", family.stat_name(&["outcome", "ok"]));
        assert_eq!(stat, "wasmcustom.jwt_requests.provider.outcome.outcome.ok");
        let (name, tags) = extract(&family.stats_tags(), &stat);
        assert_eq!(name, "wasmcustom.jwt_requests");
        assert_eq!(
            tags,
            vec![
                ("provider".to_string(), "outcome".to_string()),
                ("outcome".to_string(), "ok".to_string())
            ]
        );
    }

    #[test]
    fn values_are_cleaned_and_names_checked() {
        assert_eq!(clean("a.b c/é"), "a_b_c__");
        assert_eq!(clean(""), "_");
        assert_eq!(clean(&"x".repeat(100)).len(), MAX_VALUE_LEN);
        assert!(CounterFamily::new("Bad", &[]).is_err());
        assert!(CounterFamily::new("ok", &["with.dot"]).is_err());
        assert!(CounterFamily::new("1st", &[]).is_err());
    }
}
