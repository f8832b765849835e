//! Envoy fields Portico knows and does not support: refused where they are
//! written, with the reason, never ignored and never "unknown field".

use super::locate::Raised;
use super::ConfigError;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

/// Why a field is not supported: the message a user reads after the
/// field's path. Declare reasons with [`unsupported_reasons!`](crate::unsupported_reasons).
pub trait Why {
    const WHY: &'static str;
}

enum Never {}

/// An Envoy field Portico refuses, whatever its value: the config is
/// refused at the field's path with `W::WHY`. As a field, write
/// `#[serde(default)] name: Option<Unsupported<W>>` (after parsing it is
/// always `None`; `null` reads as absent, as in Envoy's JSON); as an enum
/// variant's content, `Variant(Unsupported<W>)`. It has no value at all,
/// so a `match` disposes of it with [`Unsupported::absurd`].
pub struct Unsupported<W>(Never, PhantomData<W>);

impl<W> Unsupported<W> {
    /// There is no `Unsupported` value: this is never called.
    pub fn absurd<T>(&self) -> T {
        match self.0 {}
    }
}

impl<'de, W: Why> Deserialize<'de> for Unsupported<W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read like `IgnoredAny`, noting what kind of value it was: the
        // error's path is found from where serde_json reports it, and that
        // can be just after an object or just after its last entry.
        let (kind, entries) = deserializer.deserialize_any(Kind)?;
        Err(ConfigError::here(W::WHY).carried(Raised::Read(kind, entries)))
    }
}

/// Reads and drops any value: `{` for an object, `[` for an array, 0
/// otherwise, and how many entries it had.
struct Kind;

impl<'de> Visitor<'de> for Kind {
    type Value = (u8, usize);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_i64<E>(self, _: i64) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_u64<E>(self, _: u64) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_f64<E>(self, _: f64) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_str<E>(self, _: &str) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_unit<E>(self) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_none<E>(self) -> Result<(u8, usize), E> {
        Ok((0, 0))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(u8, usize), D::Error> {
        d.deserialize_any(Kind)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(u8, usize), A::Error> {
        let mut n = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n = n.saturating_add(1);
        }
        Ok((b'[', n))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(u8, usize), A::Error> {
        let mut n = 0usize;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            n = n.saturating_add(1);
        }
        Ok((b'{', n))
    }
}

impl<W> fmt::Debug for Unsupported<W> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.absurd()
    }
}

impl<W> Clone for Unsupported<W> {
    fn clone(&self) -> Self {
        self.absurd()
    }
}

/// A `bool` Envoy field whose `true` Portico does not support: `false`
/// (Envoy's default) reads, `true` is refused at the field's path with
/// `W::WHY`. Write `#[serde(default)] name: UnsupportedTrue<W>`.
pub struct UnsupportedTrue<W>(PhantomData<W>);

impl<W> Default for UnsupportedTrue<W> {
    fn default() -> Self {
        UnsupportedTrue(PhantomData)
    }
}

impl<W> fmt::Debug for UnsupportedTrue<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("false")
    }
}

impl<W> Clone for UnsupportedTrue<W> {
    fn clone(&self) -> Self {
        UnsupportedTrue(PhantomData)
    }
}

impl<'de, W: Why> Deserialize<'de> for UnsupportedTrue<W> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if bool::deserialize(deserializer)? {
            return Err(ConfigError::here(W::WHY).into_de());
        }
        Ok(UnsupportedTrue(PhantomData))
    }
}

/// Declares reasons for [`Unsupported`](crate::config::Unsupported) and
/// [`UnsupportedTrue`](crate::config::UnsupportedTrue) fields:
///
/// ```
/// portico::unsupported_reasons! {
///     /// `payload_in_metadata` and friends.
///     pub NoMetadata = "dynamic metadata is not reachable from a wasm filter";
/// }
/// #[derive(serde::Deserialize)]
/// struct Provider {
///     #[serde(default)]
///     payload_in_metadata: Option<portico::config::Unsupported<NoMetadata>>,
/// }
/// let err = portico::config::parse::<Provider>(br#"{"payload_in_metadata": "p"}"#).err().unwrap();
/// assert_eq!(err.path, "payload_in_metadata");
/// assert!(err.message.starts_with("dynamic metadata is not reachable"));
/// ```
#[macro_export]
macro_rules! unsupported_reasons {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $why:expr;)+) => {
        $(
            $(#[$meta])*
            $vis enum $name {}
            impl $crate::config::Why for $name {
                const WHY: &'static str = $why;
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    crate::unsupported_reasons! {
        Files = "a wasm VM cannot read files";
        PerConnection = "per-connection buckets are not supported";
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Jwks {
        #[serde(default)]
        inline_string: Option<String>,
        #[serde(default)]
        filename: Option<Unsupported<Files>>,
        #[serde(default)]
        per_connection: UnsupportedTrue<PerConnection>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum Source {
        Inline(String),
        File(Unsupported<Files>),
    }

    fn err<T: serde::de::DeserializeOwned>(json: &str) -> String {
        match parse::<T>(json.as_bytes()) {
            Ok(_) => "<accepted>".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn absent_fields_read_and_present_ones_are_refused_by_name() {
        let ok: Jwks =
            parse(br#"{"inline_string": "k", "filename": null, "per_connection": false}"#).unwrap();
        assert_eq!(ok.inline_string.as_deref(), Some("k"));
        assert!(ok.filename.is_none());
        let _ = ok.per_connection;
        assert_eq!(
            err::<Jwks>(r#"{"inline_string": "k", "filename": {"path": "/x"}}"#),
            "filename: a wasm VM cannot read files (line 1, column 50)"
        );
        assert_eq!(
            err::<Jwks>(r#"{"per_connection": true}"#),
            "per_connection: per-connection buckets are not supported (line 1, column 24)"
        );
        assert!(err::<Jwks>(r#"{"per_connection": 1}"#).contains("expected a boolean"));
        assert!(err::<Jwks>(r#"{"filenam": 1}"#).starts_with("filenam: unknown field"));
    }

    #[test]
    fn unsupported_variants_are_refused_at_the_variant() {
        let ok: Source = parse(br#"{"inline": "k"}"#).unwrap();
        match ok {
            Source::Inline(k) => assert_eq!(k, "k"),
            Source::File(u) => u.absurd(),
        }
        assert!(err::<Vec<Source>>(r#"[{"file": null}]"#)
            .starts_with("[0].file: a wasm VM cannot read files"));
    }
}
