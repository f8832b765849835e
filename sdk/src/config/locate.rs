//! The JSON path a `serde_json` error is about, found from where it is.
//!
//! [`super::parse`] deserializes with `serde_json` alone: one copy of every
//! config type's `Deserialize`, where a path-tracking wrapper around the
//! deserializer (`serde_path_to_error`) cost a second, larger one (90 to
//! 140 KB of wasm per filter). Only when there is an error does this module
//! read the document again, up to the error's line and column, and name
//! the value there, as such a wrapper would have.
//!
//! The position says which value failed because of where `serde_json` puts
//! each kind of error:
//!
//! - a syntax error or an early end, where the text went wrong: inside a
//!   value (that value), or between a container's entries (the container);
//! - a wrong type or value, just after a scalar, or on the `{`/`[` of a
//!   container given where a scalar was expected;
//! - an unknown field or a duplicate one, on the `:` after its key;
//! - `missing field`, just after the object's `}`;
//! - an error returned by a `Deserialize` after it has read its value
//!   (a [`super::compile`] check, a checked string): positioned by the
//!   object or array around the value, at the `,` after the value, or just
//!   after the container's closing bracket when the value was its last.
//!
//! That last case is the one a position alone cannot always decide: `},`
//! after an object is where a check of that object lands when a `,`
//! follows it, and where a check of its last entry lands when the object
//! was the last entry of its own container. The error's relative path and
//! whether it came from a [`super::compile`] check (of an object, as a rule)
//! or from a scalar decide those.

/// How a carried [`super::ConfigError`] was raised, for the one ambiguous case.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Raised {
    /// By [`super::compile`], after reading a value of this kind (`{`,
    /// `[`) and this many entries, when it was a container.
    Compiled(Option<(u8, usize)>),
    /// By a `Deserialize` that read a value of this kind (`{`, `[`, or 0
    /// for a scalar) and this many entries.
    Read(u8, usize),
    /// By any other `Deserialize` ([`super::ConfigError::into_de`]), usually of a scalar.
    Other,
}

impl Raised {
    /// What starts a carried message, before the first `MARK`: a character
    /// for how, then the kind of value read and its number of entries if known.
    pub(crate) fn mark(self) -> String {
        let (how, read) = match self {
            Raised::Other => ('\u{2}', None),
            Raised::Compiled(read) => ('\u{3}', read),
            Raised::Read(open, n) => ('\u{4}', Some((open, n))),
        };
        match read {
            Some((open, n)) => format!("{how}{}{n}", if open == 0 { '0' } else { open as char }),
            None => how.to_string(),
        }
    }

    /// Reads what [`Raised::mark`] wrote.
    pub(crate) fn from_mark(mark: &str) -> Option<Raised> {
        let mut chars = mark.chars();
        let how = chars.next()?;
        let read = match chars.next() {
            Some(open @ ('{' | '[' | '0')) => {
                let open = if open == '0' { 0 } else { open as u8 };
                Some((open, chars.as_str().parse::<usize>().ok()?))
            }
            Some(_) => return None,
            None => None,
        };
        Some(match (how, read) {
            ('\u{2}', None) => Raised::Other,
            ('\u{3}', read) => Raised::Compiled(read),
            ('\u{4}', Some((open, n))) => Raised::Read(open, n),
            _ => return None,
        })
    }

    /// The kind and number of entries of the value, when known.
    fn read(self) -> Option<(u8, usize)> {
        match self {
            Raised::Compiled(read) => read,
            Raised::Read(open, n) => Some((open, n)),
            Raised::Other => None,
        }
    }
}

/// The path of the value `err` is about, `serde_json`'s error from reading
/// `doc`; `relative` is the path a carried [`super::ConfigError`] names below it.
pub(super) fn path(
    doc: &[u8],
    err: &serde_json::Error,
    message: &str,
    carried: Option<(Raised, &str)>,
) -> String {
    let Some(at) = offset(doc, err.line(), err.column()) else {
        // No position: an error about the whole document.
        return ".".into();
    };
    let syntax = !err.is_data();
    let stop = if err.is_eof() {
        doc.len()
    } else if syntax {
        // The byte serde_json tripped on, read or peeked, is the one before.
        at.saturating_sub(1)
    } else {
        at
    };
    let mut scan = Scan::to(doc, stop);
    let after_value = matches!(
        scan.state,
        State::After | State::Scalar | State::Str { key: false, .. }
    );
    if syntax && message.starts_with("expected value") && after_value {
        // Not where a value should start: an enum's `{"variant": ...}`
        // going on after its one entry, reported on the byte itself.
        scan = Scan::to(doc, at);
        return scan.path_of(scan.around());
    }
    let node = if syntax {
        scan.syntax(doc, stop, message)
    } else {
        scan.data(doc, stop, message, carried)
    };
    let path = scan.path_of(node);
    match node {
        // `"variant"` for an enum whose variant has content: named as
        // inside the variant, like any error in its content.
        Target::Node(n) if message.starts_with("invalid type: unit variant") => {
            let variant = scan
                .nodes
                .get(n)
                .filter(|n| n.open == 0)
                .and_then(|n| doc.get(n.start..n.end))
                .and_then(decode);
            match variant {
                Some(v) if path == "." => v,
                Some(v) => join(&path, &v),
                None => path,
            }
        }
        _ => path,
    }
}

/// serde_json's `(line, column)` as a byte offset: the column counts the
/// bytes of the line before the position.
fn offset(doc: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        let newline = doc.get(start..)?.iter().position(|b| *b == b'\n')?;
        start += newline + 1;
    }
    Some((start + column).min(doc.len()))
}

/// A value of the document: a scalar, or a container and its entries.
struct Node {
    /// Its path, as `Path` displays it: `a.b[2]`, empty for the root.
    path: String,
    /// `{` or `[` for a container, 0 for a scalar.
    open: u8,
    start: usize,
    /// One past its last byte, once read to the end.
    end: usize,
    parent: Option<usize>,
    /// Its key in the parent object.
    key: Option<String>,
    children: usize,
    last_child: Option<usize>,
}

/// What a path names.
#[derive(Clone, Copy)]
enum Target {
    Node(usize),
    /// The whole document.
    Root,
    /// The value that starts where the reading stopped.
    Next,
    /// The entry of the key just read.
    Key,
}

/// Where the reading stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Where a value starts: the root, after `:`, after `[` (`first`) or a `,` in an array.
    Value { first: bool },
    /// Where a key or the end of an object may come.
    Key,
    /// After a key, before its `:`.
    Colon,
    /// After a value.
    After,
    /// Inside a string: a key, or the value `Scan::token`.
    Str { key: bool, escape: bool },
    /// Inside a number or `true`/`false`/`null`, the value `Scan::token`.
    Scalar,
}

/// The document read up to an offset.
struct Scan {
    nodes: Vec<Node>,
    /// The open containers, innermost last.
    open: Vec<usize>,
    state: State,
    /// The key that ends the `Colon` state, or the last one read.
    key: String,
    key_start: usize,
    /// The string or scalar being read.
    token: Option<usize>,
}

impl Scan {
    fn to(doc: &[u8], stop: usize) -> Scan {
        let mut scan = Scan {
            nodes: Vec::new(),
            open: Vec::new(),
            state: State::Value { first: false },
            key: String::new(),
            key_start: 0,
            token: None,
        };
        for (i, &b) in doc.iter().enumerate().take(stop) {
            scan.byte(doc, i, b);
        }
        scan
    }

    fn byte(&mut self, doc: &[u8], i: usize, b: u8) {
        match self.state {
            State::Str { key, escape: true } => self.state = State::Str { key, escape: false },
            State::Str { key, escape: false } => match b {
                b'\\' => self.state = State::Str { key, escape: true },
                b'"' if key => {
                    // The key as serde_json decodes it (escapes and all).
                    let raw = doc.get(self.key_start..=i).unwrap_or_default();
                    self.key = decode(raw).unwrap_or_default();
                    self.state = State::Colon;
                }
                b'"' => self.finish_token(i + 1),
                _ => {}
            },
            State::Scalar => {
                if matches!(b, b',' | b'}' | b']' | b':' | b'"' | b'[' | b'{') || is_space(b) {
                    self.finish_token(i);
                    self.byte(doc, i, b);
                }
            }
            _ if is_space(b) => {}
            State::Value { .. } => match b {
                b'{' | b'[' => {
                    let node = self.push(i, b);
                    self.open.push(node);
                    self.state = if b == b'{' {
                        State::Key
                    } else {
                        State::Value { first: true }
                    };
                }
                b']' if self.state == (State::Value { first: true }) => self.close(i),
                b'"' => {
                    self.token = Some(self.push(i, 0));
                    self.state = State::Str {
                        key: false,
                        escape: false,
                    };
                }
                _ => {
                    self.token = Some(self.push(i, 0));
                    self.state = State::Scalar;
                }
            },
            State::Key => match b {
                b'"' => {
                    self.key_start = i;
                    self.state = State::Str {
                        key: true,
                        escape: false,
                    };
                }
                b'}' => self.close(i),
                _ => {}
            },
            State::Colon => {
                if b == b':' {
                    self.state = State::Value { first: false };
                }
            }
            State::After => match b {
                b',' => {
                    self.state = match self.top_open() {
                        b'{' => State::Key,
                        _ => State::Value { first: false },
                    }
                }
                b'}' | b']' => self.close(i),
                _ => {}
            },
        }
    }

    /// The innermost open container's bracket, 0 at the root.
    fn top_open(&self) -> u8 {
        self.open
            .last()
            .and_then(|n| self.nodes.get(*n))
            .map_or(0, |n| n.open)
    }

    /// A new value at `start`, the next entry of the innermost container.
    fn push(&mut self, start: usize, open: u8) -> usize {
        let (path, key) = self.next_path();
        let parent = self.open.last().copied();
        self.nodes.push(Node {
            path,
            open,
            start,
            end: usize::MAX,
            parent,
            key,
            children: 0,
            last_child: None,
        });
        self.nodes.len() - 1
    }

    /// The path (and key) the next entry of the innermost container gets.
    fn next_path(&self) -> (String, Option<String>) {
        let Some(parent) = self.open.last().and_then(|n| self.nodes.get(*n)) else {
            return (String::new(), None);
        };
        if parent.open == b'{' {
            (join(&parent.path, &self.key), Some(self.key.clone()))
        } else {
            (format!("{}[{}]", parent.path, parent.children), None)
        }
    }

    fn finish_token(&mut self, end: usize) {
        if let Some(node) = self.token.take() {
            self.finish(node, end);
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(node) = self.open.pop() {
            self.finish(node, i + 1);
        }
    }

    /// `node` read to `end`: the last entry of its container so far.
    fn finish(&mut self, node: usize, end: usize) {
        let parent = self.nodes.get_mut(node).and_then(|n| {
            n.end = end;
            n.parent
        });
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(p)) {
            p.children += 1;
            p.last_child = Some(node);
        }
        self.state = State::After;
    }

    /// The innermost open container, `None` at the root.
    fn innermost(&self) -> Option<usize> {
        self.open.last().copied()
    }

    fn around(&self) -> Target {
        self.innermost().map_or(Target::Root, Target::Node)
    }

    fn path_of(&self, target: Target) -> String {
        let path = match target {
            Target::Node(n) => self.nodes.get(n).map(|n| n.path.clone()),
            Target::Root => None,
            Target::Next => Some(self.next_path().0),
            Target::Key => Some(join(
                self.innermost()
                    .and_then(|n| self.nodes.get(n))
                    .map_or("", |n| &n.path),
                &self.key,
            )),
        };
        match path {
            Some(p) if !p.is_empty() => p,
            _ => ".".into(),
        }
    }

    /// The path for a syntax error (or an early end) met at `stop`.
    fn syntax(&self, doc: &[u8], stop: usize, message: &str) -> Target {
        let next = doc.get(stop).copied();
        match self.state {
            State::Str { key: false, .. } => self.token_target(),
            State::Scalar => {
                let token = self.token.and_then(|n| self.nodes.get(n));
                let text = token
                    .and_then(|n| doc.get(n.start..stop))
                    .unwrap_or_default();
                // serde_json reads a number or literal while it can, then
                // the container goes on: a complete one followed by junk
                // is the container's error, a broken one the value's.
                let broken = !complete_scalar(text)
                    || (matches!(text, b"0" | b"-0") && next.is_some_and(|b| b.is_ascii_digit()))
                    || message.starts_with("number out of range");
                if broken {
                    self.token_target()
                } else {
                    self.around()
                }
            }
            State::Value { first } if self.top_open() == b'[' => {
                // `[` then the end, or `,` then `]` or the end: the array's.
                let array_end = match next {
                    None => true,
                    Some(b']') => !first,
                    Some(_) => false,
                };
                if array_end {
                    self.around()
                } else {
                    Target::Next
                }
            }
            State::Value { .. } => Target::Next,
            _ => self.around(),
        }
    }

    fn token_target(&self) -> Target {
        self.token.map_or(Target::Root, Target::Node)
    }

    /// The path for an error a `Deserialize` returned, at `at`.
    fn data(
        &self,
        doc: &[u8],
        at: usize,
        message: &str,
        carried: Option<(Raised, &str)>,
    ) -> Target {
        let next = doc.get(at).copied();
        match self.state {
            State::Colon => {
                // On the `:` after a key: about the key, or about its object.
                if message.starts_with("unknown variant") || message.starts_with("duplicate field")
                {
                    self.around()
                } else {
                    Target::Key
                }
            }
            State::Value { first } => {
                let wrong_container = matches!(next, Some(b'{' | b'['))
                    && (message.starts_with("invalid type: map")
                        || message.starts_with("invalid type: sequence"));
                if wrong_container || first || self.top_open() != b'[' {
                    Target::Next
                } else {
                    // An array moves past the `,` after an entry before it
                    // reports that entry's error.
                    self.innermost()
                        .and_then(|n| self.nodes.get(n))
                        .and_then(|n| n.last_child)
                        .map_or(self.around(), Target::Node)
                }
            }
            State::Str { .. } | State::Scalar => self.token_target(),
            State::Key => self.around(),
            State::After => {
                let last = match self.innermost() {
                    Some(n) => self.nodes.get(n).and_then(|n| n.last_child),
                    None => self.nodes.first().map(|_| 0),
                };
                let Some((a, node)) = last.and_then(|a| Some((a, self.nodes.get(a)?))) else {
                    return self.around();
                };
                if node.open == 0 || node.end != at {
                    return Target::Node(a);
                }
                if message.starts_with("missing field") || message.starts_with("invalid length") {
                    return Target::Node(a);
                }
                let Some(b) = node.last_child else {
                    return Target::Node(a);
                };
                Target::Node(self.ambiguous(a, b, next, carried))
            }
        }
    }

    /// Just after container `a`'s closing bracket, an error about `a` or
    /// about its last entry `b`.
    fn ambiguous(
        &self,
        a: usize,
        b: usize,
        next: Option<u8>,
        carried: Option<(Raised, &str)>,
    ) -> usize {
        let around = self.innermost().and_then(|n| self.nodes.get(n));
        let around_open = around.map_or(0, |n| n.open);
        let around_in_array = around
            .and_then(|n| n.parent)
            .and_then(|p| self.nodes.get(p))
            .is_some_and(|p| p.open == b'[');
        // `a` itself is reported here only when the object around it stopped
        // at a `,` it does not take, or when `a` is an enum variant's content
        // in an array (`[{"variant": {...}}]`), whose `}` the array refuses.
        let could_be_a = (next == Some(b',') && around_open == b'{')
            || (next == Some(b'}') && around_open == b'{' && around_in_array);
        if !could_be_a {
            return b;
        }
        let (raised, relative) = carried.unwrap_or((Raised::Other, "."));
        if let Some(first) = first_segment(relative) {
            match (self.has_child(a, first), self.has_child(b, first)) {
                (true, false) => return a,
                (false, true) => return b,
                _ => {}
            }
        }
        let kind = |n: usize| self.nodes.get(n).map(|n| n.open);
        if let Some((open, entries)) = raised.read() {
            let fits = |n: usize| {
                self.nodes
                    .get(n)
                    .is_some_and(|n| n.open == open && (open == 0 || n.children == entries))
            };
            match (fits(a), fits(b)) {
                (true, false) => return a,
                (false, true) => return b,
                _ => {}
            }
        }
        // A [`super::compile`] check is of a raw struct, an object: `a`
        // when only `a` is one. Otherwise the last entry: a checked
        // scalar, or a compiled object that was the last of a map or list
        // of them, is likelier than a value whose own last entry is an object.
        if matches!(raised, Raised::Compiled(_)) && kind(a) == Some(b'{') && kind(b) != Some(b'{') {
            a
        } else {
            b
        }
    }

    fn has_child(&self, node: usize, segment: Segment<'_>) -> bool {
        let Some(n) = self.nodes.get(node) else {
            return false;
        };
        match segment {
            Segment::Key(key) => {
                n.open == b'{'
                    && self
                        .nodes
                        .iter()
                        .any(|c| c.parent == Some(node) && c.key.as_deref() == Some(key))
            }
            Segment::Index(i) => n.open == b'[' && i < n.children,
        }
    }
}

/// The first segment of a relative path: `a.b` → `a`, `[2].c` → `[2]`.
#[derive(Clone, Copy)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn first_segment(path: &str) -> Option<Segment<'_>> {
    if path.is_empty() || path == "." {
        return None;
    }
    if let Some(rest) = path.strip_prefix('[') {
        let digits = rest.split(']').next()?;
        return digits.parse().ok().map(Segment::Index);
    }
    let end = path.find(['.', '[']).unwrap_or(path.len());
    path.get(..end).map(Segment::Key)
}

/// A JSON string as serde_json decodes it, escapes and all (through the
/// instantiation every config's `String` fields already use).
fn decode(raw: &[u8]) -> Option<String> {
    use serde::Deserialize;
    String::deserialize(&mut serde_json::Deserializer::from_slice(raw)).ok()
}

fn join(outer: &str, key: &str) -> String {
    if outer.is_empty() {
        key.to_string()
    } else {
        format!("{outer}.{key}")
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\t' | b'\r')
}

/// Whether `text` is a whole JSON number or literal.
fn complete_scalar(text: &[u8]) -> bool {
    if matches!(text, b"true" | b"false" | b"null") {
        return true;
    }
    let mut rest = text.strip_prefix(b"-").unwrap_or(text);
    let digits = |s: &mut &[u8]| {
        let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
        *s = s.get(n..).unwrap_or_default();
        n
    };
    if digits(&mut rest) == 0 {
        return false;
    }
    if let Some(after) = rest.strip_prefix(b".") {
        rest = after;
        if digits(&mut rest) == 0 {
            return false;
        }
    }
    if let Some(after) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        rest = after;
        rest = rest
            .strip_prefix(b"+")
            .or_else(|| rest.strip_prefix(b"-"))
            .unwrap_or(rest);
        if digits(&mut rest) == 0 {
            return false;
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use crate::config::{compile, parse, ConfigError, HeaderName, Unsupported};
    use serde::{Deserialize, Deserializer};
    use std::collections::BTreeMap;

    crate::unsupported_reasons! {
        No = "not here";
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: HeaderName,
        #[serde(default)]
        tag: Option<String>,
    }

    /// A compiled object whose last entry is an object.
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Checked(BTreeMap<String, u32>);

    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            #[derive(Deserialize)]
            struct Raw {
                n: u32,
                #[serde(default)]
                #[allow(dead_code)]
                more: Option<BTreeMap<String, u32>>,
            }
            compile(d, |raw: Raw| {
                if raw.n == 0 {
                    return Err(ConfigError::here("n is 0"));
                }
                Ok(Checked(BTreeMap::new()))
            })
        }
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Op {
        Set(Inner),
        Drop(String),
        Odd(Unsupported<No>),
        Plain,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        checked: BTreeMap<String, Checked>,
        #[serde(default)]
        ops: Vec<Op>,
        #[serde(default)]
        odd: Option<Unsupported<No>>,
        #[serde(default)]
        last: u8,
    }

    fn path(json: &str) -> String {
        match parse::<Doc>(json.as_bytes()) {
            Ok(_) => "<accepted>".into(),
            Err(e) => e.path,
        }
    }

    #[test]
    fn each_kind_of_error_is_named_where_it_is() {
        let cases = [
            // Syntax and early ends: the value, or the container around.
            (r#"{"inner": {"name": tru}}"#, "inner.name"),
            (r#"{"inner": {"name": "a" "tag": "b"}}"#, "inner"),
            (r#"{"ops": [{"drop": "a"}, ]}"#, "ops"),
            (r#"{"ops": [{"drop": "a"}, x]}"#, "ops[1]"),
            (r#"{"inner": {"name": "a", "tag": "#, "inner.tag"),
            (r#"{"inner": {"name": "a""#, "inner"),
            (r#"{"last": 01}"#, "last"),
            (r#"{"last": 1x}"#, "."),
            // Types and values, at the value.
            (r#"{"last": 300}"#, "last"),
            (r#"{"inner": []}"#, "inner"),
            (r#"{"ops": [{"drop": 5}]}"#, "ops[0].drop"),
            // Fields and variants.
            (r#"{"inner": {"name": "a", "nme": 1}}"#, "inner.nme"),
            (r#"{"inner": {"name": "a", "name": "b"}}"#, "inner"),
            (r#"{"inner": {"tag": "b"}}"#, "inner"),
            (r#"{"ops": [{"sett": {}}]}"#, "ops[0]"),
            (r#"{"ops": ["sett"]}"#, "ops[0]"),
            (r#"{"ops": ["set"]}"#, "ops[0].set"),
            (r#"{"ops": [{"plain": null, "x": 1}]}"#, "ops[0]"),
            // Checks after reading: a string, a compiled object, an
            // unsupported field, last or not, compact or spaced.
            (r#"{"inner": {"name": "a b"}, "last": 1}"#, "inner.name"),
            (r#"{"inner": {"name": "a b", "tag": "t"}}"#, "inner.name"),
            (r#"{"inner":{"name":"a b"},"last":1}"#, "inner.name"),
            (
                r#"{"checked": {"a": {"n": 0, "more": {"x": 1}}, "b": {"n": 1}}}"#,
                "checked.a",
            ),
            (
                r#"{"checked":{"a":{"n":0},"b":{"n":1}},"last":1}"#,
                "checked.a",
            ),
            (
                r#"{"checked":{"a":{"n":1},"b":{"n":0}},"last":1}"#,
                "checked.b",
            ),
            (
                r#"{"ops": [{"set": {"name": "a b"}}, {"drop": "x"}]}"#,
                "ops[0].set.name",
            ),
            (r#"{"ops":[{"odd":{}},{"odd":[1]}]}"#, "ops[0].odd"),
            (r#"{"odd": [{"a": 1}], "last": 1}"#, "odd"),
            (r#"{"odd": {"a": {}}, "last": 1}"#, "odd"),
            (r#"{"odd": 5}"#, "odd"),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(json, want)| {
                let got = path(json);
                (got != *want).then(|| format!("{json}: {got}, not {want}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn keys_are_named_decoded() {
        assert_eq!(path(r#"{"in\u0065r": 1}"#), "iner");
        assert_eq!(
            path("{\n  \"inner\": {\n    \"name\": \"a b\"\n  }\n}"),
            "inner.name"
        );
    }
}
