//! Typed filter configuration: JSON in, a Rust value or an error that names the JSON path.
//!
//! Envoy hands the filter the `configuration` string of `envoy.filters.http.wasm`.
//! [`parse`] turns it into the plugin's `Config` type; on failure the message names
//! where in the document the problem is (`rules[2].match.prefix: invalid type: ...`),
//! which is what Envoy prints when it refuses the filter.
//!
//! Envoy's vocabulary is here, each type checked inside its `Deserialize`, so
//! a mistake is refused where it is written: [`HeaderName`], [`HeaderValue`],
//! [`StatPrefix`], [`Duration`], [`NonEmptyString`], [`Regex`] and
//! [`SearchRegex`], [`StringMatcher`], [`RouteMatch`], and [`Unsupported`]
//! for the Envoy fields Portico knows and refuses.
//!
//! A filter's own checks go inside `Deserialize` too: derive it for a raw
//! form and turn that into the checked one with [`compile`]; a
//! [`ConfigError`] returned there names a path *below* the value being read
//! (`ConfigError::at("token_bucket.max_tokens", ...)`), and [`parse`] puts
//! the path of that value in front.

/// The impls a validated string type shares: `Deserialize` through `$from`
/// (`String -> Result<Self, ConfigError>`), `Display`, `Deref<Target = str>`,
/// comparisons with `str`, and back into a `String`.
macro_rules! string_type {
    ($name:ident, $from:expr) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                $from(text).map_err($crate::config::ConfigError::into_de)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

mod duration;
mod header;
mod locate;
mod non_empty;
mod probe;
mod regex;
pub mod route_match;
mod stat_prefix;
pub mod string_match;
mod unsupported;

pub use duration::Duration;
pub use header::{AnyHeaderName, HeaderName, HeaderValue};
pub use non_empty::NonEmptyString;
pub use regex::{Regex, RegexMatcher, SearchRegex, Substitution};
pub use route_match::RouteMatch;
pub use stat_prefix::StatPrefix;
pub use string_match::StringMatcher;
pub use unsupported::{Unsupported, UnsupportedTrue, Why};

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// Why a configuration was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// A JSON path such as `providers.main.audiences[1]`; `.` for the whole
    /// document. Inside a `Deserialize`, relative to the value being read.
    pub path: String,
    pub message: String,
}

impl ConfigError {
    /// An error at `path`. Use the JSON names of the fields, as the user wrote them.
    pub fn at(path: impl Into<String>, message: impl fmt::Display) -> Self {
        ConfigError {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// An error about the value being read itself (path `.`).
    pub fn here(message: impl fmt::Display) -> Self {
        ConfigError::at(".", message)
    }

    /// This error as a deserializer's, for a `Deserialize` impl: [`parse`]
    /// reports it at the path of the value being deserialized, followed by
    /// this error's own (relative) path.
    pub fn into_de<E: serde::de::Error>(self) -> E {
        self.carried(locate::Raised::Other)
    }

    /// This error as a deserializer's, marked with how it was raised.
    pub(crate) fn carried<E: serde::de::Error>(self, raised: locate::Raised) -> E {
        E::custom(format_args!(
            "{}{MARK}{}{MARK}{}{MARK}",
            raised.mark(),
            self.path,
            self.message
        ))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Deserializes the raw form `R` and checks it into `T` with `check`; the
/// body of a `Deserialize` impl for a compiled config type:
///
/// ```
/// # use portico::config::{self, ConfigError};
/// # use serde::{Deserialize, Deserializer};
/// #[derive(Deserialize)]
/// struct RawRange { min: u32, max: u32 }
/// pub struct Range { min: u32, max: u32 }
///
/// impl<'de> Deserialize<'de> for Range {
///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
///         config::compile(d, |raw: RawRange| {
///             if raw.max < raw.min {
///                 return Err(ConfigError::at("max", "must not be below `min`"));
///             }
///             Ok(Range { min: raw.min, max: raw.max })
///         })
///     }
/// }
/// let err = config::parse::<Vec<Range>>(br#"[{"min": 2, "max": 1}]"#).err().unwrap();
/// assert_eq!(err.path, "[0].max");
/// assert!(err.message.starts_with("must not be below `min`"));
/// ```
pub fn compile<'de, D, R, T>(
    deserializer: D,
    check: impl FnOnce(R) -> Result<T, ConfigError>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    R: Deserialize<'de>,
{
    let entries = std::cell::Cell::new(None);
    let raw = R::deserialize(probe::Counting {
        de: deserializer,
        entries: &entries,
    })?;
    check(raw).map_err(|err| err.carried(locate::Raised::Compiled(entries.get())))
}

/// Separates the parts of a message carried by [`ConfigError::into_de`]:
/// `how MARK path MARK message MARK`, where `how` says how it was raised
/// ([`locate::Raised::mark`]) and the closing MARK keeps serde_json from
/// reading a position out of the message itself.
const MARK: char = '\u{1}';

/// Joins JSON path segments: `join_path("rules[0]", "match")` is `rules[0].match`,
/// `join_path("audiences", "[1]")` is `audiences[1]`.
pub(crate) fn join_path(outer: &str, inner: &str) -> String {
    if outer.is_empty() || outer == "." {
        inner.to_string()
    } else if inner.is_empty() || inner == "." {
        outer.to_string()
    } else if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
    }
}

/// Parses a filter configuration. An absent or blank configuration is read as `{}`,
/// so a config type whose fields all have defaults needs none.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let _document = DocumentGuard::enter(text);
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = T::deserialize(&mut de).map_err(|err| refusal(text, &err))?;
    de.end()
        .map_err(|err| ConfigError::at(".", describe_json_error(&err)))?;
    Ok(value)
}

/// The [`ConfigError`] for `err`, met reading `doc`.
fn refusal(doc: &[u8], err: &serde_json::Error) -> ConfigError {
    let described = describe_json_error(err);
    let carried = described.split_once(MARK).and_then(|(mark, rest)| {
        let raised = locate::Raised::from_mark(mark)?;
        let (relative, rest) = rest.split_once(MARK)?;
        let (message, position) = rest.split_once(MARK)?;
        Some((raised, relative, message, position))
    });
    let Some((raised, relative, message, position)) = carried else {
        return ConfigError::at(locate::path(doc, err, &described, None), described);
    };
    let path = locate::path(doc, err, message, Some((raised, relative)));
    // The closing MARK kept serde_json from reading a position out of the
    // message itself, as it does from one that ends "at line L column C"
    // (a nested JSON error quoted): that one is what the message shows.
    let message = match own_position(message) {
        Some((head, line, column)) if line > 0 => format!("{head} (line {line}, column {column})"),
        Some((head, _, _)) => format!("{head}{position}"),
        None => format!("{message}{position}"),
    };
    ConfigError::at(join_path(&path, relative), message)
}

/// A message's own trailing `" at line L column C"`, read as serde_json
/// reads it from a custom error's message: the text before it, L and C.
fn own_position(message: &str) -> Option<(&str, usize, usize)> {
    let cut = message.rfind(" at line ")?;
    let head = message.get(..cut)?;
    let rest = message.get(cut + " at line ".len()..)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (line, rest) = rest.split_at_checked(digits)?;
    let column = rest.strip_prefix(" column ")?;
    if !column.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head, line.parse().ok()?, column.parse().ok()?))
}

fn describe_json_error(err: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; keep the position but make it read as a note.
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) if err.line() > 0 => {
            let head = text.get(..cut).unwrap_or(&text);
            format!("{head} (line {}, column {})", err.line(), err.column())
        }
        _ => text,
    }
}

/// The document [`parse`] is reading, for [`with_document`].
struct Document {
    bytes: Vec<u8>,
    value: std::cell::OnceCell<Option<serde_json::Value>>,
}

thread_local! {
    static DOCUMENT: RefCell<Option<Rc<Document>>> = const { RefCell::new(None) };
}

/// Sets the current document for the duration of one [`parse`], restoring
/// the outer one (a `parse` inside a `Deserialize`) when dropped.
struct DocumentGuard(Option<Rc<Document>>);

impl DocumentGuard {
    fn enter(bytes: &[u8]) -> Self {
        let document = Rc::new(Document {
            bytes: bytes.to_vec(),
            value: std::cell::OnceCell::new(),
        });
        DocumentGuard(DOCUMENT.with(|d| d.replace(Some(document))))
    }
}

impl Drop for DocumentGuard {
    fn drop(&mut self) {
        let outer = self.0.take();
        DOCUMENT.with(|d| *d.borrow_mut() = outer);
    }
}

/// Runs `f` on the whole document that [`parse`] is reading, for a value
/// that refers to another part of the configuration: a rule that names a
/// provider can be checked where the name is written, so the error names
/// that path, whichever of the two comes first in the JSON. `None` outside
/// `parse`, where the caller must check later.
pub fn with_document<R>(f: impl FnOnce(&serde_json::Value) -> R) -> Option<R> {
    let document = DOCUMENT.with(|d| d.borrow().clone())?;
    let value = document
        .value
        .get_or_init(|| serde_json::from_slice(&document.bytes).ok());
    value.as_ref().map(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::Error as _;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Provider {
        #[allow(dead_code)]
        audiences: Vec<String>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[allow(dead_code)]
        providers: std::collections::BTreeMap<String, Provider>,
        #[serde(default)]
        #[allow(dead_code)]
        timeout: Option<Duration>,
    }

    #[test]
    fn error_names_the_json_path() {
        let err = parse::<Doc>(br#"{"providers": {"main": {"audiences": ["a", 1]}}}"#).unwrap_err();
        assert_eq!(err.path, "providers.main.audiences[1]");
        assert!(err.message.contains("expected a string"), "{}", err.message);
        assert!(err.to_string().starts_with("providers.main.audiences[1]: "));
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse::<Doc>(br#"{"providers": {}, "provders": {}}"#).unwrap_err();
        assert_eq!(err.path, "provders");
        assert!(err.message.contains("unknown field `provders`"), "{err}");
    }

    #[test]
    fn missing_field_and_syntax_errors() {
        let err = parse::<Doc>(br#"{"providers": {"m": {}}}"#).unwrap_err();
        assert_eq!(err.path, "providers.m");
        assert!(err.message.contains("missing field `audiences`"), "{err}");

        let err = parse::<Doc>(br#"{"providers": {"#).unwrap_err();
        assert!(err.message.contains("EOF"), "{err}");

        let err = parse::<Doc>(br#"{"providers": {}} trailing"#).unwrap_err();
        assert_eq!(err.path, ".");
    }

    #[test]
    fn blank_config_reads_as_empty_object() {
        #[derive(Deserialize, Default)]
        struct AllDefault {
            #[serde(default)]
            name: String,
        }
        assert_eq!(parse::<AllDefault>(b"  \n").unwrap().name, "");
        assert_eq!(parse::<Doc>(b"").unwrap_err().path, ".");
    }

    /// A compiled type whose check reports below itself.
    struct Range;

    #[derive(Deserialize)]
    struct RawRange {
        min: u32,
        max: u32,
    }

    impl<'de> Deserialize<'de> for Range {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            compile(d, |raw: RawRange| {
                if raw.max < raw.min {
                    return Err(ConfigError::at("max", "must not be below `min`"));
                }
                if raw.min == 0 {
                    return Err(ConfigError::here("an empty range"));
                }
                Ok(Range)
            })
        }
    }

    #[test]
    fn compile_errors_land_below_the_value() {
        #[derive(Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            ranges: std::collections::BTreeMap<String, Vec<Range>>,
        }
        let err =
            parse::<Outer>(br#"{"ranges": {"a": [{"min": 1, "max": 2}, {"min": 3, "max": 2}]}}"#)
                .err()
                .unwrap();
        assert_eq!(err.path, "ranges.a[1].max");
        assert!(err.message.starts_with("must not be below `min`"), "{err}");
        let err = parse::<Outer>(br#"{"ranges": {"a": [{"min": 0, "max": 2}]}}"#)
            .err()
            .unwrap();
        assert_eq!(err.path, "ranges.a[0]");
        assert!(err.message.starts_with("an empty range"), "{err}");
        // At the top level, the relative path is the whole path.
        let err = parse::<Range>(br#"{"min": 3, "max": 2}"#).err().unwrap();
        assert_eq!(err.to_string(), "max: must not be below `min`");
    }

    #[test]
    fn the_document_is_readable_during_parse_only() {
        struct SeesDocument(bool);
        impl<'de> Deserialize<'de> for SeesDocument {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                let known =
                    with_document(|doc| doc.get("names").and_then(|n| n.get(&name)).is_some());
                match known {
                    Some(true) => Ok(SeesDocument(true)),
                    Some(false) => Err(D::Error::custom(format!("no name {name:?}"))),
                    None => Ok(SeesDocument(false)),
                }
            }
        }
        #[derive(Deserialize)]
        struct Doc {
            refs: Vec<SeesDocument>,
            #[allow(dead_code)]
            names: serde_json::Value,
        }
        // The reference comes before what it refers to.
        let doc = parse::<Doc>(br#"{"refs": ["a"], "names": {"a": 1}}"#).unwrap();
        assert!(doc.refs.iter().all(|r| r.0));
        let err = parse::<Doc>(br#"{"refs": ["a", "b"], "names": {"a": 1}}"#)
            .err()
            .unwrap();
        assert_eq!(err.path, "refs[1]");
        let outside: Doc = serde_json::from_str(r#"{"refs": ["a"], "names": {}}"#).unwrap();
        assert!(!outside.refs.iter().any(|r| r.0));
        assert!(with_document(|_| ()).is_none());
    }
}
