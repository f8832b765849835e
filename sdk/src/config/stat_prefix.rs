//! `stat_prefix`: what a filter's metric names start with.

use super::ConfigError;

/// The `stat_prefix` of a filter's metrics: not empty, no white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatPrefix(String);

impl StatPrefix {
    pub fn new(prefix: impl Into<String>) -> Result<StatPrefix, ConfigError> {
        let prefix = prefix.into();
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            return Err(ConfigError::here("must be non-empty and without spaces"));
        }
        Ok(StatPrefix(prefix))
    }

    /// A filter's default prefix, written in its code: the text is trusted
    /// as it is (keep it non-empty and without spaces).
    pub fn literal(prefix: &'static str) -> StatPrefix {
        StatPrefix(prefix.to_string())
    }

    /// The metric `name` under this prefix: `jwt_authn.allowed`.
    pub fn metric(&self, name: &str) -> String {
        format!("{}.{name}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_type!(StatPrefix, StatPrefix::new);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn prefixes_are_non_empty_words() {
        let p: StatPrefix = parse(br#""edge.jwt""#).unwrap();
        assert_eq!(p.metric("allowed"), "edge.jwt.allowed");
        for bad in [r#""""#, r#""a b""#, r#""tab\t""#] {
            let err = parse::<StatPrefix>(bad.as_bytes()).unwrap_err();
            assert_eq!(err.path, ".");
            assert!(
                err.message
                    .starts_with("must be non-empty and without spaces"),
                "{err}"
            );
        }
        assert_eq!(StatPrefix::literal("headers").as_str(), "headers");
    }
}
