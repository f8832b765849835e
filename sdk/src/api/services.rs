//! The few things the API types need from the engine, as narrow traits the
//! engine implements. `Root` and `Stream` hold a `&dyn` of these and never
//! the engine's own state, so the engine can change (or a second one can
//! exist) without touching what filters see.

use super::filter::{HttpFilter, Plugin};
use super::grpc_call::GrpcError;
use super::http_call::{CallError, HttpResponse};
use super::root::{Root, TimerId};
use super::stream::Stream;
use super::Verdict;
use crate::host::Host;
use std::time::Duration;

/// A callout's answer, as the engine read it from the host.
pub(crate) enum Reply {
    Http(Result<HttpResponse, CallError>),
    /// The reply message's bytes, or why there is none.
    Grpc(Result<Vec<u8>, GrpcError>),
}

/// What the engine must read from the host when a reply arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Http,
    Grpc,
}

pub(crate) type RootThen<P> = Box<dyn FnOnce(&P, &mut Root<'_, P>, Reply)>;
pub(crate) type StreamThen<F> =
    Box<dyn FnOnce(&mut F, &<F as HttpFilter>::Plugin, &mut Stream<'_, F>, Reply) -> Verdict>;

pub(crate) type RootOnce<P> = Box<dyn FnOnce(&P, &mut Root<'_, P>)>;
pub(crate) type RootEvery<P> = Box<dyn FnMut(&P, &mut Root<'_, P>)>;
pub(crate) type StreamTimer<F> =
    Box<dyn FnOnce(&mut F, &<F as HttpFilter>::Plugin, &mut Stream<'_, F>) -> Verdict>;

/// A root timer's closure.
pub(crate) enum RootTimer<P: Plugin> {
    Once(RootOnce<P>),
    Every(RootEvery<P>),
}

/// A callout in flight, as the engine keeps it until its reply.
pub(crate) struct Pending<T> {
    /// Replies whose body is larger are refused (`CallError::TooLarge`).
    pub limit: usize,
    pub kind: CallKind,
    pub then: T,
}

/// What [`Root`] asks of the engine.
pub(crate) trait RootServices<P: Plugin> {
    fn add_timer(
        &self,
        host: &dyn Host,
        after: Duration,
        period: Option<Duration>,
        f: RootTimer<P>,
    ) -> TimerId;
    fn cancel_timer(&self, host: &dyn Host, id: TimerId);
    fn add_root_call(&self, token: u32, call: Pending<RootThen<P>>);
    /// Runs `f` (a stream's `on_wake`, or a chain member's) on `stream`.
    fn wake_from_root(&self, host: &dyn Host, stream: u32, f: StreamTimer<P::Filter>) -> bool;
}

/// What [`Stream`] asks of the engine.
pub(crate) trait StreamServices<F: HttpFilter> {
    fn add_stream_call(&self, stream: u32, token: u32, call: Pending<StreamThen<F>>);
    fn add_stream_timer(
        &self,
        host: &dyn Host,
        stream: u32,
        after: Duration,
        f: StreamTimer<F>,
    ) -> TimerId;
    fn cancel_timer(&self, host: &dyn Host, id: TimerId);
    /// Runs `f` (`on_wake`, or a chain member's) on `target` while
    /// `current` is dispatching.
    fn wake(&self, host: &dyn Host, target: u32, current: u32, f: StreamTimer<F>) -> bool;
}
