//! Where a provider looks for tokens, and how a token is removed afterwards.

use portico::query;
use portico::Headers;

#[derive(Debug, Clone)]
pub enum Location {
    Header { name: String, prefix: String },
    Param(String),
    Cookie(String),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub token: String,
    /// Index into the provider's locations, for removal.
    pub location: usize,
}

fn jwt_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')
}

/// Every token the locations hold, in order (a location yields at most one).
pub fn find(locations: &[Location], headers: &Headers<'_>, path: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for (i, loc) in locations.iter().enumerate() {
        let token = match loc {
            Location::Header { name, prefix } => headers.get_all(name).into_iter().find_map(|v| {
                // The prefix is case-sensitive, as in Envoy.
                let rest = v.strip_prefix(prefix.as_str())?;
                let token: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| jwt_char(*c))
                    .collect();
                (!token.is_empty()).then_some(token)
            }),
            Location::Param(name) => query::query_param(path, name).filter(|t| !t.is_empty()),
            Location::Cookie(name) => {
                query::cookie(&headers.get_all("cookie"), name).filter(|t| !t.is_empty())
            }
        };
        if let Some(token) = token {
            if !found.iter().any(|f: &Found| f.token == token) {
                found.push(Found { token, location: i });
            }
        }
    }
    found
}

/// Removes a verified token from where it was found, so it does not reach
/// the upstream (`forward: false`).
pub fn remove(location: &Location, headers: &Headers<'_>) {
    if let Location::Header { name, .. } = location {
        headers.remove(name);
    }
}
