//! Typed filter configuration: JSON in, a Rust value or an error that names the JSON path.
//!
//! Envoy hands the filter the `configuration` string of `envoy.filters.http.wasm`.
//! [`parse`] turns it into the plugin's `Config` type; on failure the message names
//! where in the document the problem is (`rules[2].match.prefix: invalid type: ...`),
//! which is what Envoy prints when it refuses the filter.

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::Deserialize;
use std::fmt;

/// Why a configuration was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// A JSON path such as `providers.main.audiences[1]`; `.` for the whole document.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    /// An error at `path`. Use the JSON names of the fields, as the user wrote them.
    pub fn at(path: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// Prefixes the path with an outer field, so nested validators can report
    /// relative paths: `ConfigError::at("prefix", m).within("rules[0].match")`.
    pub fn within(mut self, outer: &str) -> Self {
        self.path = join_path(outer, &self.path);
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Joins JSON path segments: `join_path("rules[0]", "match")` is `rules[0].match`,
/// `join_path("audiences", "[1]")` is `audiences[1]`.
pub fn join_path(outer: &str, inner: &str) -> String {
    if outer.is_empty() || outer == "." {
        inner.to_string()
    } else if inner.is_empty() || inner == "." {
        outer.to_string()
    } else if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
    }
}

/// Parses a filter configuration. An absent or blank configuration is read as `{}`,
/// so a config type whose fields all have defaults needs none.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let mut path = err.path().to_string();
        if path.is_empty() || path == "?" {
            // A syntax error can leave no usable path: point at the document.
            path = ".".into();
        }
        let inner = err.into_inner();
        ConfigError::at(path, describe_json_error(&inner))
    })?;
    de.end()
        .map_err(|err| ConfigError::at(".", describe_json_error(&err)))?;
    Ok(value)
}

fn describe_json_error(err: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; keep the position but make it read as a note.
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) if err.line() > 0 => {
            let head = text.get(..cut).unwrap_or(&text);
            format!("{head} (line {}, column {})", err.line(), err.column())
        }
        _ => text,
    }
}

/// A duration written as Envoy's JSON writes `google.protobuf.Duration`:
/// a decimal number of seconds with an `s` suffix (`"60s"`, `"1.5s"`, `"0.000001s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn get(self) -> std::time::Duration {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl std::ops::Deref for Duration {
    type Target = std::time::Duration;
    fn deref(&self) -> &std::time::Duration {
        &self.0
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("expected a duration such as \"60s\" or \"1.5s\", got {text:?}");
        let number = text.strip_suffix('s').ok_or_else(expected)?;
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
            return Err(expected());
        }
        // Protobuf caps Duration at 10,000 years.
        let secs: u64 = whole
            .parse()
            .ok()
            .filter(|s| *s <= 315_576_000_000)
            .ok_or_else(expected)?;
        let mut nanos: u32 = 0;
        for (i, b) in fraction.unwrap_or("").bytes().enumerate() {
            nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
        }
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(D::Error::custom)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.subsec_nanos();
        if nanos == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else {
            let frac = format!("{nanos:09}");
            write!(f, "{}.{}s", self.0.as_secs(), frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Provider {
        #[allow(dead_code)]
        audiences: Vec<String>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[allow(dead_code)]
        providers: std::collections::BTreeMap<String, Provider>,
        #[serde(default)]
        #[allow(dead_code)]
        timeout: Option<Duration>,
    }

    #[test]
    fn error_names_the_json_path() {
        let err = parse::<Doc>(br#"{"providers": {"main": {"audiences": ["a", 1]}}}"#).unwrap_err();
        assert_eq!(err.path, "providers.main.audiences[1]");
        assert!(err.message.contains("expected a string"), "{}", err.message);
        assert!(err.to_string().starts_with("providers.main.audiences[1]: "));
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse::<Doc>(br#"{"providers": {}, "provders": {}}"#).unwrap_err();
        assert_eq!(err.path, "provders");
        assert!(err.message.contains("unknown field `provders`"), "{err}");
    }

    #[test]
    fn missing_field_and_syntax_errors() {
        let err = parse::<Doc>(br#"{"providers": {"m": {}}}"#).unwrap_err();
        assert_eq!(err.path, "providers.m");
        assert!(err.message.contains("missing field `audiences`"), "{err}");

        let err = parse::<Doc>(br#"{"providers": {"#).unwrap_err();
        assert!(err.message.contains("EOF"), "{err}");

        let err = parse::<Doc>(br#"{"providers": {}} trailing"#).unwrap_err();
        assert_eq!(err.path, ".");
    }

    #[test]
    fn blank_config_reads_as_empty_object() {
        #[derive(Deserialize, Default)]
        struct AllDefault {
            #[serde(default)]
            name: String,
        }
        assert_eq!(parse::<AllDefault>(b"  \n").unwrap().name, "");
        assert_eq!(parse::<Doc>(b"").unwrap_err().path, ".");
    }

    #[test]
    fn durations_in_envoy_json_form() {
        let d = |s: &str| s.parse::<Duration>().map(|d| d.0);
        assert_eq!(d("60s"), Ok(std::time::Duration::from_secs(60)));
        assert_eq!(d("1.5s"), Ok(std::time::Duration::from_millis(1500)));
        assert_eq!(d("0.000000001s"), Ok(std::time::Duration::from_nanos(1)));
        for bad in [
            "60",
            "1.5ms",
            "s",
            "-1s",
            "1.s",
            ".5s",
            "1.0000000001s",
            "1e3s",
            " 1s",
        ] {
            assert!(d(bad).is_err(), "{bad} should be refused");
        }
        let err = parse::<Doc>(br#"{"providers": {}, "timeout": "5m"}"#).unwrap_err();
        assert_eq!(err.path, "timeout");
        assert!(err.message.contains("\"5m\""), "{err}");
        assert_eq!(
            Duration(std::time::Duration::from_millis(1500)).to_string(),
            "1.5s"
        );
        assert_eq!(Duration::from_secs(3).to_string(), "3s");
    }

    #[test]
    fn within_prefixes_paths() {
        let e = ConfigError::at("prefix", "bad").within("rules[0].match");
        assert_eq!(e.path, "rules[0].match.prefix");
        let e = ConfigError::at("[2]", "bad").within("audiences");
        assert_eq!(e.path, "audiences[2]");
    }
}
