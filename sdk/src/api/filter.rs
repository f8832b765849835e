//! The two traits a filter author implements.

use super::action::{Action, Verdict};
use super::env::Env;
use super::root::Root;
use super::stream::Stream;
use crate::config::ConfigError;
use serde::de::DeserializeOwned;

/// A filter's per-VM half: built once from the configuration when Envoy loads
/// the filter (on every worker), then lent to every phase of every request.
///
/// Put compiled configuration, metric handles and VM-wide caches here; use
/// `Cell`/`RefCell` for what changes after configure.
pub trait Plugin: Sized + 'static {
    /// The JSON configuration. Use `#[serde(deny_unknown_fields)]` so a typo
    /// is refused rather than ignored.
    type Config: DeserializeOwned;
    /// The per-request half.
    type Filter: HttpFilter<Plugin = Self>;

    /// Validates and compiles the configuration. An `Err` makes Envoy refuse
    /// the filter; its path and message are logged. Timers and callouts may be
    /// started from `root`; their closures receive the plugin once it exists.
    fn configure(config: Self::Config, root: &mut Root<'_, Self>) -> Result<Self, ConfigError>;

    /// Creates the state of one request.
    fn new_filter(&self, env: &Env<'_>) -> Self::Filter;
}

/// A filter's per-request half: one method per phase, each given the
/// plugin and the stream, each returning a [`Verdict`].
///
/// Every method has a default that lets the stream continue, so a filter
/// implements only the phases it cares about.
#[allow(unused_variables)]
pub trait HttpFilter: Sized + 'static {
    /// The plugin this filter belongs to, lent to every phase.
    type Plugin: Plugin<Filter = Self>;

    /// Request headers arrived; [`Stream::end_of_stream`] says whether a body follows.
    fn on_request_headers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    /// A chunk of request body arrived. Returning [`Action::Pause`] buffers:
    /// the next call sees everything so far, until `end_of_stream`.
    fn on_request_body(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    fn on_request_trailers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    /// Response headers arrived, from the upstream or from a local reply
    /// (see [`Stream::responded_locally`]). Returning `Pause` here holds the
    /// body too: `on_response_body` does not run until the stream resumes.
    fn on_response_headers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    fn on_response_body(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    fn on_response_trailers(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    /// Another context called `wake` with this stream's id (for example a
    /// shared fetch this request was waiting on finished). Returning
    /// `Continue` resumes the paused stream.
    fn on_wake(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) -> Verdict {
        Ok(Action::Continue)
    }

    /// The stream is complete (Envoy's log phase). Headers are still readable.
    fn on_done(&mut self, plugin: &Self::Plugin, s: &mut Stream<'_, Self>) {}
}
