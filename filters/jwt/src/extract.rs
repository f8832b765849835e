//! Where a provider looks for tokens, and how a token is removed afterwards.
//!
//! Every token a request holds is found, as in Envoy's `extractor.cc`: each
//! value of each configured header, the first value of each query
//! parameter, the first cookie of each name. Envoy joins repeated inline
//! headers such as `authorization` with `,` before any filter runs, so
//! `Bearer a` + `Bearer b` arrives as one value `Bearer a,Bearer b`, whose
//! token (`a,Bearer b`) is malformed: the request fails, as in native.

use portico::query;
use portico::Headers;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Header { name: String, prefix: String },
    Param(String),
    Cookie(String),
}

impl Location {
    /// Envoy keys its location maps by this text (header name + prefix),
    /// which fixes both their order and which entries are the same.
    fn key(&self) -> (u8, String) {
        match self {
            Location::Header { name, prefix } => (0, format!("{name}{prefix}")),
            Location::Param(name) => (1, name.clone()),
            Location::Cookie(name) => (2, name.clone()),
        }
    }
}

/// Envoy's default: `Authorization: Bearer <jwt>`, then `?access_token=<jwt>`.
pub fn default_locations() -> Vec<Location> {
    vec![
        Location::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        },
        Location::Param("access_token".into()),
    ]
}

/// Locations in Envoy's extraction order (headers, then parameters, then
/// cookies, each sorted by key), duplicates merged.
pub fn native_order(mut locations: Vec<Location>) -> Vec<Location> {
    locations.sort_by_key(Location::key);
    locations.dedup_by(|a, b| a.key() == b.key());
    locations
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub token: String,
    /// Index into the provider's locations, for removal.
    pub location: usize,
}

/// Characters a JWT may hold (base64url and `.`): where a token starts
/// after a header's prefix.
fn jwt_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The token in one header value, as Envoy reads it: the prefix may appear
/// anywhere (case-sensitive); the token starts at the first JWT character
/// after it and runs to the end of the value (what follows is left for the
/// parser to refuse). With no JWT character after the prefix, the whole
/// value is the token. With an empty prefix, the whole value is.
fn header_token(value: &str, prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return Some(value.to_string());
    }
    let at = value.find(prefix)?;
    let rest = value.get(at + prefix.len()..).unwrap_or_default();
    Some(match rest.find(jwt_char) {
        Some(start) => rest.get(start..).unwrap_or_default().to_string(),
        None => value.to_string(),
    })
}

/// Every token the locations hold, in Envoy's extraction order. Envoy
/// verifies them last to first; an empty value is a token too (a malformed one).
pub fn find(locations: &[Location], headers: &Headers<'_>, path: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut cookie_headers: Option<Vec<String>> = None;
    for (i, loc) in locations.iter().enumerate() {
        match loc {
            Location::Header { name, prefix } => {
                for v in headers.get_all(name) {
                    if let Some(token) = header_token(&v, prefix) {
                        found.push(Found { token, location: i });
                    }
                }
            }
            Location::Param(name) => {
                if let Some(token) = query::query_param(path, name) {
                    found.push(Found { token, location: i });
                }
            }
            Location::Cookie(name) => {
                let values = cookie_headers.get_or_insert_with(|| headers.get_all("cookie"));
                if let Some(token) = cookie(values, name) {
                    found.push(Found { token, location: i });
                }
            }
        }
    }
    found
}

/// The first cookie called `name`, read as Envoy's `parseCookies` reads
/// it: pairs split on `;`, the name runs from the first non-space to `=`
/// (so `sid =x` and a tab before the name do not match), the value is
/// everything after `=`, without surrounding double quotes. Trailing spaces
/// are dropped: Envoy's base64 decoder skips them, so they change nothing
/// there either.
fn cookie(headers: &[String], name: &str) -> Option<String> {
    headers.iter().flat_map(|h| h.split(';')).find_map(|pair| {
        let eq = pair.find('=')?;
        let key = pair.get(..eq)?.trim_start_matches(' ');
        if key != name {
            return None;
        }
        let value = pair.get(eq + 1..)?;
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) if value.len() >= 2 => inner,
            _ => value,
        };
        Some(value.trim_end_matches(' ').to_string())
    })
}

/// `path` without any `name=…` pair (every value), other pairs kept byte for
/// byte and in order; without `?` when nothing is left.
pub fn remove_param(path: &str, name: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split_once('=').map_or(*pair, |(k, _)| k);
            !pair.is_empty() && query::form_decode(key) != name
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// Removes a verified token from where it was found, so it does not reach
/// the upstream (`forward: false`): the whole header, or every value of the
/// query parameter. Cookies stay, as in Envoy.
pub fn remove(location: &Location, headers: &Headers<'_>) {
    match location {
        Location::Header { name, .. } => headers.remove(name),
        Location::Param(name) => {
            if let Some(path) = headers.path() {
                let stripped = remove_param(&path, name);
                if stripped != path {
                    headers.set(":path", &stripped);
                }
            }
        }
        Location::Cookie(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tokens_are_read_as_envoy_reads_them() {
        assert_eq!(
            header_token("Bearer a.b.c", "Bearer "),
            Some("a.b.c".into())
        );
        assert_eq!(
            header_token("Basic x,Bearer a.b.c", "Bearer "),
            Some("a.b.c".into())
        );
        assert_eq!(
            header_token("Bearer a.b.c,Bearer d.e.f", "Bearer "),
            Some("a.b.c,Bearer d.e.f".into())
        );
        assert_eq!(
            header_token("Bearer ,;a.b.c", "Bearer "),
            Some("a.b.c".into())
        );
        assert_eq!(
            header_token("Bearer ,,", "Bearer "),
            Some("Bearer ,,".into())
        );
        assert_eq!(header_token("bearer a.b.c", "Bearer "), None);
        assert_eq!(header_token("", ""), Some(String::new()));
    }

    #[test]
    fn cookies_are_read_as_envoy_reads_them() {
        let c = |h: &str, n: &str| cookie(&[h.to_string()], n);
        assert_eq!(c("a=1; sid=t; sid=u", "sid").as_deref(), Some("t"));
        assert_eq!(c("sid =t", "sid"), None);
        assert_eq!(c("a=1;\tsid=t", "sid"), None);
        assert_eq!(c("sid= t ", "sid").as_deref(), Some(" t"));
        assert_eq!(c("sid=\"t\"", "sid").as_deref(), Some("t"));
        assert_eq!(c("sid=\"", "sid").as_deref(), Some("\""));
        assert_eq!(c("sid=", "sid").as_deref(), Some(""));
        assert_eq!(c("sid", "sid"), None);
    }

    #[test]
    fn params_are_removed_with_every_value_and_nothing_else() {
        assert_eq!(
            remove_param("/p?x=1&access_token=t&y=2", "access_token"),
            "/p?x=1&y=2"
        );
        assert_eq!(remove_param("/p?access_token=t", "access_token"), "/p");
        assert_eq!(
            remove_param("/p?access_token=t&z=%2F&access_token=u&a", "access_token"),
            "/p?z=%2F&a"
        );
        assert_eq!(
            remove_param("/p?access%5Ftoken=t&b=1", "access_token"),
            "/p?b=1"
        );
        assert_eq!(remove_param("/p", "access_token"), "/p");
    }

    #[test]
    fn locations_take_envoys_order_and_merge() {
        let locs = native_order(vec![
            Location::Cookie("c".into()),
            Location::Param("b".into()),
            Location::Header {
                name: "x-token".into(),
                prefix: "T ".into(),
            },
            Location::Param("a".into()),
            Location::Header {
                name: "x-raw".into(),
                prefix: String::new(),
            },
            Location::Param("a".into()),
        ]);
        assert_eq!(
            locs,
            vec![
                Location::Header {
                    name: "x-raw".into(),
                    prefix: String::new()
                },
                Location::Header {
                    name: "x-token".into(),
                    prefix: "T ".into()
                },
                Location::Param("a".into()),
                Location::Param("b".into()),
                Location::Cookie("c".into()),
            ]
        );
    }
}
