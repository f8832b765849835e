//! The configuration of `portico_hello.wasm` and its validation.

use portico::ConfigError;
use serde::Deserialize;

/// See the table in this crate's README.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Header added to requests (and their responses).
    #[serde(default = "default_header")]
    pub header: String,
    /// Its value.
    pub value: String,
    /// Path answered locally.
    #[serde(default = "default_path")]
    pub path: String,
    /// Body of that local answer.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}

fn default_header() -> String {
    "x-portico-hello".into()
}

fn default_path() -> String {
    "/hello".into()
}

fn default_greeting() -> String {
    "Hello from Portico!\n".into()
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if self.header.is_empty() || !self.header.bytes().all(token) {
            return Err(ConfigError::at(
                "header",
                format!("{:?} is not a valid header name", self.header),
            ));
        }
        if self.header.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::at("header", "header names must be lower-case"));
        }
        if self.value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(ConfigError::at("value", "must not contain CR, LF or NUL"));
        }
        if !self.path.starts_with('/') || self.path.contains(['?', '#']) {
            return Err(ConfigError::at(
                "path",
                "must start with `/` and carry no query or fragment",
            ));
        }
        Ok(())
    }
}
