//! Header operations, compiled, and how each one changes a header map.

use crate::names;
use crate::template::{Source, Template};
use portico::config::{ConfigError, HeaderValue, SearchRegex, StringMatcher, Substitution};
use portico::Headers;
use serde::Deserialize;

/// `HeaderValueOption.HeaderAppendAction`, with Envoy's meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppendAction {
    /// Adds a value; existing ones stay.
    #[default]
    AppendIfExistsOrAdd,
    /// Adds only if the header is absent.
    AddIfAbsent,
    /// Replaces every value, or adds.
    OverwriteIfExistsOrAdd,
    /// Replaces every value; does nothing if absent.
    OverwriteIfExists,
}

#[derive(Debug)]
pub enum Op {
    Append {
        name: String,
        value: Template,
        action: AppendAction,
        keep_empty: bool,
    },
    Remove(String),
    RemoveOnMatch(StringMatcher),
    Rename {
        from: String,
        to: String,
    },
    Copy {
        from: String,
        to: String,
    },
    RewritePath {
        regex: SearchRegex,
        replacement: Substitution,
    },
    RewriteHost(Template),
    SetStatus(String),
}

/// A substituted value longer than this is dropped: no client header that
/// size survives Envoy's default 60 KiB header limit together with others.
pub const MAX_VALUE_LEN: usize = 16 * 1024;

/// What applying a list of operations did, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub applied: u64,
    pub dropped: u64,
}

/// What `rewrite_path.substitution` may be, besides Envoy's syntax: groups
/// the regex has, and nothing that would end the path or split the header.
pub fn check_substitution(regex: &SearchRegex, with: &Substitution) -> Result<(), ConfigError> {
    let (n, groups) = (with.highest_group(), regex.groups());
    if n > groups {
        return Err(ConfigError::at(
            "substitution",
            format!("\\{n} refers to a group the regex does not have ({groups} groups)"),
        ));
    }
    if !HeaderValue::is_valid(with.as_str()) || with.as_str().contains('?') {
        return Err(ConfigError::at(
            "substitution",
            "must not contain `?`, CR, LF or NUL (the query string is kept as it is)",
        ));
    }
    Ok(())
}

impl Op {
    /// Applies the operation to `headers`. `scratch` is a reusable buffer
    /// for rendered values.
    pub fn apply(
        &self,
        headers: &Headers<'_>,
        source: &dyn Source,
        scratch: &mut String,
        tally: &mut Tally,
    ) {
        match self {
            Op::Append {
                name,
                value,
                action,
                keep_empty,
            } => {
                let rendered = match value.as_literal() {
                    Some(lit) => lit,
                    None => {
                        value.render(source, scratch);
                        if !acceptable(name, scratch, tally) {
                            return;
                        }
                        scratch.as_str()
                    }
                };
                if rendered.is_empty() && !keep_empty {
                    return;
                }
                let done = match action {
                    AppendAction::AppendIfExistsOrAdd => {
                        headers.add(name, rendered);
                        true
                    }
                    AppendAction::AddIfAbsent => {
                        let absent = !headers.contains(name);
                        if absent {
                            headers.add(name, rendered);
                        }
                        absent
                    }
                    AppendAction::OverwriteIfExists => {
                        let present = headers.contains(name);
                        if present {
                            headers.set(name, rendered);
                        }
                        present
                    }
                    AppendAction::OverwriteIfExistsOrAdd => {
                        headers.set(name, rendered);
                        true
                    }
                };
                tally.applied += u64::from(done);
            }
            Op::Remove(name) => {
                if headers.contains(name) {
                    headers.remove(name);
                    tally.applied += 1;
                }
            }
            Op::RemoveOnMatch(matcher) => {
                let mut doomed: Vec<String> = Vec::new();
                for name in headers.names() {
                    // Pseudo-headers are never removed: without `:path` or
                    // `:status` Envoy cannot forward the message at all. Nor
                    // are `host` and the framing headers (see `names::protected`).
                    if !names::is_pseudo(&name)
                        && names::protected(&name).is_none()
                        && matcher.matches(&name)
                        && !doomed.contains(&name)
                    {
                        doomed.push(name);
                    }
                }
                for name in &doomed {
                    headers.remove(name);
                }
                tally.applied += doomed.len() as u64;
            }
            Op::Rename { from, to } => {
                let values = headers.get_all(from);
                if values.is_empty() {
                    return;
                }
                headers.remove(from);
                replace_all(headers, to, &values);
                tally.applied += 1;
            }
            Op::Copy { from, to } => {
                let values = headers.get_all(from);
                if values.is_empty() {
                    return;
                }
                replace_all(headers, to, &values);
                tally.applied += 1;
            }
            Op::RewritePath { regex, replacement } => {
                let Some(path) = headers.path() else { return };
                let (only, query) = match path.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (path.as_str(), None),
                };
                let rewritten = regex.replace_all(only, replacement);
                if rewritten == only {
                    return;
                }
                scratch.clear();
                scratch.push_str(&rewritten);
                if !scratch.starts_with('/') {
                    scratch.insert(0, '/');
                }
                if let Some(q) = query {
                    scratch.push('?');
                    scratch.push_str(q);
                }
                headers.set(":path", scratch);
                tally.applied += 1;
            }
            Op::RewriteHost(value) => {
                value.render(source, scratch);
                if scratch.is_empty() || !acceptable(":authority", scratch, tally) {
                    return;
                }
                headers.set(":authority", scratch);
                tally.applied += 1;
            }
            Op::SetStatus(status) => {
                headers.set(":status", status);
                tally.applied += 1;
            }
        }
    }
}

fn replace_all(headers: &Headers<'_>, name: &str, values: &[String]) {
    let mut values = values.iter();
    if let Some(first) = values.next() {
        headers.set(name, first);
    }
    for v in values {
        headers.add(name, v);
    }
}

/// A rendered value may carry whatever a client sent; one that would break
/// the header block, or is absurdly long, is dropped rather than forwarded.
fn acceptable(name: &str, value: &str, tally: &mut Tally) -> bool {
    let reason = if !HeaderValue::is_valid(value) {
        "it contains CR, LF or NUL"
    } else if value.len() > MAX_VALUE_LEN {
        "it is longer than 16 KiB"
    } else {
        return true;
    };
    tally.dropped += 1;
    // The value itself is not logged: it may be a credential.
    log::warn!("headers: not setting {name}: the substituted value was dropped because {reason}");
    false
}
