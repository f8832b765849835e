//! What a header name or value may be: checked once, at load.

/// An HTTP token (RFC 9110 §5.6.2), or a pseudo-header (`:path`).
pub fn is_header_name(name: &str) -> bool {
    let body = name.strip_prefix(':').unwrap_or(name);
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

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

/// CR, LF and NUL would split or truncate a header on the wire.
pub fn has_forbidden_byte(value: &str) -> bool {
    value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_header_name("x-request-id"));
        assert!(is_header_name("X-Mixed_Case"));
        assert!(is_header_name(":path"));
        assert!(!is_header_name(""));
        assert!(!is_header_name(":"));
        assert!(!is_header_name("bad name"));
        assert!(!is_header_name("x:y"));
        assert!(!is_header_name("é"));
    }

    #[test]
    fn protected_names() {
        assert!(protected("host").is_some());
        assert!(protected("content-length").is_some());
        assert!(protected("transfer-encoding").is_some());
        assert!(protected("x-host").is_none());
        assert!(protected("content-type").is_none());
    }

    #[test]
    fn values() {
        assert!(has_forbidden_byte("a\r\nb"));
        assert!(has_forbidden_byte("nul\0"));
        assert!(!has_forbidden_byte("tab\tis fine"));
    }
}
