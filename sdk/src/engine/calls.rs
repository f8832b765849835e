//! The one registry of callouts in flight, for the root and every stream:
//! by the host's token, each with its reply limit and its continuation.

use crate::api::services::{Pending, RootThen, StreamThen};
use crate::api::Plugin;
use std::collections::HashMap;

/// Who gets a reply.
pub(super) enum Then<P: Plugin> {
    Root(RootThen<P>),
    Stream(u32, StreamThen<P::Filter>),
}

pub(super) struct Calls<P: Plugin> {
    pending: HashMap<u32, Pending<Then<P>>>,
}

impl<P: Plugin> Calls<P> {
    pub(super) fn new() -> Self {
        Calls {
            pending: HashMap::new(),
        }
    }

    pub(super) fn add(&mut self, token: u32, call: Pending<Then<P>>) {
        self.pending.insert(token, call);
    }

    pub(super) fn take(&mut self, token: u32) -> Option<Pending<Then<P>>> {
        self.pending.remove(&token)
    }

    /// A stream ended: Envoy cancels its callouts, whose replies never come.
    pub(super) fn drop_stream(&mut self, stream: u32) {
        self.pending
            .retain(|_, c| !matches!(c.then, Then::Stream(id, _) if id == stream));
    }

    /// The configuration was refused: the root's calls have no plugin to reach.
    pub(super) fn clear(&mut self) {
        self.pending.clear();
    }
}
