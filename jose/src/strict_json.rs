//! JSON that refuses a repeated object key at any depth.
//!
//! `serde_json` keeps the last of two equal keys, so `{"sub":"alice",
//! "sub":"admin"}` would read as `admin` while another parser reads
//! `alice`. Envoy's parser (protobuf's, into a `Struct`) refuses such
//! text in the header and the payload, at every level, including objects
//! inside lists and keys spelled with escapes; so does this one.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// A JSON value parsed without tolerating duplicate keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Envoy's parser refuses objects and lists nested deeper than this.
pub const MAX_DEPTH: usize = 100;

/// How deeply objects and lists nest in JSON text (brackets inside strings
/// do not count). Serde's own limit (128) is higher than Envoy's.
fn depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON object, refusing duplicate keys at any depth and nesting
/// beyond [`MAX_DEPTH`]. A bare `null` reads as an empty object, as
/// protobuf reads it into a `Struct`.
pub fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    if depth(bytes) > MAX_DEPTH {
        return None;
    }
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(Value::Object(map))) => Some(map),
        Ok(Strict(Value::Null)) => Some(Map::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{object, MAX_DEPTH};

    #[test]
    fn nesting_stops_at_envoys_depth() {
        let nest = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(object(nest(MAX_DEPTH).as_bytes()).is_some());
        assert!(object(nest(MAX_DEPTH + 1).as_bytes()).is_none());
        assert!(object(br#"{"a":"[[[[["}"#).is_some());
        assert!(object(b"null").is_some_and(|m| m.is_empty()));
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_depth() {
        assert!(object(br#"{"a":1,"b":{"c":[{"d":2}]}}"#).is_some());
        for text in [
            r#"{"sub":"alice","sub":"admin"}"#,
            r#"{"o":{"t":1,"t":2}}"#,
            r#"{"l":[{"a":1,"a":2}]}"#,
            r#"{"sub":"a","s\u0075b":"b"}"#,
            r#"[1]"#,
            r#"{"a":1"#,
        ] {
            assert!(object(text.as_bytes()).is_none(), "{text}");
        }
    }
}
