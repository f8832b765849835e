//! The per-VM context: configure-time setup, timers, callouts not tied to a request.

use crate::config::ConfigError;
use crate::env::Env;
use crate::filter::Plugin;
use crate::host::HostError;
use crate::http_call::{CallError, CallId, HttpRequest, HttpResponse};
use crate::metrics::{Counter, Gauge, Histogram};
use crate::runtime::VmCore;
use crate::stream::StreamId;
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

pub(crate) type RootCallback<P> =
    Box<dyn FnOnce(&Rc<P>, &mut Root<'_, P>, Result<HttpResponse, CallError>)>;

/// Identifies a timer, for [`Root::cancel_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) u64);

/// The VM's root context: what `Plugin::configure`, timers and root callouts
/// receive. Dereferences to [`Env`].
pub struct Root<'a, P: Plugin> {
    pub(crate) env: Env<'a>,
    pub(crate) vm: &'a VmCore<P>,
}

impl<'a, P: Plugin> Deref for Root<'a, P> {
    type Target = Env<'a>;
    fn deref(&self) -> &Env<'a> {
        &self.env
    }
}

impl<'a, P: Plugin> Root<'a, P> {
    pub fn env(&self) -> &Env<'a> {
        &self.env
    }

    /// Runs `f` once, `after` from now (rounded up to the host's 1 ms tick).
    pub fn set_timer(
        &mut self,
        after: Duration,
        f: impl FnOnce(&Rc<P>, &mut Root<'_, P>) + 'static,
    ) -> TimerId {
        self.vm.add_timer(
            self.env.host,
            after,
            None,
            crate::runtime::TimerFn::Once(Box::new(f)),
        )
    }

    /// Runs `f` every `period` (at least 1 ms), first after one period.
    pub fn every(
        &mut self,
        period: Duration,
        f: impl FnMut(&Rc<P>, &mut Root<'_, P>) + 'static,
    ) -> TimerId {
        let period = period.max(Duration::from_millis(1));
        self.vm.add_timer(
            self.env.host,
            period,
            Some(period),
            crate::runtime::TimerFn::Every(Box::new(f)),
        )
    }

    /// Stops a timer. Cancelling one that already ran is harmless.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.vm.cancel_timer(self.env.host, id);
    }

    /// Sends an HTTP request from the root context: the reply reaches `then`
    /// with the plugin, whatever request is (or is not) in flight.
    pub fn http_call(
        &mut self,
        request: HttpRequest,
        then: impl FnOnce(&Rc<P>, &mut Root<'_, P>, Result<HttpResponse, CallError>) + 'static,
    ) -> Result<CallId, HostError> {
        let token = self.env.host.http_call(
            &request.cluster,
            &request.header_refs(),
            &request.body,
            request.timeout,
        )?;
        self.vm
            .add_root_call(token, request.max_response_bytes, Box::new(then));
        Ok(CallId(token))
    }

    /// Runs [`crate::HttpFilter::on_wake`] on a stream of this VM. Returns false
    /// if that stream is gone.
    pub fn wake(&mut self, stream: StreamId) -> bool {
        self.vm.wake_from_root(self.env.host, stream.0)
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
}

fn metric_error(name: &str, err: HostError) -> ConfigError {
    ConfigError::at(".", format!("cannot define metric {name:?}: {err}"))
}
