//! One stream's engine state and the rules that change it: what a phase's
//! or a callback's verdict means for the host (continue, hold, resume,
//! answer locally, at most once).

use super::Flow;
use crate::api::{Action, LocalResponse, Phase, Verdict};
use crate::host::{Direction, Host, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Weak;

/// What the engine keeps per stream besides the filter itself.
pub(super) struct StreamState {
    /// Set when a phase paused; a later `Continue` resumes this direction.
    paused: Option<Direction>,
    responded: bool,
}

impl StreamState {
    pub(super) fn new() -> Self {
        StreamState {
            paused: None,
            responded: false,
        }
    }

    pub(super) fn responded(&self) -> bool {
        self.responded
    }

    /// Applies what a phase of the host's returned.
    pub(super) fn after_phase(&mut self, host: &dyn Host, phase: Phase, verdict: Verdict) -> Flow {
        match verdict {
            Ok(Action::Continue) => Flow::Continue,
            Ok(Action::Pause) => {
                self.paused = phase.direction();
                Flow::Pause
            }
            // A second reply on one stream is refused by `respond`; the
            // stream then carries on with the first.
            Err(response) => {
                if self.respond(host, response) {
                    Flow::Pause
                } else {
                    Flow::Continue
                }
            }
        }
    }

    /// Applies what a callback (callout reply, timer, wake-up) returned:
    /// `Continue` resumes the direction a phase paused.
    pub(super) fn after_callback(&mut self, host: &dyn Host, verdict: Verdict) {
        match verdict {
            Ok(Action::Continue) => {
                if let Some(direction) = self.paused.take() {
                    if let Err(err) = host.resume(direction) {
                        host.log(
                            LogLevel::Warn,
                            &format!("portico: cannot resume stream: {err}"),
                        );
                    }
                }
            }
            Ok(Action::Pause) => {}
            Err(response) => {
                self.respond(host, response);
            }
        }
    }

    /// Sends a local reply; false (and nothing sent) if one was sent already.
    fn respond(&mut self, host: &dyn Host, response: LocalResponse) -> bool {
        if self.responded {
            // Our own local reply passes through our response phases;
            // answering it again would loop.
            host.log(
                LogLevel::Warn,
                "portico: filter asked for a second local response on one stream; ignored",
            );
            return false;
        }
        self.responded = true;
        self.paused = None;
        let details: String = response
            .details
            .chars()
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        let headers: Vec<(&str, &str)> = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Err(err) =
            host.send_local_response(response.status, &details, &headers, &response.body)
        {
            host.log(
                LogLevel::Error,
                &format!(
                    "portico: local response {} refused by the host: {err}",
                    response.status
                ),
            );
        }
        true
    }
}

pub(super) struct StreamCell<F> {
    pub(super) filter: F,
    pub(super) state: StreamState,
}

/// Streams of a VM by context id, weakly: a stream that ended is simply gone.
pub(super) type StreamRegistry<F> = RefCell<HashMap<u32, Weak<RefCell<StreamCell<F>>>>>;
