//! The configuration of `portico_hello.wasm`, checked as it is read: each
//! field's type refuses a bad value at that field's JSON path.

use portico::config::{ConfigError, HeaderName, HeaderValue};
use serde::{Deserialize, Deserializer};

/// See the table in this crate's README.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Header added to requests (and their responses).
    #[serde(default = "default_header")]
    pub header: HeaderName,
    /// Its value.
    pub value: HeaderValue,
    /// Path answered locally.
    #[serde(default = "default_path", deserialize_with = "answered_path")]
    pub path: String,
    /// Body of that local answer.
    #[serde(default = "default_greeting")]
    pub greeting: String,
}

fn default_header() -> HeaderName {
    HeaderName::literal("x-portico-hello")
}

fn default_path() -> String {
    "/hello".into()
}

fn default_greeting() -> String {
    "Hello from Portico!\n".into()
}

/// A filter's own check, inside `Deserialize` like the SDK's types.
fn answered_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let path = String::deserialize(d)?;
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return Err(
            ConfigError::here("must start with `/` and carry no query or fragment").into_de(),
        );
    }
    Ok(path)
}
