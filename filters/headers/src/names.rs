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
    fn values() {
        assert!(has_forbidden_byte("a\r\nb"));
        assert!(has_forbidden_byte("nul\0"));
        assert!(!has_forbidden_byte("tab\tis fine"));
    }
}
