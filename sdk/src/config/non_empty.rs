//! Strings that must not be empty (protobuf-validate's `min_len: 1`).

use super::ConfigError;

/// A string that must not be empty, as many of Envoy's fields are
/// (a descriptor key, a query parameter's name, a claim's name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonEmptyString(String);

impl NonEmptyString {
    pub fn new(text: impl Into<String>) -> Result<NonEmptyString, ConfigError> {
        let text = text.into();
        if text.is_empty() {
            return Err(ConfigError::here("must not be empty"));
        }
        Ok(NonEmptyString(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

string_type!(NonEmptyString, NonEmptyString::new);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn empty_strings_are_refused_at_their_path() {
        let ok: Vec<NonEmptyString> = parse(br#"["a", " "]"#).unwrap();
        assert_eq!(ok[1], " ");
        let err = parse::<Vec<NonEmptyString>>(br#"["a", ""]"#).unwrap_err();
        assert_eq!(err.path, "[1]");
        assert!(err.message.starts_with("must not be empty"), "{err}");
    }
}
