//! The per-VM context: configure-time setup, timers, callouts not tied to a request.

use super::env::Env;
use super::filter::{HttpFilter, Plugin};
use super::grpc_call::{decode, GrpcError, GrpcRequest};
use super::http_call::{CallError, CallId, HttpRequest, HttpResponse};
use super::labels::{CounterFamily, HistogramFamily};
use super::metrics::{Counter, Gauge, Histogram};
use super::services::{CallKind, Pending, Reply, RootServices, RootTimer};
use super::stream::StreamId;
use crate::config::ConfigError;
use crate::host::HostError;
use std::ops::Deref;
use std::time::Duration;

/// Identifies a timer, for [`Root::cancel_timer`] and [`crate::Stream::cancel_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) u64);

/// The VM's root context: what `Plugin::configure`, timers and root callouts
/// receive. Dereferences to [`Env`].
pub struct Root<'a, P: Plugin> {
    env: Env<'a>,
    services: &'a dyn RootServices<P>,
}

impl<'a, P: Plugin> Deref for Root<'a, P> {
    type Target = Env<'a>;
    fn deref(&self) -> &Env<'a> {
        &self.env
    }
}

impl<'a, P: Plugin> Root<'a, P> {
    pub(crate) fn new(env: Env<'a>, services: &'a dyn RootServices<P>) -> Self {
        Root { env, services }
    }

    pub fn env(&self) -> &Env<'a> {
        &self.env
    }

    /// Runs `f` once, `after` from now (rounded up to the host's 1 ms tick).
    pub fn set_timer(
        &mut self,
        after: Duration,
        f: impl FnOnce(&P, &mut Root<'_, P>) + 'static,
    ) -> TimerId {
        self.services
            .add_timer(self.env.host, after, None, RootTimer::Once(Box::new(f)))
    }

    /// Runs `f` every `period` (at least 1 ms), first after one period.
    pub fn every(
        &mut self,
        period: Duration,
        f: impl FnMut(&P, &mut Root<'_, P>) + 'static,
    ) -> TimerId {
        let period = period.max(Duration::from_millis(1));
        self.services.add_timer(
            self.env.host,
            period,
            Some(period),
            RootTimer::Every(Box::new(f)),
        )
    }

    /// Stops a timer. Cancelling one that already ran is harmless.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.services.cancel_timer(self.env.host, id);
    }

    /// Sends an HTTP request from the root context: the reply reaches `then`
    /// with the plugin, whatever request is (or is not) in flight.
    pub fn http_call(
        &mut self,
        request: HttpRequest,
        then: impl FnOnce(&P, &mut Root<'_, P>, Result<HttpResponse, CallError>) + 'static,
    ) -> Result<CallId, HostError> {
        let token = request.dispatch(self.env.host)?;
        self.services.add_root_call(
            token,
            Pending {
                limit: request.max_response_bytes,
                kind: CallKind::Http,
                then: Box::new(move |plugin, root, reply| match reply {
                    Reply::Http(result) => then(plugin, root, result),
                    Reply::Grpc(_) => log::error!("portico: gRPC reply to an HTTP callout"),
                }),
            },
        );
        Ok(CallId(token))
    }

    /// Makes a unary gRPC call from the root context; `then` gets the
    /// decoded reply of type `M` with the plugin.
    pub fn grpc_call<M: prost::Message + Default + 'static>(
        &mut self,
        request: GrpcRequest,
        then: impl FnOnce(&P, &mut Root<'_, P>, Result<M, GrpcError>) + 'static,
    ) -> Result<CallId, HostError> {
        let token = request.dispatch(self.env.host)?;
        self.services.add_root_call(
            token,
            Pending {
                limit: request.max_response_bytes,
                kind: CallKind::Grpc,
                then: Box::new(move |plugin, root, reply| match reply {
                    Reply::Grpc(bytes) => then(plugin, root, decode(bytes)),
                    Reply::Http(_) => log::error!("portico: HTTP reply to a gRPC call"),
                }),
            },
        );
        Ok(CallId(token))
    }

    /// Runs [`crate::HttpFilter::on_wake`] on a stream of this VM. Returns false
    /// if that stream is gone.
    pub fn wake(&mut self, stream: StreamId) -> bool {
        self.services.wake_from_root(
            self.env.host,
            stream.0,
            Box::new(|f: &mut P::Filter, p, s| f.on_wake(p, s)),
        )
    }

    /// What a chain's projection of this root needs: the engine's services.
    pub(crate) fn services(&self) -> &'a dyn RootServices<P> {
        self.services
    }

    /// Defines a counter, mapping a host refusal to a configuration error.
    pub fn counter(&self, name: &str) -> Result<Counter, ConfigError> {
        self.env.counter(name).map_err(|e| metric_error(name, e))
    }

    pub fn gauge(&self, name: &str) -> Result<Gauge, ConfigError> {
        self.env.gauge(name).map_err(|e| metric_error(name, e))
    }

    pub fn histogram(&self, name: &str) -> Result<Histogram, ConfigError> {
        self.env.histogram(name).map_err(|e| metric_error(name, e))
    }

    /// Counters with labels (see [`CounterFamily`] for the naming and the
    /// `stats_tags` that turn labels into tags). Series are defined on
    /// first use, at most [`crate::labels::MAX_SERIES`] of them.
    pub fn counter_family(
        &self,
        name: &str,
        labels: &[&str],
    ) -> Result<CounterFamily, ConfigError> {
        CounterFamily::new(name, labels)
    }

    /// Histograms with labels, named like [`CounterFamily`].
    pub fn histogram_family(
        &self,
        name: &str,
        labels: &[&str],
    ) -> Result<HistogramFamily, ConfigError> {
        HistogramFamily::new(name, labels)
    }
}

fn metric_error(name: &str, err: HostError) -> ConfigError {
    ConfigError::at(".", format!("cannot define metric {name:?}: {err}"))
}
