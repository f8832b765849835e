//! Envoy's `StringMatcher` and `RegexMatcher`, compiled when the config is parsed.

use super::{ConfigError, NonEmptyString, Regex, RegexMatcher, Unsupported};
use serde::de::Deserializer;
use serde::Deserialize;

crate::unsupported_reasons! {
    CustomMatcher = "`custom` string matchers are not supported by Portico";
}

/// Envoy's `envoy.type.matcher.v3.StringMatcher`: exactly one of `exact`, `prefix`,
/// `suffix`, `contains`, `safe_regex`, with `ignore_case` for all but the regex.
#[derive(Debug, Clone)]
pub struct StringMatcher {
    kind: Kind,
    ignore_case: bool,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(Regex),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStringMatcher {
    exact: Option<String>,
    prefix: Option<NonEmptyString>,
    suffix: Option<NonEmptyString>,
    contains: Option<NonEmptyString>,
    safe_regex: Option<RegexMatcher>,
    #[serde(default)]
    ignore_case: bool,
    #[serde(default, rename = "custom")]
    _custom: Option<Unsupported<CustomMatcher>>,
}

impl<'de> Deserialize<'de> for StringMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::compile(deserializer, |raw: RawStringMatcher| {
            let mut kinds = Vec::with_capacity(1);
            if let Some(s) = raw.exact {
                kinds.push(Kind::Exact(s));
            }
            if let Some(s) = raw.prefix {
                kinds.push(Kind::Prefix(s.into_string()));
            }
            if let Some(s) = raw.suffix {
                kinds.push(Kind::Suffix(s.into_string()));
            }
            if let Some(s) = raw.contains {
                kinds.push(Kind::Contains(s.into_string()));
            }
            if let Some(r) = raw.safe_regex {
                if raw.ignore_case {
                    return Err(ConfigError::at(
                        "ignore_case",
                        "`ignore_case` has no effect on `safe_regex`; use `(?i)` in the pattern",
                    ));
                }
                kinds.push(Kind::Regex(r.regex));
            }
            match (kinds.pop(), kinds.is_empty()) {
                (Some(kind), true) => Ok(StringMatcher::new(kind, raw.ignore_case)),
                _ => Err(ConfigError::here(
                    "exactly one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex` must be set",
                )),
            }
        })
    }
}

impl StringMatcher {
    fn new(kind: Kind, ignore_case: bool) -> Self {
        let kind = if ignore_case {
            match kind {
                Kind::Exact(s) => Kind::Exact(s.to_ascii_lowercase()),
                Kind::Prefix(s) => Kind::Prefix(s.to_ascii_lowercase()),
                Kind::Suffix(s) => Kind::Suffix(s.to_ascii_lowercase()),
                Kind::Contains(s) => Kind::Contains(s.to_ascii_lowercase()),
                other => other,
            }
        } else {
            kind
        };
        StringMatcher { kind, ignore_case }
    }

    pub fn exact(value: impl Into<String>) -> Self {
        StringMatcher::new(Kind::Exact(value.into()), false)
    }

    pub fn prefix(value: impl Into<String>) -> Self {
        StringMatcher::new(Kind::Prefix(value.into()), false)
    }

    pub fn suffix(value: impl Into<String>) -> Self {
        StringMatcher::new(Kind::Suffix(value.into()), false)
    }

    pub fn contains(value: impl Into<String>) -> Self {
        StringMatcher::new(Kind::Contains(value.into()), false)
    }

    pub fn regex(regex: Regex) -> Self {
        StringMatcher::new(Kind::Regex(regex), false)
    }

    pub fn ignoring_case(self) -> Self {
        StringMatcher::new(self.kind, true)
    }

    pub fn matches(&self, value: &str) -> bool {
        let ic = self.ignore_case;
        match &self.kind {
            Kind::Exact(s) => eq(value, s, ic),
            Kind::Prefix(s) => value.get(..s.len()).is_some_and(|head| eq(head, s, ic)),
            Kind::Suffix(s) => value
                .len()
                .checked_sub(s.len())
                .and_then(|start| value.get(start..))
                .is_some_and(|tail| eq(tail, s, ic)),
            Kind::Contains(s) => {
                if ic {
                    contains_ignore_ascii_case(value, s)
                } else {
                    value.contains(s.as_str())
                }
            }
            Kind::Regex(r) => r.is_full_match(value),
        }
    }
}

fn eq(value: &str, pattern: &str, ignore_case: bool) -> bool {
    if ignore_case {
        value.eq_ignore_ascii_case(pattern)
    } else {
        value == pattern
    }
}

/// `needle` is already lower-case.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(json: &str) -> Result<StringMatcher, String> {
        crate::config::parse::<StringMatcher>(json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_matches_as_envoy() {
        let exact = m(r#"{"exact": "Abc"}"#).unwrap();
        assert!(exact.matches("Abc") && !exact.matches("abc"));
        let exact_ic = m(r#"{"exact": "Abc", "ignore_case": true}"#).unwrap();
        assert!(exact_ic.matches("aBC"));
        let prefix = m(r#"{"prefix": "/api/"}"#).unwrap();
        assert!(prefix.matches("/api/x") && !prefix.matches("/API/x") && !prefix.matches("/ap"));
        let suffix = m(r#"{"suffix": ".json", "ignore_case": true}"#).unwrap();
        assert!(suffix.matches("a.JSON") && !suffix.matches("json"));
        let contains = m(r#"{"contains": "Bear", "ignore_case": true}"#).unwrap();
        assert!(contains.matches("x-bearer-y") && !contains.matches("bea"));
        let regex = m(r#"{"safe_regex": {"regex": "v[0-9]+"}}"#).unwrap();
        assert!(regex.matches("v12") && !regex.matches("v12x") && !regex.matches("xv1"));
    }

    #[test]
    fn multibyte_input_never_panics() {
        let prefix = m(r#"{"prefix": "é"}"#).unwrap();
        assert!(!prefix.matches("e\u{301}"));
        let suffix = m(r#"{"suffix": "a"}"#).unwrap();
        assert!(!suffix.matches("é"));
        assert!(m(r#"{"prefix": "ab"}"#).unwrap().matches("ab€"));
    }

    #[test]
    fn refuses_ambiguous_or_bad_matchers() {
        assert!(m(r#"{"exact": "a", "prefix": "b"}"#)
            .unwrap_err()
            .contains("exactly one"));
        assert!(m(r#"{}"#).unwrap_err().contains("exactly one"));
        assert!(m(r#"{"prefix": ""}"#)
            .unwrap_err()
            .starts_with("prefix: must not be empty"));
        assert!(m(r#"{"safe_regex": {"regex": "a"}, "ignore_case": true}"#)
            .unwrap_err()
            .starts_with("ignore_case: `ignore_case` has no effect on `safe_regex`"));
        assert!(m(r#"{"custom": {"name": "x"}}"#)
            .unwrap_err()
            .starts_with("custom: `custom` string matchers are not supported by Portico"));
        let err = m(r#"{"safe_regex": {"regex": "a("}}"#).unwrap_err();
        assert!(err.starts_with("safe_regex.regex: invalid regex"), "{err}");
        let err = m(r#"{"safe_regex": {"regex": "\\w{1000}{1000}"}}"#).unwrap_err();
        assert!(err.contains("too large"), "{err}");
        assert!(m(r#"{"exact": "a", "foo": 1}"#)
            .unwrap_err()
            .starts_with("foo: unknown field"));
    }
}
