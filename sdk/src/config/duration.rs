//! `google.protobuf.Duration` in Envoy's JSON form.

use super::ConfigError;
use serde::de::Deserializer;
use serde::Deserialize;
use std::fmt;

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
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let expected = || {
            ConfigError::here(format!(
                "expected a duration such as \"60s\" or \"1.5s\", got {text:?}"
            ))
        };
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
        text.parse().map_err(ConfigError::into_de)
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
    use crate::config::parse;

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
            "315576000001s",
        ] {
            assert!(d(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            Duration(std::time::Duration::from_millis(1500)).to_string(),
            "1.5s"
        );
        assert_eq!(Duration::from_secs(3).to_string(), "3s");
    }

    #[test]
    fn a_bad_duration_is_refused_at_its_path() {
        let err = parse::<Vec<Duration>>(br#"["1s", "5m"]"#).unwrap_err();
        assert_eq!(err.path, "[1]");
        assert!(
            err.message
                .starts_with("expected a duration such as \"60s\" or \"1.5s\", got \"5m\""),
            "{err}"
        );
        let err = parse::<Duration>(b"60").unwrap_err();
        assert!(err.message.contains("expected a string"), "{err}");
    }
}
