//! The configuration: the JSON of Envoy's `HeaderMutation` filter plus
//! Portico's extensions, read into its compiled form ([`Config`]) by
//! `Deserialize`, so every refusal names the JSON path of its field.

use crate::names::{RenameSource, Target};
use crate::ops::{self, AppendAction, Op};
use crate::query_params::QueryOp;
use crate::template::{Side, Template};
use portico::config::{
    self, AnyHeaderName, ConfigError, HeaderValue, NonEmptyString, RouteMatch, SearchRegex,
    StatPrefix, StringMatcher, Substitution, Unsupported,
};
use serde::{Deserialize, Deserializer};
use std::marker::PhantomData;

portico::unsupported_reasons! {
    pub Trailers = "trailer mutations are not supported by Portico";
    pub RawValue = "`raw_value` is not supported; use `value`";
    pub RegexCopy = "`regex_copy` is not supported; use Portico's `copy`";
}

/// One set of mutations: the top level, or a rule's.
#[derive(Debug, Default)]
pub struct Mutations {
    pub request: Vec<Op>,
    pub query: Vec<QueryOp>,
    pub response: Vec<Op>,
}

/// A Portico rule: mutations for the requests `match` selects.
#[derive(Debug)]
pub struct Rule {
    pub route: RouteMatch,
    pub mutations: Mutations,
}

/// The whole configuration, compiled: `HeaderMutation`, plus `rules` and
/// `stat_prefix`.
#[derive(Debug)]
pub struct Config {
    pub base: Mutations,
    pub rules: Vec<Rule>,
    /// Request headers that response-side values read; captured when the
    /// request has been rewritten, so the response sees what went upstream.
    pub captures: Vec<String>,
    pub stat_prefix: StatPrefix,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    mutations: RawMutations,
    /// Orders per-route configs in Envoy; Portico has no per-route config,
    /// so it is accepted and has nothing to order.
    #[serde(default, rename = "most_specific_header_mutations_wins")]
    _most_specific_header_mutations_wins: bool,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default = "default_stat_prefix")]
    stat_prefix: StatPrefix,
}

fn default_stat_prefix() -> StatPrefix {
    StatPrefix::literal("headers")
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawConfig::deserialize(d)?;
        let rules = raw.rules.into_iter().map(Rule::from).collect();
        Ok(Config::new(raw.mutations.into(), rules, raw.stat_prefix))
    }
}

impl Config {
    fn new(base: Mutations, rules: Vec<Rule>, stat_prefix: StatPrefix) -> Self {
        let mut captures: Vec<String> = Vec::new();
        let all_response = base
            .response
            .iter()
            .chain(rules.iter().flat_map(|r| &r.mutations.response));
        for op in all_response {
            if let Op::Append { value, .. } = op {
                for name in value.request_headers() {
                    if !captures.iter().any(|c| c == name) {
                        captures.push(name.to_string());
                    }
                }
            }
        }
        Config {
            base,
            rules,
            captures,
            stat_prefix,
        }
    }

    /// Writes the VM's host name in for `%HOSTNAME%`, once the environment
    /// can be read (after parsing); without one, the first value that uses
    /// it is refused at its path.
    pub fn resolve_hostname(&mut self, hostname: Option<&str>) -> Result<(), ConfigError> {
        let rules = self
            .rules
            .iter_mut()
            .enumerate()
            .map(|(i, r)| (format!("rules[{i}]"), &mut r.mutations));
        for (at, m) in std::iter::once(("mutations".to_string(), &mut self.base)).chain(rules) {
            m.resolve_hostname(&at, hostname)?;
        }
        Ok(())
    }
}

impl Mutations {
    fn resolve_hostname(&mut self, at: &str, hostname: Option<&str>) -> Result<(), ConfigError> {
        let ops = [
            ("request_mutations", &mut self.request),
            ("response_mutations", &mut self.response),
        ];
        for (list, ops) in ops {
            for (i, op) in ops.iter_mut().enumerate() {
                if let Some((field, template)) = op.template_mut() {
                    template.resolve_hostname(hostname).map_err(|e| {
                        ConfigError::at(format!("{at}.{list}[{i}].{field}"), e.message)
                    })?;
                }
            }
        }
        for (i, op) in self.query.iter_mut().enumerate() {
            if let QueryOp::Append { value, .. } = op {
                value.resolve_hostname(hostname).map_err(|e| {
                    ConfigError::at(
                        format!("{at}.query_parameter_mutations[{i}].append.record.value"),
                        e.message,
                    )
                })?;
            }
        }
        Ok(())
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMutations {
    #[serde(default)]
    request_mutations: Vec<SidedOp<OnRequest>>,
    #[serde(default)]
    response_mutations: Vec<SidedOp<OnResponse>>,
    #[serde(default)]
    query_parameter_mutations: Vec<QueryOp>,
    #[serde(default, rename = "request_trailers_mutations")]
    _request_trailers_mutations: Option<Unsupported<Trailers>>,
    #[serde(default, rename = "response_trailers_mutations")]
    _response_trailers_mutations: Option<Unsupported<Trailers>>,
}

impl From<RawMutations> for Mutations {
    fn from(m: RawMutations) -> Self {
        Mutations {
            request: m.request_mutations.into_iter().map(|o| o.op).collect(),
            query: m.query_parameter_mutations,
            response: m.response_mutations.into_iter().map(|o| o.op).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    route: RouteMatch,
    #[serde(default)]
    request_mutations: Vec<SidedOp<OnRequest>>,
    #[serde(default)]
    response_mutations: Vec<SidedOp<OnResponse>>,
    #[serde(default)]
    query_parameter_mutations: Vec<QueryOp>,
}

impl From<RawRule> for Rule {
    fn from(r: RawRule) -> Self {
        Rule {
            route: r.route,
            mutations: Mutations {
                request: r.request_mutations.into_iter().map(|o| o.op).collect(),
                query: r.query_parameter_mutations,
                response: r.response_mutations.into_iter().map(|o| o.op).collect(),
            },
        }
    }
}

/// Which list an operation is in: what it may do depends on it.
trait OnSide {
    const SIDE: Side;
}

enum OnRequest {}
enum OnResponse {}

impl OnSide for OnRequest {
    const SIDE: Side = Side::Request;
}

impl OnSide for OnResponse {
    const SIDE: Side = Side::Response;
}

/// An operation of a `request_mutations` or `response_mutations` list.
struct SidedOp<S> {
    op: Op,
    side: PhantomData<S>,
}

impl<'de, S: OnSide> Deserialize<'de> for SidedOp<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawOp| compile_op(raw, S::SIDE)).map(|op| SidedOp {
            op,
            side: PhantomData,
        })
    }
}

/// One operation: Envoy's `append`, `remove`, `remove_on_match`, or one of
/// Portico's.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawOp {
    Append(RawAppend),
    Remove(Target),
    RemoveOnMatch(RawRemoveOnMatch),
    RegexCopy(Unsupported<RegexCopy>),
    Rename(RawRename),
    Copy(RawCopy),
    RewritePath(RewritePath),
    RewriteHost(HeaderValue),
    SetStatus(u16),
}

/// `envoy.config.core.v3.HeaderValueOption`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppend {
    header: RawHeader,
    #[serde(default)]
    append_action: Option<AppendAction>,
    /// Deprecated in Envoy in favour of `append_action`; still honoured.
    #[serde(default)]
    append: Option<bool>,
    #[serde(default)]
    keep_empty_value: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    key: Target,
    #[serde(default)]
    value: HeaderValue,
    #[serde(default, rename = "raw_value")]
    _raw_value: Option<Unsupported<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoveOnMatch {
    key_matcher: StringMatcher,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRename {
    from: RenameSource,
    to: Target,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCopy {
    /// Any header, pseudo-headers included: copying only reads it.
    from: AnyHeaderName,
    to: Target,
}

/// Portico's `rewrite_path`: `regex` (anywhere in the path) and
/// `substitution` (Envoy's `\1` syntax).
struct RewritePath {
    regex: SearchRegex,
    substitution: Substitution,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRewritePath {
    regex: SearchRegex,
    substitution: Substitution,
}

impl<'de> Deserialize<'de> for RewritePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |raw: RawRewritePath| {
            ops::check_substitution(&raw.regex, &raw.substitution)?;
            Ok(RewritePath {
                regex: raw.regex,
                substitution: raw.substitution,
            })
        })
    }
}

/// A value with substitutions, on `side`; `field` is its path in the operation.
fn template(field: &str, value: &HeaderValue, side: Side) -> Result<Template, ConfigError> {
    Template::parse_unresolved(value, side).map_err(|e| ConfigError::at(field, e.message))
}

fn compile_op(op: RawOp, side: Side) -> Result<Op, ConfigError> {
    Ok(match op {
        RawOp::Append(a) => {
            let action = match (a.append, a.append_action) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::at(
                        "append.append",
                        "set `append_action` or the deprecated `append`, not both",
                    ))
                }
                (Some(true), None) => AppendAction::AppendIfExistsOrAdd,
                (Some(false), None) => AppendAction::OverwriteIfExistsOrAdd,
                (None, action) => action.unwrap_or_default(),
            };
            Op::Append {
                name: a.header.key.0,
                value: template("append.header.value", &a.header.value, side)?,
                action,
                keep_empty: a.keep_empty_value,
            }
        }
        RawOp::Remove(name) => Op::Remove(name.0),
        RawOp::RemoveOnMatch(r) => Op::RemoveOnMatch(r.key_matcher),
        RawOp::RegexCopy(u) => u.absurd(),
        RawOp::Rename(r) => Op::Rename {
            from: r.from.0,
            to: r.to.0,
        },
        RawOp::Copy(c) => Op::Copy {
            from: c.from.into_string(),
            to: c.to.0,
        },
        RawOp::RewritePath(r) => {
            if side != Side::Request {
                return Err(ConfigError::at(
                    "rewrite_path",
                    "only request mutations can rewrite the path",
                ));
            }
            Op::RewritePath {
                regex: r.regex,
                replacement: r.substitution,
            }
        }
        RawOp::RewriteHost(value) => {
            if side != Side::Request {
                return Err(ConfigError::at(
                    "rewrite_host",
                    "only request mutations can rewrite the host",
                ));
            }
            let host = template("rewrite_host", &value, side)?;
            // The new authority re-selects the route: a value a client can
            // influence (a request header, its address, which XFF can set)
            // would let it reach any virtual host, internal ones included.
            if !host.is_constant() {
                return Err(ConfigError::at(
                    "rewrite_host",
                    "must be a literal value (or %HOSTNAME%): the host re-selects the route, \
                     so a value from the request would let a client choose the virtual host",
                ));
            }
            Op::RewriteHost(host)
        }
        RawOp::SetStatus(status) => {
            if side != Side::Response {
                return Err(ConfigError::at(
                    "set_status",
                    "only response mutations can set the status",
                ));
            }
            if !(200..=599).contains(&status) {
                return Err(ConfigError::at(
                    "set_status",
                    format!("{status} is not a final HTTP status (200-599)"),
                ));
            }
            Op::SetStatus(status.to_string())
        }
    })
}

/// `envoy.config.core.v3.KeyValueMutation`: exactly one of `append`, `remove`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueryOp {
    #[serde(default)]
    append: Option<RawQueryAppend>,
    #[serde(default)]
    remove: Option<NonEmptyString>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueryAppend {
    record: RawKeyValue,
    #[serde(default)]
    action: AppendAction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyValue {
    key: NonEmptyString,
    #[serde(default)]
    value: HeaderValue,
}

impl<'de> Deserialize<'de> for QueryOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        config::compile(d, |op: RawQueryOp| match (op.append, op.remove) {
            (Some(a), None) => Ok(QueryOp::Append {
                key: a.record.key.into_string(),
                value: template("append.record.value", &a.record.value, Side::Request)?,
                action: a.action,
            }),
            (None, Some(key)) => Ok(QueryOp::Remove(key.into_string())),
            _ => Err(ConfigError::here(
                "set exactly one of `append` and `remove`",
            )),
        })
    }
}

impl Op {
    /// The template this operation renders, with its path in the operation.
    fn template_mut(&mut self) -> Option<(&'static str, &mut Template)> {
        match self {
            Op::Append { value, .. } => Some(("append.header.value", value)),
            Op::RewriteHost(value) => Some(("rewrite_host", value)),
            _ => None,
        }
    }
}
