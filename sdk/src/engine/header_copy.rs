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
    /// One value, where the name's first value was (Envoy's `setCopy` on a
    /// name that is there replaces that value and drops the others).
    InPlace(Vec<u8>),
    /// One value, after the map's other headers (a name that was absent
    /// when it was set or added). Such names keep the order they came in.
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
            Some((_, State::InPlace(v) | State::End(v))) => Some(v),
            None => self.sent_first(name),
        }
    }

    pub(super) fn has(&self, name: &str) -> bool {
        self.first(name).is_some()
    }

    /// Every header in the map's order.
    pub(super) fn each(&self, f: &mut dyn FnMut(&str, &[u8])) {
        let mut emitted = vec![false; self.writes.len()];
        for (k, v) in self.sent.iter() {
            let key = String::from_utf8_lossy(k);
            match self.written(&key) {
                None => f(&key, v),
                Some(i) => {
                    if let (Some((_, State::InPlace(new))), Some(done)) =
                        (self.writes.get(i), emitted.get_mut(i))
                    {
                        if !*done {
                            *done = true;
                            f(&key, new);
                        }
                    }
                    // Removed, or moved to the end: the sent values are gone.
                }
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

    /// `name` was set to `value` (Envoy's `replace`).
    pub(super) fn set(&mut self, name: &str, value: &[u8]) {
        if self.has(name) {
            let state = match self.written(name).and_then(|i| self.writes.get_mut(i)) {
                Some((_, state @ State::End(_))) => {
                    *state = State::End(value.to_vec());
                    return;
                }
                Some((_, state)) => state,
                None => {
                    self.writes
                        .push((name.to_ascii_lowercase(), State::InPlace(value.to_vec())));
                    return;
                }
            };
            *state = State::InPlace(value.to_vec());
        } else {
            self.arrive(name, value);
        }
    }

    /// `name`, absent, was added or set: it goes after everything else.
    pub(super) fn arrive(&mut self, name: &str, value: &[u8]) {
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
