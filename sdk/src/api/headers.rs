//! Header maps of a stream: case-insensitive, multi-valued, pseudo-headers included.

use crate::config::route_match::HeaderSource;
use crate::host::{Host, MapType};
use std::borrow::Cow;

/// A view of one header map (request or response headers or trailers) of the
/// current stream. Names are case-insensitive, as in HTTP; Envoy stores them
/// lower-case. Values that are not UTF-8 are read lossily by the `&str`
/// getters; use [`Headers::get_bytes`] when that matters.
///
/// Reading a map that the current phase does not have (response headers while
/// the request is still being decoded) gives `None`/empty rather than an error;
/// writes to such a map are refused and logged.
#[derive(Clone, Copy)]
pub struct Headers<'a> {
    host: &'a dyn Host,
    map: MapType,
}

impl<'a> Headers<'a> {
    pub(crate) fn new(host: &'a dyn Host, map: MapType) -> Self {
        Headers { host, map }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_bytes(name).map(into_string)
    }

    /// The first value of `name`, as bytes.
    pub fn get_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let name = lower(name);
        self.host.header(self.map, &name).ok().flatten()
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        // Envoy's single-value call returns only the first value, hence the
        // whole map; only the matching values are copied.
        let mut values = Vec::new();
        let _ = self.host.each_header(self.map, &mut |k, v| {
            if k.eq_ignore_ascii_case(name) {
                values.push(String::from_utf8_lossy(v).into_owned());
            }
        });
        values
    }

    /// Says that this hook will read several headers of this map, or every
    /// value of one: the map is fetched now, in one host call, and the
    /// reads that follow, the first included, are answered inside the
    /// module. Without it the first single-header read is a call of its
    /// own and the second fetches the map. Writes stay calls either way.
    pub fn prefetch(&self) {
        self.host.prefetch_headers(self.map);
    }

    /// Every header name, in order, once per value (pseudo-headers first).
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let _ = self
            .host
            .each_header(self.map, &mut |k, _| names.push(k.to_string()));
        names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// Every header, in order, pseudo-headers first.
    pub fn all(&self) -> Vec<(String, String)> {
        self.host
            .header_pairs(self.map)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, into_string(v)))
            .collect()
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&self, name: &str, value: &str) {
        self.set_bytes(name, value.as_bytes());
    }

    pub fn set_bytes(&self, name: &str, value: &[u8]) {
        let name = lower(name);
        if let Err(err) = self.host.set_header(self.map, &name, value) {
            self.refused("set", &name, err);
        }
    }

    /// Adds one more value of `name`, keeping the ones already there.
    pub fn add(&self, name: &str, value: &str) {
        let name = lower(name);
        if let Err(err) = self.host.add_header(self.map, &name, value.as_bytes()) {
            self.refused("add", &name, err);
        }
    }

    /// Removes every value of `name`.
    pub fn remove(&self, name: &str) {
        let name = lower(name);
        if let Err(err) = self.host.remove_header(self.map, &name) {
            self.refused("remove", &name, err);
        }
    }

    /// `:path` (request headers).
    pub fn path(&self) -> Option<String> {
        self.get(":path")
    }

    /// `:method` (request headers).
    pub fn method(&self) -> Option<String> {
        self.get(":method")
    }

    /// `:authority`, the host the client asked for (request headers).
    pub fn authority(&self) -> Option<String> {
        self.get(":authority")
    }

    /// `:scheme` (request headers).
    pub fn scheme(&self) -> Option<String> {
        self.get(":scheme")
    }

    /// `:status` (response headers).
    pub fn status(&self) -> Option<u16> {
        self.get(":status").and_then(|s| s.parse().ok())
    }

    fn refused(&self, what: &str, name: &str, err: crate::host::HostError) {
        self.host.log(
            crate::host::LogLevel::Warn,
            &format!(
                "portico: {what} header {name:?} on {:?} refused: {err}",
                self.map
            ),
        );
    }
}

fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn into_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    }
}

impl HeaderSource for Headers<'_> {
    fn values(&self, name: &str) -> Vec<String> {
        self.get_all(name)
    }
}
