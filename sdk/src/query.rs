//! Query strings and cookies: the two places besides headers where requests carry data.

use std::borrow::Cow;

/// The path without its query string (and without a fragment, which clients
/// should not send but sometimes do).
pub fn path_only(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or(path)
}

/// The raw query string of a `:path`, without the `?`; empty when absent.
pub fn query_string(path: &str) -> &str {
    match path.split_once('?') {
        Some((_, rest)) => rest.split('#').next().unwrap_or(""),
        None => "",
    }
}

/// Query parameters of a `:path`, decoded (`+` as space, `%XX`), in order,
/// repeated keys kept. Malformed escapes are kept as written.
pub fn query_params(path: &str) -> Vec<(String, String)> {
    query_string(path)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k).into_owned(), form_decode(v).into_owned())
        })
        .collect()
}

/// The first value of query parameter `name` in a `:path`. Names compare exactly, as Envoy does.
pub fn query_param(path: &str, name: &str) -> Option<String> {
    query_string(path).split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k) == name).then(|| form_decode(v).into_owned())
    })
}

/// Cookies of a request: every `cookie` header value, split on `;`.
/// Values keep their bytes; surrounding double quotes are removed as RFC 6265 allows.
pub fn cookies(cookie_headers: &[String]) -> Vec<(String, String)> {
    cookie_headers
        .iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// The first cookie called `name` (case-sensitive, as cookie names are).
pub fn cookie(cookie_headers: &[String], name: &str) -> Option<String> {
    cookies(cookie_headers)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
/// Invalid escapes stay as written; invalid UTF-8 is replaced.
pub fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1)
                    .and_then(|h| hex_val(*h))
                    .zip(bytes.get(i + 2).and_then(|l| hex_val(*l)));
                if let Some((h, l)) = hex {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query() {
        assert_eq!(path_only("/a/b?x=1#f"), "/a/b");
        assert_eq!(path_only("/a"), "/a");
        assert_eq!(query_string("/a?x=1&y#frag"), "x=1&y");
        assert_eq!(query_string("/a"), "");
    }

    #[test]
    fn decodes_params_in_order_with_repeats() {
        let params = query_params("/p?a=1&b=hello+world&a=%41%zz&&empty=&flag");
        assert_eq!(
            params,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "hello world".into()),
                ("a".into(), "A%zz".into()),
                ("empty".into(), "".into()),
                ("flag".into(), "".into()),
            ]
        );
        assert_eq!(
            query_param("/p?x=1&access_token=abc.def", "access_token").as_deref(),
            Some("abc.def")
        );
        assert_eq!(query_param("/p?Access_token=abc", "access_token"), None);
        assert_eq!(query_param("/p?a=%", "a").as_deref(), Some("%"));
    }

    #[test]
    fn parses_cookies_across_headers() {
        let headers = vec![
            "a=1; session=\"xyz\"".to_string(),
            "b = 2;;=bad; c=x=y".to_string(),
        ];
        assert_eq!(cookie(&headers, "session").as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c").as_deref(), Some("x=y"));
        assert_eq!(cookie(&headers, "A"), None);
        assert_eq!(cookies(&headers).len(), 4);
    }
}
