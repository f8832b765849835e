//! A hook's copy of one header map: the map as the host sent it, read in
//! place, and the hook's own writes on top, as Envoy applied them.
//!
//! The writes are kept per name rather than applied to an owned list, so
//! fetching a map costs one buffer and its index whatever the hook does
//! next (in V8 an allocation per header was about as costly as the host
//! call the copy saves).

use crate::host::{HeaderBuf, Pairs};

/// What the hook's writes left of one name.
enum State {
    /// Removed: no value.
    Removed,
    /// One value, after the map's other headers: Envoy's `setCopy` removes
    /// every value and adds the new one at the end, and an add of an
    /// absent name goes there too. Such names keep the order they came in.
    End(Vec<u8>),
}

pub(super) struct HeaderCopy {
    sent: HeaderBuf,
    /// Names written in this hook, lower-case, in the order of their last
    /// arrival at the end of the map.
    writes: Vec<(String, State)>,
}

impl HeaderCopy {
    pub(super) fn new(sent: HeaderBuf) -> Self {
        HeaderCopy {
            sent,
            writes: Vec::new(),
        }
    }

    fn written(&self, name: &str) -> Option<usize> {
        self.writes
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    fn sent_first(&self, name: &str) -> Option<&[u8]> {
        self.sent
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The first value of `name`, as Envoy's map returns it.
    pub(super) fn first(&self, name: &str) -> Option<&[u8]> {
        match self.written(name).and_then(|i| self.writes.get(i)) {
            Some((_, State::Removed)) => None,
            Some((_, State::End(v))) => Some(v),
            None => self.sent_first(name),
        }
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.first(name).is_some()
    }

    /// Every header in the map's order.
    pub(super) fn each(&self, f: &mut dyn FnMut(&str, &[u8])) {
        for (k, v) in self.sent.iter() {
            let key = String::from_utf8_lossy(k);
            // A written name's sent values are gone (removed, or moved to
            // the end).
            if self.written(&key).is_none() {
                f(&key, v);
            }
        }
        for (k, state) in &self.writes {
            if let State::End(v) = state {
                f(k, v);
            }
        }
    }

    pub(super) fn to_pairs(&self) -> Pairs {
        let mut pairs = Vec::new();
        self.each(&mut |k, v| pairs.push((k.to_string(), v.to_vec())));
        pairs
    }

    /// `name` was set to `value` (Envoy's `replace`), or added while
    /// absent: it goes after everything else (pinned by the `order-*`
    /// conformance scenarios).
    pub(super) fn set(&mut self, name: &str, value: &[u8]) {
        if let Some(i) = self.written(name) {
            self.writes.remove(i);
        }
        self.writes
            .push((name.to_ascii_lowercase(), State::End(value.to_vec())));
    }

    /// Every value of `name` was removed.
    pub(super) fn remove(&mut self, name: &str) {
        match self.written(name).and_then(|i| self.writes.get_mut(i)) {
            Some((_, state)) => *state = State::Removed,
            None => self
                .writes
                .push((name.to_ascii_lowercase(), State::Removed)),
        }
    }
}
