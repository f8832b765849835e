//! Envoy's `RouteMatch`, for filters that apply different settings per path,
//! host or header (`rules[].match`), compiled when the config is parsed.
//!
//! Supported: `prefix`, `path`, `safe_regex`, `path_separated_prefix`,
//! `case_sensitive`, `headers` (`present_match`, `exact_match`, `prefix_match`,
//! `suffix_match`, `contains_match`, `safe_regex_match`, `string_match`,
//! `invert_match`, `treat_missing_header_as_empty`) and `query_parameters`
//! (`string_match`, `present_match`). Other `RouteMatch` fields are refused at
//! load with a message saying so, never ignored.

use super::{AnyHeaderName, ConfigError, NonEmptyString, RegexMatcher, StringMatcher, Unsupported};
use crate::query;
use serde::de::Deserializer;
use serde::Deserialize;

crate::unsupported_reasons! {
    RouteMatchField = "is a RouteMatch field Portico does not support";
    HeaderMatcherField = "is a HeaderMatcher field Portico does not support";
}

/// Read access to request headers for matching. Envoy 1.40 matches each
/// value of a repeated header on its own (`x-tier: silver` plus
/// `x-tier: gold` matches `exact: gold`, and not `exact: "silver,gold"`),
/// while headers its codec joins (`user-agent`, `authorization`, ...) arrive
/// as one value already.
pub trait HeaderSource {
    fn values(&self, name: &str) -> Vec<String>;
}

impl HeaderSource for [(&str, &str)] {
    fn values(&self, name: &str) -> Vec<String> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_string())
            .collect()
    }
}

/// A compiled `RouteMatch`.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    path: PathMatch,
    headers: Vec<HeaderMatcher>,
    query_parameters: Vec<QueryParameterMatcher>,
}

#[derive(Debug, Clone)]
enum PathMatch {
    /// Pattern stored lower-case when not case-sensitive.
    Prefix {
        value: String,
        case_sensitive: bool,
    },
    Path {
        value: String,
        case_sensitive: bool,
    },
    SeparatedPrefix {
        value: String,
        case_sensitive: bool,
    },
    Regex(RegexMatcher),
}

impl RouteMatch {
    /// Matches the request whose `:path` is `path` and whose headers are `headers`.
    pub fn matches(&self, path: &str, headers: &(impl HeaderSource + ?Sized)) -> bool {
        let bare = query::path_only(path);
        let path_ok = match &self.path {
            PathMatch::Prefix {
                value,
                case_sensitive,
            } => bare
                .get(..value.len())
                .is_some_and(|head| same(head, value, *case_sensitive)),
            PathMatch::Path {
                value,
                case_sensitive,
            } => same(bare, value, *case_sensitive),
            PathMatch::SeparatedPrefix {
                value,
                case_sensitive,
            } => {
                bare.get(..value.len())
                    .is_some_and(|head| same(head, value, *case_sensitive))
                    && matches!(bare.as_bytes().get(value.len()), None | Some(b'/'))
            }
            PathMatch::Regex(r) => r.regex.is_full_match(bare),
        };
        path_ok
            && self.headers.iter().all(|h| h.matches(headers))
            && self.query_parameters.iter().all(|q| q.matches(path))
    }

    /// Matches the current request: reads `:path` and headers from `headers`.
    pub fn matches_request<H: HeaderSource + ?Sized>(&self, headers: &H) -> bool {
        let path = headers
            .values(":path")
            .into_iter()
            .next()
            .unwrap_or_default();
        self.matches(&path, headers)
    }

    /// A match on every path (`{"prefix": "/"}`).
    pub fn any() -> Self {
        RouteMatch {
            path: PathMatch::Prefix {
                value: "/".into(),
                case_sensitive: true,
            },
            headers: Vec::new(),
            query_parameters: Vec::new(),
        }
    }
}

fn same(a: &str, b: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        a == b
    } else {
        a.eq_ignore_ascii_case(b)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouteMatch {
    prefix: Option<String>,
    path: Option<String>,
    safe_regex: Option<RegexMatcher>,
    path_separated_prefix: Option<String>,
    case_sensitive: Option<bool>,
    #[serde(default)]
    headers: Vec<HeaderMatcher>,
    #[serde(default)]
    query_parameters: Vec<QueryParameterMatcher>,
    // Known RouteMatch fields Portico does not implement: named in the error
    // rather than reported as unknown.
    #[serde(default, rename = "connect_matcher")]
    _connect_matcher: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "path_match_policy")]
    _path_match_policy: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "runtime_fraction")]
    _runtime_fraction: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "grpc")]
    _grpc: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "tls_context")]
    _tls_context: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "dynamic_metadata")]
    _dynamic_metadata: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "filter_state")]
    _filter_state: Option<Unsupported<RouteMatchField>>,
    #[serde(default, rename = "cel_matcher")]
    _cel_matcher: Option<Unsupported<RouteMatchField>>,
}

impl<'de> Deserialize<'de> for RouteMatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::compile(deserializer, RouteMatch::compile)
    }
}

impl RouteMatch {
    fn compile(raw: RawRouteMatch) -> Result<Self, ConfigError> {
        let case_sensitive = raw.case_sensitive.unwrap_or(true);
        let fold = |s: String| {
            if case_sensitive {
                s
            } else {
                s.to_ascii_lowercase()
            }
        };
        let mut paths = Vec::with_capacity(1);
        if let Some(v) = raw.prefix {
            paths.push(PathMatch::Prefix {
                value: fold(v),
                case_sensitive,
            });
        }
        if let Some(v) = raw.path {
            paths.push(PathMatch::Path {
                value: fold(v),
                case_sensitive,
            });
        }
        if let Some(v) = raw.path_separated_prefix {
            if v.ends_with('/') || v.contains(['?', '#']) {
                return Err(ConfigError::at(
                    "path_separated_prefix",
                    "must not end with `/` or contain `?` or `#`",
                ));
            }
            paths.push(PathMatch::SeparatedPrefix {
                value: fold(v),
                case_sensitive,
            });
        }
        if let Some(r) = raw.safe_regex {
            paths.push(PathMatch::Regex(r));
        }
        match (paths.pop(), paths.is_empty()) {
            (Some(path), true) => Ok(RouteMatch {
                path,
                headers: raw.headers,
                query_parameters: raw.query_parameters,
            }),
            _ => Err(ConfigError::here(
                "exactly one of `prefix`, `path`, `safe_regex`, `path_separated_prefix` must be set",
            )),
        }
    }
}

/// Envoy's `HeaderMatcher`.
#[derive(Debug, Clone)]
pub struct HeaderMatcher {
    name: String,
    rule: HeaderRule,
    invert: bool,
    missing_as_empty: bool,
}

#[derive(Debug, Clone)]
enum HeaderRule {
    Present(bool),
    Value(StringMatcher),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderMatcher {
    name: AnyHeaderName,
    exact_match: Option<String>,
    prefix_match: Option<String>,
    suffix_match: Option<String>,
    contains_match: Option<String>,
    safe_regex_match: Option<RegexMatcher>,
    present_match: Option<bool>,
    string_match: Option<StringMatcher>,
    #[serde(default)]
    invert_match: bool,
    #[serde(default)]
    treat_missing_header_as_empty: bool,
    #[serde(default, rename = "range_match")]
    _range_match: Option<Unsupported<HeaderMatcherField>>,
}

impl<'de> Deserialize<'de> for HeaderMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::compile(deserializer, HeaderMatcher::compile)
    }
}

impl HeaderMatcher {
    fn compile(raw: RawHeaderMatcher) -> Result<Self, ConfigError> {
        let mut rules = Vec::with_capacity(1);
        if let Some(v) = raw.exact_match {
            rules.push(HeaderRule::Value(StringMatcher::exact(v)));
        }
        if let Some(v) = raw.prefix_match {
            rules.push(HeaderRule::Value(StringMatcher::prefix(v)));
        }
        if let Some(v) = raw.suffix_match {
            rules.push(HeaderRule::Value(StringMatcher::suffix(v)));
        }
        if let Some(v) = raw.contains_match {
            rules.push(HeaderRule::Value(StringMatcher::contains(v)));
        }
        if let Some(r) = raw.safe_regex_match {
            rules.push(HeaderRule::Value(StringMatcher::regex(r.regex)));
        }
        if let Some(p) = raw.present_match {
            rules.push(HeaderRule::Present(p));
        }
        if let Some(m) = raw.string_match {
            rules.push(HeaderRule::Value(m));
        }
        if rules.len() > 1 {
            return Err(ConfigError::here(
                "at most one of `exact_match`, `prefix_match`, `suffix_match`, `contains_match`, `safe_regex_match`, `present_match`, `string_match` may be set",
            ));
        }
        // Envoy treats a matcher with no rule as `present_match: true`.
        let rule = rules.pop().unwrap_or(HeaderRule::Present(true));
        Ok(HeaderMatcher {
            name: raw.name.into_string(),
            rule,
            invert: raw.invert_match,
            missing_as_empty: raw.treat_missing_header_as_empty,
        })
    }

    /// Envoy's `HeaderUtility` semantics, including how `invert_match` and
    /// `present_match` combine for an absent header.
    pub fn matches(&self, headers: &(impl HeaderSource + ?Sized)) -> bool {
        let mut values = headers.values(&self.name);
        if values.is_empty() {
            if self.missing_as_empty {
                values.push(String::new());
            } else {
                let present_false = matches!(self.rule, HeaderRule::Present(false));
                let present_true = matches!(self.rule, HeaderRule::Present(true));
                return if self.invert {
                    present_true
                } else {
                    present_false
                };
            }
        }
        // `invert_match` negates "some value matches", as in Envoy: with
        // `silver` and `gold`, an inverted `exact: gold` does not match.
        let hit = match &self.rule {
            HeaderRule::Present(p) => *p,
            HeaderRule::Value(m) => values.iter().any(|v| m.matches(v)),
        };
        hit != self.invert
    }
}

/// Envoy's `QueryParameterMatcher`.
#[derive(Debug, Clone)]
pub struct QueryParameterMatcher {
    name: String,
    rule: HeaderRule,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueryParameterMatcher {
    name: NonEmptyString,
    string_match: Option<StringMatcher>,
    present_match: Option<bool>,
}

impl<'de> Deserialize<'de> for QueryParameterMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::compile(deserializer, |raw: RawQueryParameterMatcher| {
            let rule = match (raw.string_match, raw.present_match) {
                (Some(m), None) => HeaderRule::Value(m),
                (None, Some(p)) => HeaderRule::Present(p),
                (None, None) => HeaderRule::Present(true),
                (Some(_), Some(_)) => {
                    return Err(ConfigError::here(
                        "only one of `string_match` and `present_match` may be set",
                    ))
                }
            };
            Ok(QueryParameterMatcher {
                name: raw.name.into_string(),
                rule,
            })
        })
    }
}

impl QueryParameterMatcher {
    pub fn matches(&self, path: &str) -> bool {
        match (&self.rule, query::query_param(path, &self.name)) {
            (HeaderRule::Present(p), found) => found.is_some() == *p,
            (HeaderRule::Value(m), Some(v)) => m.matches(&v),
            (HeaderRule::Value(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rm(json: &str) -> RouteMatch {
        crate::config::parse(json.as_bytes()).unwrap()
    }

    fn err(json: &str) -> String {
        crate::config::parse::<RouteMatch>(json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    const NO_HEADERS: &[(&str, &str)] = &[];

    #[test]
    fn path_matchers() {
        let m = rm(r#"{"prefix": "/api"}"#);
        assert!(m.matches("/api/v1?x=1", NO_HEADERS));
        assert!(m.matches("/apix", NO_HEADERS));
        assert!(!m.matches("/API", NO_HEADERS));
        let m = rm(r#"{"prefix": "/API", "case_sensitive": false}"#);
        assert!(m.matches("/api/v1", NO_HEADERS));
        let m = rm(r#"{"path": "/hello"}"#);
        assert!(m.matches("/hello?x", NO_HEADERS));
        assert!(!m.matches("/hello/", NO_HEADERS));
        let m = rm(r#"{"path_separated_prefix": "/api"}"#);
        assert!(m.matches("/api", NO_HEADERS) && m.matches("/api/x", NO_HEADERS));
        assert!(!m.matches("/apix", NO_HEADERS));
        let m = rm(r#"{"safe_regex": {"regex": "/users/[0-9]+"}}"#);
        assert!(m.matches("/users/42?full=1", NO_HEADERS));
        assert!(!m.matches("/users/42/x", NO_HEADERS));
    }

    #[test]
    fn header_matchers_follow_envoy() {
        let m = rm(r#"{"prefix": "/", "headers": [
            {"name": "X-Tenant", "exact_match": "b"},
            {"name": ":method", "prefix_match": "PO"}
        ]}"#);
        // Each value of a repeated header is matched on its own (observed in
        // Envoy 1.40's route matching and rate-limit actions).
        assert!(m.matches(
            "/",
            &[("x-tenant", "a"), ("X-TENANT", "b"), (":method", "POST")][..]
        ));
        assert!(!m.matches("/", &[("x-tenant", "a"), (":method", "POST")][..]));
        let joined =
            rm(r#"{"prefix": "/", "headers": [{"name": "x-tenant", "exact_match": "a,b"}]}"#);
        assert!(!joined.matches("/", &[("x-tenant", "a"), ("x-tenant", "b")][..]));
        assert!(joined.matches("/", &[("x-tenant", "a,b")][..]));
        let inverted = rm(
            r#"{"prefix": "/", "headers": [{"name": "x-tenant", "exact_match": "b", "invert_match": true}]}"#,
        );
        assert!(!inverted.matches("/", &[("x-tenant", "a"), ("x-tenant", "b")][..]));
        assert!(inverted.matches("/", &[("x-tenant", "a"), ("x-tenant", "c")][..]));

        let present =
            rm(r#"{"prefix": "/", "headers": [{"name": "x-debug", "present_match": true}]}"#);
        assert!(present.matches("/", &[("x-debug", "")][..]));
        assert!(!present.matches("/", NO_HEADERS));
        let absent =
            rm(r#"{"prefix": "/", "headers": [{"name": "x-debug", "present_match": false}]}"#);
        assert!(absent.matches("/", NO_HEADERS));
        assert!(!absent.matches("/", &[("x-debug", "1")][..]));
        let bare = rm(r#"{"prefix": "/", "headers": [{"name": "x-debug"}]}"#);
        assert!(bare.matches("/", &[("x-debug", "1")][..]) && !bare.matches("/", NO_HEADERS));

        // An inverted value matcher does not match an absent header...
        let inv = rm(
            r#"{"prefix": "/", "headers": [{"name": "x-env", "exact_match": "prod", "invert_match": true}]}"#,
        );
        assert!(inv.matches("/", &[("x-env", "dev")][..]));
        assert!(!inv.matches("/", &[("x-env", "prod")][..]));
        assert!(!inv.matches("/", NO_HEADERS));
        // ...unless a missing header is treated as empty.
        let inv_empty = rm(
            r#"{"prefix": "/", "headers": [{"name": "x-env", "exact_match": "prod", "invert_match": true, "treat_missing_header_as_empty": true}]}"#,
        );
        assert!(inv_empty.matches("/", NO_HEADERS));

        let sm = rm(
            r#"{"prefix": "/", "headers": [{"name": "x-a", "string_match": {"suffix": "Z", "ignore_case": true}}, {"name": "x-b", "safe_regex_match": {"regex": "[0-9]+"}}]}"#,
        );
        assert!(sm.matches("/", &[("x-a", "..z"), ("x-b", "12")][..]));
        assert!(!sm.matches("/", &[("x-a", "..z"), ("x-b", "12a")][..]));
    }

    #[test]
    fn query_parameter_matchers() {
        let m = rm(
            r#"{"prefix": "/", "query_parameters": [{"name": "debug", "present_match": true}, {"name": "v", "string_match": {"exact": "2"}}]}"#,
        );
        assert!(m.matches("/x?v=2&debug", NO_HEADERS));
        assert!(!m.matches("/x?v=3&debug", NO_HEADERS));
        assert!(!m.matches("/x?v=2", NO_HEADERS));
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(err(r#"{"prefix": "/", "path": "/a"}"#).contains("exactly one of"));
        assert!(err(r#"{"headers": []}"#).contains("exactly one of"));
        assert!(err(r#"{"prefix": "/", "runtime_fraction": {}}"#)
            .starts_with("runtime_fraction: is a RouteMatch field Portico does not support"));
        assert!(
            err(r#"{"prefix": "/", "headers": [{"name": "a", "range_match": {}}]}"#).starts_with(
                "headers[0].range_match: is a HeaderMatcher field Portico does not support"
            )
        );
        assert!(err(r#"{"prefix": "/", "headers": [{"name": "bad name"}]}"#)
            .starts_with("headers[0].name: \"bad name\" is not a valid header name"));
        assert!(
            err(r#"{"prefix": "/", "query_parameters": [{"name": ""}]}"#)
                .starts_with("query_parameters[0].name: must not be empty")
        );
        assert!(err(r#"{"prefix": "/", "headers": [{"name": "a", "exact_match": "x", "present_match": true}]}"#).starts_with("headers[0]: at most one"));
        assert!(
            err(r#"{"safe_regex": {"regex": "("}}"#).starts_with("safe_regex.regex: invalid regex")
        );
        assert!(err(
            r#"{"prefix": "/", "headers": [{"name": "a", "safe_regex_match": {"regex": "["}}]}"#
        )
        .starts_with("headers[0].safe_regex_match.regex:"));
        assert!(err(r#"{"prefix": "/", "headerz": []}"#).starts_with("headerz: unknown field"));
        assert!(err(r#"{"path_separated_prefix": "/api/"}"#)
            .starts_with("path_separated_prefix: must not end with"));
    }
}
