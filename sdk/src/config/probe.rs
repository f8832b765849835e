//! A deserializer that forwards to another and counts the entries of the
//! object it reads: what [`super::compile`] tells [`super::locate`] about
//! the value it checked, so that an error raised after reading it is
//! named at that value and not at its last entry.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// `D`, with the number of entries of the object read through
/// `deserialize_struct` or `deserialize_map` left in `entries`.
pub(super) struct Counting<'c, D> {
    pub(super) de: D,
    pub(super) entries: &'c Cell<Option<(u8, usize)>>,
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Counting<'_, D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_identifier
        deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let entries = self.entries;
        self.de
            .deserialize_map(CountingVisitor { visitor, entries })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let entries = self.entries;
        self.de
            .deserialize_struct(name, fields, CountingVisitor { visitor, entries })
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct CountingVisitor<'c, V> {
    visitor: V,
    entries: &'c Cell<Option<(u8, usize)>>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for CountingVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.entries.set(Some((b'{', 0)));
        let entries = self.entries;
        self.visitor.visit_map(Counted {
            access: map,
            entries,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.entries.set(Some((b'[', 0)));
        let entries = self.entries;
        self.visitor.visit_seq(Counted {
            access: seq,
            entries,
        })
    }
}

/// A map's or a sequence's access, counting the entries read.
struct Counted<'c, A> {
    access: A,
    entries: &'c Cell<Option<(u8, usize)>>,
}

impl<A> Counted<'_, A> {
    fn count<T>(&self, entry: &Option<T>) {
        if entry.is_some() {
            if let Some((open, n)) = self.entries.get() {
                self.entries.set(Some((open, n.saturating_add(1))));
            }
        }
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Counted<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let key = self.access.next_key_seed(seed)?;
        self.count(&key);
        Ok(key)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.access.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Counted<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        let element = self.access.next_element_seed(seed)?;
        self.count(&element);
        Ok(element)
    }

    fn size_hint(&self) -> Option<usize> {
        self.access.size_hint()
    }
}
