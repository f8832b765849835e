//! Envoy's regexes (`safe_regex`, RE2): bounded in size when they compile,
//! linear-time when they run, with RE2's ASCII `\d`, `\w`, `\s` and `\b`.

use super::ConfigError;
use serde::de::Deserializer;
use serde::Deserialize;
use std::borrow::Cow;

/// Compiled regexes are capped so a config cannot make a VM build a huge
/// automaton (Envoy caps RE2 program size for the same reason).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_NEST_LIMIT: u32 = 64;

fn build(pattern: &str) -> Result<regex_lite::Regex, ConfigError> {
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|err| {
            let err = err.to_string();
            if err.contains("size limit") {
                ConfigError::here(format!(
                    "regex is too large (compiled size over {REGEX_SIZE_LIMIT} bytes)"
                ))
            } else {
                ConfigError::here(format!("invalid regex: {err}"))
            }
        })
}

/// A regular expression that must match the whole input, as Envoy's `safe_regex`
/// does. Deserializes from a string; a pattern that does not compile, or
/// compiles too large, is a config error at its JSON path.
#[derive(Debug, Clone)]
pub struct Regex {
    full: regex_lite::Regex,
    source: String,
}

impl Regex {
    pub fn new(pattern: &str) -> Result<Self, ConfigError> {
        let full = build(&format!("^(?:{pattern})$"))?;
        Ok(Regex {
            full,
            source: pattern.to_string(),
        })
    }

    /// Whether the whole of `text` matches.
    pub fn is_full_match(&self, text: &str) -> bool {
        self.full.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = <Cow<'de, str>>::deserialize(deserializer)?;
        Regex::new(&pattern).map_err(ConfigError::into_de)
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

/// A regular expression that matches anywhere in its input, for search and
/// replace (Envoy's `RegexMatchAndSubstitute`), under the same limits as [`Regex`].
#[derive(Debug, Clone)]
pub struct SearchRegex {
    regex: regex_lite::Regex,
}

impl SearchRegex {
    pub fn new(pattern: &str) -> Result<Self, ConfigError> {
        Ok(SearchRegex {
            regex: build(pattern)?,
        })
    }

    /// Whether it matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// How many capture groups it has, not counting the whole match (`\0`).
    pub fn groups(&self) -> usize {
        self.regex.captures_len().saturating_sub(1)
    }

    /// Replaces every match in `text` with `with`; borrowed when nothing matched.
    /// A `with` that refers to groups this regex lacks substitutes them with
    /// nothing: check [`Substitution::highest_group`] against [`groups`](Self::groups) at load.
    pub fn replace_all<'t>(&self, text: &'t str, with: &Substitution) -> Cow<'t, str> {
        self.regex.replace_all(text, with.replacement.as_str())
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl<'de> Deserialize<'de> for SearchRegex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = <Cow<'de, str>>::deserialize(deserializer)?;
        SearchRegex::new(&pattern).map_err(ConfigError::into_de)
    }
}

/// The replacement of a [`SearchRegex`], in Envoy's (RE2's) syntax: `\1`
/// is the first group, `\0` the whole match, `\\` a backslash; everything
/// else is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// In `regex_lite`'s syntax (`${1}`, `$$`).
    replacement: String,
    source: String,
    highest_group: usize,
}

impl Substitution {
    pub fn new(text: &str) -> Result<Self, ConfigError> {
        let mut replacement = String::with_capacity(text.len() + 8);
        let mut highest_group = 0;
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    match chars.next() {
                        Some(d) if d.is_ascii_digit() => {
                            let n = d.to_digit(10).unwrap_or(0) as usize;
                            highest_group = highest_group.max(n);
                            replacement.push_str(&format!("${{{n}}}"));
                        }
                        Some('\\') => replacement.push('\\'),
                        _ => return Err(ConfigError::here(
                            "a backslash must be followed by a group number or another backslash",
                        )),
                    }
                }
                '$' => replacement.push_str("$$"),
                other => replacement.push(other),
            }
        }
        Ok(Substitution {
            replacement,
            source: text.to_string(),
            highest_group,
        })
    }

    /// The highest group it refers to (0 for none, or only `\0`).
    pub fn highest_group(&self) -> usize {
        self.highest_group
    }

    /// As written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl<'de> Deserialize<'de> for Substitution {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        Substitution::new(&text).map_err(ConfigError::into_de)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

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
    fn full_match_regexes_are_anchored() {
        let r: Regex = parse(br#""v[0-9]+|beta""#).unwrap();
        assert!(r.is_full_match("v12") && r.is_full_match("beta"));
        assert!(!r.is_full_match("v12x") && !r.is_full_match("xbeta"));
        assert_eq!(r.as_str(), "v[0-9]+|beta");
    }

    #[test]
    fn oversized_and_invalid_patterns_are_refused_at_their_path() {
        let err = Regex::new("a{1000}{1000}").unwrap_err();
        assert!(err.message.starts_with("regex is too large"), "{err}");
        let err = SearchRegex::new("a{1000}{1000}").unwrap_err();
        assert!(err.message.starts_with("regex is too large"), "{err}");
        let err = parse::<Vec<Regex>>(br#"["a", "("]"#).unwrap_err();
        assert_eq!(err.path, "[1]");
        assert!(err.message.starts_with("invalid regex"), "{err}");
        let err = parse::<Vec<SearchRegex>>(br#"["[z-a]"]"#).unwrap_err();
        assert_eq!(err.path, "[0]");
        assert!(err.message.starts_with("invalid regex"), "{err}");
        let err = parse::<RegexMatcher>(br#"{"regex": "("}"#).unwrap_err();
        assert_eq!(err.path, "regex");
    }

    #[test]
    fn search_regexes_match_anywhere_and_substitute_envoy_style() {
        let r: SearchRegex = parse(br#""/v([0-9]+)/""#).unwrap();
        assert!(r.is_match("/api/v2/users"));
        assert_eq!(r.groups(), 1);
        let s: Substitution = parse(br#""/version-\\1/$x\\\\""#).unwrap();
        assert_eq!(s.highest_group(), 1);
        assert_eq!(s.as_str(), r"/version-\1/$x\\");
        assert_eq!(r.replace_all("/api/v2/v3/", &s), r"/api/version-2/$x\v3/");
        assert!(matches!(r.replace_all("/none", &s), Cow::Borrowed(_)));
        let whole = Substitution::new(r"[\0]").unwrap();
        assert_eq!(whole.highest_group(), 0);
        assert_eq!(r.replace_all("a/v1/b", &whole), "a[/v1/]b");
    }

    #[test]
    fn bad_substitutions_are_refused() {
        for bad in [r"\", r"\x", r"a\"] {
            let err = Substitution::new(bad).unwrap_err();
            assert_eq!(
                err.message,
                "a backslash must be followed by a group number or another backslash"
            );
        }
        let err = parse::<Vec<Substitution>>(br#"["ok", "\\q"]"#).unwrap_err();
        assert_eq!(err.path, "[1]");
    }
}
