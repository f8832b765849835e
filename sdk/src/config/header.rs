//! Header names and values, as a configuration may write them.

use super::ConfigError;

/// The characters of an HTTP token (RFC 9110 §5.6.2) besides letters and digits.
const TOKEN_PUNCTUATION: &[u8] = b"!#$%&'*+-.^_`|~";

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || TOKEN_PUNCTUATION.contains(&b))
}

fn invalid_name(text: &str) -> ConfigError {
    ConfigError::here(format!("{text:?} is not a valid header name"))
}

/// The name of a regular header: an HTTP token (RFC 9110), stored
/// lower-case as Envoy stores header names. Pseudo-headers (`:path`) are
/// not tokens and are refused; [`AnyHeaderName`] admits them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    pub fn new(name: &str) -> Result<HeaderName, ConfigError> {
        if !is_token(name) {
            return Err(invalid_name(name));
        }
        Ok(HeaderName(name.to_ascii_lowercase()))
    }

    /// A name written in code, such as a field's default: trusted as a
    /// token (it is not checked), lower-cased.
    pub fn literal(name: &'static str) -> HeaderName {
        HeaderName(name.to_ascii_lowercase())
    }

    /// Whether `name` is a token, whatever its case.
    pub fn is_valid(name: &str) -> bool {
        is_token(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A header name a filter reads: a regular header or a pseudo-header
/// (`:path`, `:authority`, `:method`, `:scheme`, `:status`, a `:` then a
/// token), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnyHeaderName(String);

impl AnyHeaderName {
    pub fn new(name: &str) -> Result<AnyHeaderName, ConfigError> {
        if !Self::is_valid(name) {
            return Err(invalid_name(name));
        }
        Ok(AnyHeaderName(name.to_ascii_lowercase()))
    }

    /// Whether `name` is a token, or `:` and a token.
    pub fn is_valid(name: &str) -> bool {
        is_token(name.strip_prefix(':').unwrap_or(name))
    }

    pub fn is_pseudo(&self) -> bool {
        self.0.starts_with(':')
    }

    /// The regular header this names, or `None` for a pseudo-header.
    pub fn regular(self) -> Option<HeaderName> {
        (!self.is_pseudo()).then_some(HeaderName(self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A header value with nothing that would split or truncate a header on the
/// wire: no CR, LF or NUL. Other bytes, tabs included, are kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeaderValue(String);

impl HeaderValue {
    pub fn new(value: &str) -> Result<HeaderValue, ConfigError> {
        Self::from_string(value.to_string())
    }

    fn from_string(value: String) -> Result<HeaderValue, ConfigError> {
        if !Self::is_valid(&value) {
            return Err(ConfigError::here("must not contain CR, LF or NUL"));
        }
        Ok(HeaderValue(value))
    }

    /// Whether `value` has no CR, LF or NUL: also what a filter checks on a
    /// value it built from request data before setting it.
    pub fn is_valid(value: &str) -> bool {
        !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

string_type!(HeaderName, |t: String| HeaderName::new(&t));
string_type!(AnyHeaderName, |t: String| AnyHeaderName::new(&t));
string_type!(HeaderValue, HeaderValue::from_string);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn err<T: serde::de::DeserializeOwned>(json: &str) -> String {
        match parse::<T>(json.as_bytes()) {
            Ok(_) => "<accepted>".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn header_names_are_lower_case_tokens() {
        let name: HeaderName = parse(br#""X-Request_ID""#).unwrap();
        assert_eq!(name, "x-request_id");
        assert_eq!(name.as_str(), "x-request_id");
        for good in ["a", "x-b", "!#$%&'*+-.^_`|~09AZaz"] {
            assert!(HeaderName::new(good).is_ok(), "{good}");
        }
        for bad in ["", ":path", "bad name", "x:y", "é", "a\r\nb", "(x)"] {
            let e = HeaderName::new(bad).unwrap_err();
            assert_eq!(e.path, ".");
            assert_eq!(e.message, format!("{bad:?} is not a valid header name"));
        }
    }

    #[test]
    fn any_header_name_admits_pseudo_headers() {
        let name = AnyHeaderName::new(":Path").unwrap();
        assert_eq!(name, ":path");
        assert!(name.is_pseudo());
        assert!(name.clone().regular().is_none());
        assert_eq!(
            AnyHeaderName::new("X-A").unwrap().regular(),
            Some(HeaderName::new("x-a").unwrap())
        );
        for bad in ["", ":", "::a", "a:", "bad name"] {
            assert!(AnyHeaderName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_values_refuse_what_splits_a_header() {
        let v: HeaderValue = parse(br#""tab\tand spaces are fine""#).unwrap();
        assert_eq!(v.as_str(), "tab\tand spaces are fine");
        assert!(!HeaderValue::is_valid("a\nb"));
        assert!(HeaderValue::is_valid("é"));
    }

    #[test]
    fn errors_name_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct H {
            key: HeaderName,
            value: HeaderValue,
        }
        assert_eq!(
            err::<Vec<H>>(r#"[{"key": "Bad Key", "value": "v"}]"#),
            "[0].key: \"Bad Key\" is not a valid header name (line 1, column 18)"
        );
        assert_eq!(
            err::<Vec<H>>(r#"[{"key": "k", "value": "a\r\nb"}]"#),
            "[0].value: must not contain CR, LF or NUL (line 1, column 32)"
        );
        assert!(
            err::<H>(r#"{"key": 5, "value": ""}"#).starts_with("key: invalid type: integer `5`")
        );
    }
}
