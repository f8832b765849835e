//! Which headers an operation may change: checked once, at load, on top of
//! the SDK's `AnyHeaderName`.

use portico::config::{AnyHeaderName, ConfigError};
use serde::{Deserialize, Deserializer};

pub fn is_pseudo(name: &str) -> bool {
    name.starts_with(':')
}

/// Why no operation may set, remove or rename this (lower-case) header, if
/// it is one of those Envoy or the wire owns. Pseudo-headers are checked
/// apart, by [`is_pseudo`], because they have explicit rewrites instead.
pub fn protected(name: &str) -> Option<&'static str> {
    match name {
        // Envoy re-selects the route after a filter changes the request's
        // headers, so a `host` set from a request value lets the client pick
        // any virtual host, internal ones included. Native `header_mutation`
        // refuses it too.
        "host" => Some(
            "`host` selects the virtual host and route, so no operation may change it; \
             use `rewrite_host` with a literal value",
        ),
        // These frame the message on the wire: a value taken from the
        // request (or a stale one) makes the upstream read a different body
        // length than Envoy sent, which smuggles a second request.
        "content-length" | "transfer-encoding" => Some(
            "framing headers are Envoy's to set: changing them could smuggle a request \
             past the upstream's parser",
        ),
        _ => None,
    }
}

const PSEUDO_ADVICE: &str = "use `rewrite_path`, `rewrite_host` or `set_status`";

/// A valid name, not a pseudo-header, not `host` and not a framing header;
/// `instead` says what to do for a pseudo-header.
fn changeable(name: &str, instead: &str) -> Result<String, ConfigError> {
    let name = AnyHeaderName::new(name)?;
    if name.is_pseudo() {
        return Err(ConfigError::here(format!(
            "pseudo-header {name} cannot be changed this way; {instead}"
        )));
    }
    if let Some(reason) = protected(&name) {
        return Err(ConfigError::here(reason));
    }
    Ok(name.into_string())
}

/// A header an operation sets or removes (`append.header.key`, `remove`,
/// `rename.to`, `copy.to`), lower-cased.
#[derive(Debug)]
pub struct Target(pub String);

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        changeable(&name, PSEUDO_ADVICE)
            .map(Target)
            .map_err(ConfigError::into_de)
    }
}

/// The header `rename` takes away (`rename.from`), lower-cased.
#[derive(Debug)]
pub struct RenameSource(pub String);

impl<'de> Deserialize<'de> for RenameSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        changeable(&name, "only `copy` may read one")
            .map(RenameSource)
            .map_err(ConfigError::into_de)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_names() {
        assert!(protected("host").is_some());
        assert!(protected("content-length").is_some());
        assert!(protected("transfer-encoding").is_some());
        assert!(protected("x-host").is_none());
        assert!(protected("content-type").is_none());
    }

    #[test]
    fn targets() {
        assert_eq!(changeable("X-A", "").unwrap(), "x-a");
        assert!(changeable(":path", "do this")
            .unwrap_err()
            .message
            .ends_with("; do this"));
        assert!(changeable("Host", "").is_err());
        assert!(changeable("bad name", "")
            .unwrap_err()
            .message
            .contains("is not a valid header name"));
    }
}
