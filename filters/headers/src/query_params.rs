//! `query_parameter_mutations`: adding and removing query parameters of `:path`.
//!
//! Matches Envoy's observable behaviour where it is sound: once any
//! parameter mutation is configured, parameters come out sorted by
//! (decoded) name, a bare `flag` comes out as `flag=`, and added values are
//! percent-encoded (all but `A-Z a-z 0-9 - . _ *`). Where Envoy is not sound
//! Portico differs: Envoy re-emits the parameters it did not touch decoded
//! (`a=x%26y` becomes `a=x&y`, a different query); Portico keeps them as sent.

use crate::ops::AppendAction;
use crate::template::{Source, Template};

#[derive(Debug)]
pub enum QueryOp {
    Append {
        key: String,
        value: Template,
        action: AppendAction,
    },
    Remove(String),
}

struct Param {
    /// Decoded name, for comparison and ordering.
    name: String,
    /// `name=value` as it goes on the wire.
    raw: String,
}

/// The new `:path` after `ops`, or `None` if there is nothing to do.
pub fn apply(
    path: &str,
    ops: &[QueryOp],
    source: &dyn Source,
    scratch: &mut String,
) -> Option<String> {
    if ops.is_empty() {
        return None;
    }
    let (base, query) = match path.split_once('?') {
        Some((b, q)) => (b, q),
        None => (path, ""),
    };
    // Envoy's parser turns every empty segment (`a&&b`, `?&a`) into an
    // empty parameter, which comes out as `=`, except the one after a final
    // `&` (or an empty query): it stops when nothing is left to read.
    let segments = query.strip_suffix('&').unwrap_or(query);
    let mut params: Vec<Param> = segments
        .split('&')
        .filter(|_| !query.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Param {
                name: percent_decode(k),
                raw: format!("{k}={v}"),
            }
        })
        .collect();
    for op in ops {
        match op {
            QueryOp::Remove(key) => params.retain(|p| p.name != *key),
            QueryOp::Append { key, value, action } => {
                let present = params.iter().any(|p| p.name == *key);
                let (overwrite, add) = match action {
                    AppendAction::AppendIfExistsOrAdd => (false, true),
                    AppendAction::AddIfAbsent => (false, !present),
                    AppendAction::OverwriteIfExistsOrAdd => (true, true),
                    AppendAction::OverwriteIfExists => (true, present),
                };
                if !add {
                    continue;
                }
                if overwrite {
                    params.retain(|p| p.name != *key);
                }
                value.render(source, scratch);
                let mut raw = String::with_capacity(key.len() + scratch.len() + 8);
                percent_encode_into(&mut raw, key);
                raw.push('=');
                percent_encode_into(&mut raw, scratch);
                params.push(Param {
                    name: key.clone(),
                    raw,
                });
            }
        }
    }
    // Stable: values of one name keep their order, as in Envoy's multimap.
    params.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut out = String::with_capacity(path.len() + 32);
    out.push_str(base);
    for (i, p) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&p.raw);
    }
    Some(out)
}

fn percent_encode_into(out: &mut String, s: &str) {
    use std::fmt::Write;
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::fixture::Fixed;
    use crate::template::Side;

    fn append(key: &str, value: &str, action: AppendAction) -> QueryOp {
        QueryOp::Append {
            key: key.into(),
            value: Template::parse(value, Side::Request, None).unwrap(),
            action,
        }
    }

    fn run(path: &str, ops: &[QueryOp]) -> String {
        apply(path, ops, &Fixed::default(), &mut String::new()).unwrap()
    }

    #[test]
    fn behaves_as_envoy_on_plain_parameters() {
        // Observed in Envoy 1.40's header_mutation with the same inputs.
        let ops = [
            append(
                "z",
                "a b&c/:@!$()*,;=+?#~é%REQ(x-in)%",
                AppendAction::AppendIfExistsOrAdd,
            ),
            QueryOp::Remove("r".into()),
        ];
        assert_eq!(
            run("/p?flag&b=a+b&e=&%41=1&r=1", &ops),
            "/p?%41=1&b=a+b&e=&flag=&z=a%20b%26c%2F%3A%40%21%24%28%29*%2C%3B%3D%2B%3F%23%7E%C3%A9o%2Fne"
        );
        assert_eq!(run("/p?r=1&r=2", &ops[1..]), "/p");
    }

    #[test]
    fn every_append_action() {
        let with = |action| run("/p?k=1&k=2&a=0", &[append("k", "new", action)]);
        assert_eq!(
            with(AppendAction::AppendIfExistsOrAdd),
            "/p?a=0&k=1&k=2&k=new"
        );
        assert_eq!(with(AppendAction::AddIfAbsent), "/p?a=0&k=1&k=2");
        assert_eq!(with(AppendAction::OverwriteIfExistsOrAdd), "/p?a=0&k=new");
        assert_eq!(with(AppendAction::OverwriteIfExists), "/p?a=0&k=new");
        let absent = |action| run("/p", &[append("k", "v", action)]);
        assert_eq!(absent(AppendAction::AddIfAbsent), "/p?k=v");
        assert_eq!(absent(AppendAction::OverwriteIfExists), "/p");
    }

    #[test]
    fn empty_segments_become_empty_parameters_as_in_envoy() {
        // Observed in Envoy 1.40 (difference found by the side-by-side test).
        let remove = [QueryOp::Remove("r".into())];
        assert_eq!(run("/p?=x&&a", &remove), "/p?=x&=&a=");
        assert_eq!(run("/p?&a", &remove), "/p?=&a=");
        assert_eq!(run("/p?a&", &remove), "/p?a=");
        assert_eq!(run("/p?a&&", &remove), "/p?=&a=");
        assert_eq!(run("/p?&", &remove), "/p?=");
        assert_eq!(run("/p?", &remove), "/p");
    }

    #[test]
    fn keeps_untouched_parameters_as_sent() {
        assert_eq!(
            run("/p?a=x%26y&b=1", &[QueryOp::Remove("b".into())]),
            "/p?a=x%26y"
        );
    }
}
