//! The script: what the filter does, per scenario and phase (its JSON
//! configuration).

use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub scenarios: HashMap<String, Script>,
    /// Period of the root timer that wakes streams parked by `wait_tick`.
    #[serde(default = "default_tick")]
    pub tick_ms: u64,
    /// Counters to define at configure time.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Gauges to define at configure time.
    #[serde(default)]
    pub gauges: Vec<String>,
    /// Shared-data keys to create at configure time (`key`, `value`).
    #[serde(default)]
    pub shared: Vec<(String, String)>,
}

fn default_tick() -> u64 {
    50
}

/// What one scenario does in each phase.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Script {
    pub request_headers: Step,
    /// Runs on the last request-body call (`end_of_stream`).
    pub request_body: Step,
    /// What earlier request-body chunks return (`pause` buffers).
    pub request_body_chunk: Act,
    pub request_trailers: Step,
    pub response_headers: Step,
    pub response_body: Step,
    pub response_body_chunk: Act,
    pub response_trailers: Step,
    pub on_wake: Step,
    pub on_done: Vec<Op>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Step {
    pub ops: Vec<Op>,
    pub action: Act,
    /// Only for requests whose `x-role` header is this; others run `otherwise`.
    pub role: Option<String>,
    pub otherwise: Option<Box<Step>>,
}

#[derive(Deserialize, Default, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    #[default]
    Continue,
    Pause,
    Respond(Reply),
}

#[derive(Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub details: String,
}

#[derive(Deserialize, Clone)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    Get {
        map: String,
        name: String,
    },
    GetAll {
        map: String,
        name: String,
    },
    Set {
        map: String,
        name: String,
        value: String,
    },
    Add {
        map: String,
        name: String,
        value: String,
    },
    Remove {
        map: String,
        name: String,
    },
    /// Reports the map's pseudo-headers and `x-c-*` names, in the map's
    /// order (the other headers are Envoy's own and differ per request).
    Order {
        map: String,
    },
    /// Reports the body of this phase so far.
    Body,
    SetBody {
        value: String,
    },
    AppendBody {
        value: String,
    },
    PrependBody {
        value: String,
    },
    /// `Stream::replace_body(start..end, value)`.
    ReplaceBody {
        start: usize,
        end: usize,
        value: String,
    },
    /// Reports `Stream::body_range(start..end)`.
    BodyRange {
        start: usize,
        end: usize,
    },
    Log {
        level: String,
        msg: String,
    },
    Inc {
        name: String,
    },
    MetricValue {
        name: String,
    },
    GaugeSet {
        name: String,
        value: u64,
    },
    GaugeAdd {
        name: String,
        delta: i64,
    },
    /// Parks the stream; on the next tick the root fetches `path` with a
    /// root callout, reports the reply and wakes the stream from there.
    RootFetch {
        path: String,
    },
    /// Parks the stream; on the next tick the root sets a one-shot timer of
    /// `ms` that wakes it.
    WakeAfter {
        ms: u64,
    },
    Callout {
        label: String,
        #[serde(default = "default_cluster")]
        cluster: String,
        #[serde(default = "default_method")]
        method: String,
        path: String,
        #[serde(default = "default_timeout")]
        timeout_ms: u64,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
        /// `max_response_bytes` of the request (default: the SDK's).
        #[serde(default)]
        max_bytes: Option<usize>,
        /// Headers to leave out, e.g. `:authority` (Envoy refuses such calls).
        #[serde(default)]
        drop: Vec<String>,
        #[serde(default)]
        then: Box<Step>,
    },
    SharedGet {
        key: String,
    },
    SharedSet {
        key: String,
        value: String,
        /// `none`, `last` (the token of this stream's last `shared_get` of
        /// the key), `from:<key>` (a token another request stashed in
        /// shared data with `stash_cas`), or a number.
        #[serde(default = "default_cas")]
        cas: String,
    },
    /// Stores the CAS token of `key` (as this stream last read it) under
    /// `into`, so a later request, possibly on another worker, writes with it.
    StashCas {
        key: String,
        into: String,
    },
    /// Increments a decimal counter in shared data with `shared_update`.
    SharedAdd {
        key: String,
    },
    Property {
        path: Vec<String>,
    },
    /// A typed property helper of `Env`.
    Env {
        what: String,
    },
    EndOfStream,
    Responded,
    /// `Stream::will_replace_body` (the body-rewrite recipe).
    WillReplaceBody,
    /// Parks the stream for the root timer to wake (`on_wake`).
    WaitTick,
    /// Parks the stream on a named list of this VM.
    Park {
        list: String,
    },
    /// Wakes every stream parked on a named list with `Stream::wake`.
    WakeList {
        list: String,
    },
    /// `Stream::wake` on this very stream (refused).
    WakeSelf,
    /// `Stream::set_timer`: after `ms`, reports `stream_timer <label>` and
    /// runs `then` as a callback of this stream.
    StreamTimer {
        label: String,
        ms: u64,
        #[serde(default)]
        then: Box<Step>,
    },
    /// `Env::set_filter_state`, then reports `Env::filter_state`.
    SetFilterState {
        name: String,
        value: String,
    },
    /// `Stream::clear_route_cache`.
    ClearRouteCache,
    /// `Stream::reset`.
    Reset,
    /// `Stream::cancel_timer` of a `stream_timer` this stream set.
    CancelTimer {
        label: String,
    },
}

fn default_cluster() -> String {
    "upstream".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_timeout() -> u64 {
    1000
}
fn default_cas() -> String {
    "none".into()
}
