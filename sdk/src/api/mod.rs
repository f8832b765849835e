//! The types filters see: the two traits, what a phase returns, and the
//! contexts (`Root`, `Stream`, `Env`) with headers, bodies, callouts,
//! timers, shared data and metrics. They reach the engine only through the
//! narrow traits of `services.rs`, and Envoy only through [`crate::host`].

mod action;
pub mod chain;
mod env;
mod filter;
mod grpc_call;
mod headers;
mod http_call;
pub mod labels;
mod metrics;
mod root;
pub(crate) mod services;
mod stream;

pub use action::{Action, IntoVerdict, LocalResponse, Verdict};
pub use env::Env;
pub use filter::{HttpFilter, Plugin};
pub use grpc_call::{GrpcError, GrpcRequest, GrpcStatus};
pub use headers::Headers;
pub use http_call::{CallError, CallId, HttpRequest, HttpResponse};
pub use labels::{CounterFamily, HistogramFamily};
pub use metrics::{Counter, Gauge, Histogram};
pub use root::{Root, TimerId};
pub(crate) use stream::PhaseInfo;
pub use stream::{Phase, Stream, StreamId};
