//! The configuration as written: the JSON of Envoy's `HeaderMutation` filter
//! plus Portico's extensions. `compile` turns it into [`crate::Compiled`],
//! refusing anything unsafe with the JSON path of the offending field.

use crate::ops::{AppendAction, Op};
use crate::query_params::QueryOp;
use crate::template::{Side, Template};
use crate::{names, Compiled, Mutations, Rule};
use portico::config::route_match::RouteMatch;
use portico::config::string_match::StringMatcher;
use portico::ConfigError;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// `envoy.extensions.filters.http.header_mutation.v3.HeaderMutation`, plus
/// `rules` and `stat_prefix`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mutations: RawMutations,
    /// Orders per-route configs in Envoy; Portico has no per-route config,
    /// so it is accepted and has nothing to order.
    #[serde(default)]
    pub most_specific_header_mutations_wins: bool,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default = "default_stat_prefix")]
    pub stat_prefix: String,
}

fn default_stat_prefix() -> String {
    "headers".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMutations {
    #[serde(default)]
    pub request_mutations: Vec<RawOp>,
    #[serde(default)]
    pub response_mutations: Vec<RawOp>,
    #[serde(default)]
    pub query_parameter_mutations: Vec<RawQueryOp>,
    #[serde(default)]
    request_trailers_mutations: Option<IgnoredAny>,
    #[serde(default)]
    response_trailers_mutations: Option<IgnoredAny>,
}

/// A Portico rule: mutations for the requests `match` selects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(rename = "match")]
    pub route: RouteMatch,
    #[serde(default)]
    pub request_mutations: Vec<RawOp>,
    #[serde(default)]
    pub response_mutations: Vec<RawOp>,
    #[serde(default)]
    pub query_parameter_mutations: Vec<RawQueryOp>,
}

/// One operation: Envoy's `append`, `remove`, `remove_on_match`, or one of
/// Portico's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawOp {
    Append(RawAppend),
    Remove(String),
    RemoveOnMatch(RawRemoveOnMatch),
    RegexCopy(IgnoredAny),
    Rename(FromTo),
    Copy(FromTo),
    RewritePath(RawRewritePath),
    RewriteHost(String),
    SetStatus(u16),
}

/// `envoy.config.core.v3.HeaderValueOption`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAppend {
    pub header: RawHeader,
    #[serde(default)]
    pub append_action: Option<AppendAction>,
    /// Deprecated in Envoy in favour of `append_action`; still honoured.
    #[serde(default)]
    pub append: Option<bool>,
    #[serde(default)]
    pub keep_empty_value: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeader {
    pub key: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    raw_value: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemoveOnMatch {
    pub key_matcher: StringMatcher,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromTo {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRewritePath {
    pub regex: String,
    pub substitution: String,
}

/// `envoy.config.core.v3.KeyValueMutation`: exactly one of `append`, `remove`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueryOp {
    #[serde(default)]
    pub append: Option<RawQueryAppend>,
    #[serde(default)]
    pub remove: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueryAppend {
    pub record: RawKeyValue,
    #[serde(default)]
    pub action: AppendAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Everything a compile step needs besides the JSON.
pub struct Context<'a> {
    /// What `%HOSTNAME%` becomes, if the VM was told.
    pub hostname: Option<&'a str>,
}

impl Config {
    pub fn compile(self, cx: &Context<'_>) -> Result<Compiled, ConfigError> {
        let m = self.mutations;
        if m.request_trailers_mutations.is_some() {
            return Err(ConfigError::at(
                "mutations.request_trailers_mutations",
                "trailer mutations are not supported by Portico",
            ));
        }
        if m.response_trailers_mutations.is_some() {
            return Err(ConfigError::at(
                "mutations.response_trailers_mutations",
                "trailer mutations are not supported by Portico",
            ));
        }
        let base = compile_mutations(
            "mutations",
            m.request_mutations,
            m.query_parameter_mutations,
            m.response_mutations,
            cx,
        )?;
        let rules = self
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                let mutations = compile_mutations(
                    &format!("rules[{i}]"),
                    rule.request_mutations,
                    rule.query_parameter_mutations,
                    rule.response_mutations,
                    cx,
                )?;
                Ok(Rule {
                    route: rule.route,
                    mutations,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        if self.stat_prefix.is_empty() || self.stat_prefix.contains(char::is_whitespace) {
            return Err(ConfigError::at(
                "stat_prefix",
                "must be non-empty and without spaces",
            ));
        }
        Ok(Compiled::new(base, rules, self.stat_prefix))
    }
}

fn compile_mutations(
    at: &str,
    request: Vec<RawOp>,
    query: Vec<RawQueryOp>,
    response: Vec<RawOp>,
    cx: &Context<'_>,
) -> Result<Mutations, ConfigError> {
    let compile_ops = |field: &str, ops: Vec<RawOp>, side: Side| {
        ops.into_iter()
            .enumerate()
            .map(|(i, op)| compile_op(&format!("{at}.{field}[{i}]"), op, side, cx))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Mutations {
        request: compile_ops("request_mutations", request, Side::Request)?,
        query: query
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                compile_query_op(&format!("{at}.query_parameter_mutations[{i}]"), op, cx)
            })
            .collect::<Result<Vec<_>, _>>()?,
        response: compile_ops("response_mutations", response, Side::Response)?,
    })
}

fn header_name(at: &str, name: &str) -> Result<String, ConfigError> {
    if !names::is_header_name(name) {
        return Err(ConfigError::at(
            at,
            format!("{name:?} is not a valid header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A header this operation may change: a valid name, not a pseudo-header,
/// not `host` and not a framing header.
fn plain_header_name(at: &str, name: &str, instead: &str) -> Result<String, ConfigError> {
    let name = header_name(at, name)?;
    if names::is_pseudo(&name) {
        return Err(ConfigError::at(
            at,
            format!("pseudo-header {name} cannot be changed this way; {instead}"),
        ));
    }
    if let Some(reason) = names::protected(&name) {
        return Err(ConfigError::at(at, reason));
    }
    Ok(name)
}

const PSEUDO_ADVICE: &str = "use `rewrite_path`, `rewrite_host` or `set_status`";

fn template(at: &str, text: &str, side: Side, cx: &Context<'_>) -> Result<Template, ConfigError> {
    if names::has_forbidden_byte(text) {
        return Err(ConfigError::at(at, "must not contain CR, LF or NUL"));
    }
    Template::parse(text, side, cx.hostname).map_err(|m| ConfigError::at(at, m))
}

fn compile_op(at: &str, op: RawOp, side: Side, cx: &Context<'_>) -> Result<Op, ConfigError> {
    let field = |f: &str| format!("{at}.{f}");
    Ok(match op {
        RawOp::Append(a) => {
            if a.header.raw_value.is_some() {
                return Err(ConfigError::at(
                    field("append.header.raw_value"),
                    "`raw_value` is not supported; use `value`",
                ));
            }
            let action = match (a.append, a.append_action) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::at(
                        field("append.append"),
                        "set `append_action` or the deprecated `append`, not both",
                    ))
                }
                (Some(true), None) => AppendAction::AppendIfExistsOrAdd,
                (Some(false), None) => AppendAction::OverwriteIfExistsOrAdd,
                (None, action) => action.unwrap_or_default(),
            };
            Op::Append {
                name: plain_header_name(&field("append.header.key"), &a.header.key, PSEUDO_ADVICE)?,
                value: template(&field("append.header.value"), &a.header.value, side, cx)?,
                action,
                keep_empty: a.keep_empty_value,
            }
        }
        RawOp::Remove(name) => {
            Op::Remove(plain_header_name(&field("remove"), &name, PSEUDO_ADVICE)?)
        }
        RawOp::RemoveOnMatch(r) => Op::RemoveOnMatch(r.key_matcher),
        RawOp::RegexCopy(_) => {
            return Err(ConfigError::at(
                field("regex_copy"),
                "`regex_copy` is not supported; use Portico's `copy`",
            ))
        }
        RawOp::Rename(ft) => Op::Rename {
            from: plain_header_name(&field("rename.from"), &ft.from, "only `copy` may read one")?,
            to: plain_header_name(&field("rename.to"), &ft.to, PSEUDO_ADVICE)?,
        },
        RawOp::Copy(ft) => Op::Copy {
            from: header_name(&field("copy.from"), &ft.from)?,
            to: plain_header_name(&field("copy.to"), &ft.to, PSEUDO_ADVICE)?,
        },
        RawOp::RewritePath(r) => {
            if side != Side::Request {
                return Err(ConfigError::at(
                    field("rewrite_path"),
                    "only request mutations can rewrite the path",
                ));
            }
            crate::ops::rewrite_path(&r.regex, &r.substitution).map_err(|e| {
                ConfigError::at(field(&format!("rewrite_path.{}", e.path)), e.message)
            })?
        }
        RawOp::RewriteHost(value) => {
            if side != Side::Request {
                return Err(ConfigError::at(
                    field("rewrite_host"),
                    "only request mutations can rewrite the host",
                ));
            }
            let host = template(&field("rewrite_host"), &value, side, cx)?;
            // The new authority re-selects the route: a value a client can
            // influence (a request header, its address, which XFF can set)
            // would let it reach any virtual host, internal ones included.
            if host.as_literal().is_none() {
                return Err(ConfigError::at(
                    field("rewrite_host"),
                    "must be a literal value (or %HOSTNAME%): the host re-selects the route, \
                     so a value from the request would let a client choose the virtual host",
                ));
            }
            Op::RewriteHost(host)
        }
        RawOp::SetStatus(status) => {
            if side != Side::Response {
                return Err(ConfigError::at(
                    field("set_status"),
                    "only response mutations can set the status",
                ));
            }
            if !(200..=599).contains(&status) {
                return Err(ConfigError::at(
                    field("set_status"),
                    format!("{status} is not a final HTTP status (200-599)"),
                ));
            }
            Op::SetStatus(status.to_string())
        }
    })
}

fn compile_query_op(at: &str, op: RawQueryOp, cx: &Context<'_>) -> Result<QueryOp, ConfigError> {
    match (op.append, op.remove) {
        (Some(a), None) => {
            if a.record.key.is_empty() {
                return Err(ConfigError::at(
                    format!("{at}.append.record.key"),
                    "must not be empty",
                ));
            }
            Ok(QueryOp::Append {
                key: a.record.key,
                value: template(
                    &format!("{at}.append.record.value"),
                    &a.record.value,
                    Side::Request,
                    cx,
                )?,
                action: a.action,
            })
        }
        (None, Some(key)) if !key.is_empty() => Ok(QueryOp::Remove(key)),
        (None, Some(_)) => Err(ConfigError::at(format!("{at}.remove"), "must not be empty")),
        _ => Err(ConfigError::at(
            at,
            "set exactly one of `append` and `remove`",
        )),
    }
}
