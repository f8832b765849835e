//! Envoy's `StringMatcher` and `RegexMatcher`, compiled when the config is parsed.

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

/// Compiled regexes are capped so a config cannot make a VM build a huge
/// automaton (Envoy caps RE2 program size for the same reason).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_NEST_LIMIT: u32 = 64;

/// A regular expression that must match the whole input, as Envoy's `safe_regex`
/// does. Deserializes from a string; a pattern that does not compile, or
/// compiles too large, is a config error at its JSON path.
#[derive(Debug, Clone)]
pub struct Regex {
    full: regex_lite::Regex,
    source: String,
}

/// Compiles `pattern` to match anywhere in its input (for search and
/// replace), under the same size and nesting limits as [`Regex`].
pub fn compile_unanchored(pattern: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|err| {
            let err = err.to_string();
            if err.contains("size limit") {
                format!("regex is too large (compiled size over {REGEX_SIZE_LIMIT} bytes)")
            } else {
                format!("invalid regex: {err}")
            }
        })
}

impl Regex {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let full = compile_unanchored(&format!("^(?:{pattern})$"))?;
        Ok(Regex {
            full,
            source: pattern.to_string(),
        })
    }

    /// Whether the whole of `text` matches.
    pub fn is_full_match(&self, text: &str) -> bool {
        self.full.is_match(text)
    }

    /// The regex anchored to the whole input, for captures and replacement.
    pub fn anchored(&self) -> &regex_lite::Regex {
        &self.full
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Regex::new(&pattern).map_err(D::Error::custom)
    }
}

/// Envoy's `RegexMatcher`: `{"regex": "..."}`. The deprecated `google_re2` field is accepted and ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexMatcher {
    pub regex: Regex,
    #[serde(default, rename = "google_re2")]
    _google_re2: Option<serde::de::IgnoredAny>,
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
    prefix: Option<String>,
    suffix: Option<String>,
    contains: Option<String>,
    safe_regex: Option<RegexMatcher>,
    #[serde(default)]
    ignore_case: bool,
    custom: Option<serde::de::IgnoredAny>,
}

impl<'de> Deserialize<'de> for StringMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawStringMatcher::deserialize(deserializer)?;
        if raw.custom.is_some() {
            return Err(D::Error::custom(
                "`custom` string matchers are not supported by Portico",
            ));
        }
        let mut kinds = Vec::with_capacity(1);
        if let Some(s) = raw.exact {
            kinds.push(Kind::Exact(s));
        }
        if let Some(s) = raw.prefix {
            if s.is_empty() {
                return Err(D::Error::custom("`prefix` must not be empty"));
            }
            kinds.push(Kind::Prefix(s));
        }
        if let Some(s) = raw.suffix {
            if s.is_empty() {
                return Err(D::Error::custom("`suffix` must not be empty"));
            }
            kinds.push(Kind::Suffix(s));
        }
        if let Some(s) = raw.contains {
            if s.is_empty() {
                return Err(D::Error::custom("`contains` must not be empty"));
            }
            kinds.push(Kind::Contains(s));
        }
        if let Some(r) = raw.safe_regex {
            if raw.ignore_case {
                return Err(D::Error::custom(
                    "`ignore_case` has no effect on `safe_regex`; use `(?i)` in the pattern",
                ));
            }
            kinds.push(Kind::Regex(r.regex));
        }
        if kinds.len() != 1 {
            return Err(D::Error::custom(
                "exactly one of `exact`, `prefix`, `suffix`, `contains`, `safe_regex` must be set",
            ));
        }
        let kind = match kinds.pop() {
            Some(k) => k,
            None => return Err(D::Error::custom("no matcher set")),
        };
        Ok(StringMatcher::new(kind, raw.ignore_case))
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
            .contains("must not be empty"));
        let err = m(r#"{"safe_regex": {"regex": "a("}}"#).unwrap_err();
        assert!(err.starts_with("safe_regex.regex: invalid regex"), "{err}");
        let err = m(r#"{"safe_regex": {"regex": "\\w{1000}{1000}"}}"#).unwrap_err();
        assert!(err.contains("too large"), "{err}");
        assert!(m(r#"{"exact": "a", "foo": 1}"#)
            .unwrap_err()
            .starts_with("foo: unknown field"));
    }
}

#[cfg(test)]
mod re2_difference_tests {
    use super::Regex;

    /// What sdk/README.md tells users about classes and RE2.
    #[test]
    fn perl_classes_are_ascii_as_in_re2() {
        let digits = Regex::new(r"\d+").unwrap();
        assert!(digits.is_full_match("123"));
        assert!(!digits.is_full_match("١٢٣")); // Arabic-Indic digits
        assert!(!Regex::new(r"\w").unwrap().is_full_match("é"));
        assert!(Regex::new(r"\p{Greek}").is_err());
    }

    #[test]
    fn oversized_patterns_are_refused() {
        let err = Regex::new("a{1000}{1000}").unwrap_err();
        assert!(err.starts_with("regex is too large"), "{err}");
    }
}
