//! What one filter configuration keeps beside its engine, reachable from
//! every thread: the Envoy pointers, shared data, metric ids, callouts in
//! flight, per-stream schedulers and the tick thread.
//!
//! All of it is touched while the configuration's lock is held (see
//! `glue.rs`) except by the tick thread, which only reads its own period;
//! the mutexes here are uncontended and make each part safe on its own.

use super::abi::{self, api, ModuleBuffer, Ptr};
use crate::host::{HostError, HostResult, MetricKind, Pairs};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The engine's id of the root context; streams count from 1.
pub(super) const ROOT_ID: u32 = 0;

/// An Envoy-owned pointer, valid as long as the object that holds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct EnvoyPtr(pub Ptr);

// SAFETY: Envoy's config and scheduler objects may be used from any thread
// for the callbacks Portico makes with them (metrics, scheduler commits,
// config callouts on the main thread); stream pointers are only used on
// their own worker thread (the engine defers work for other threads).
unsafe impl Send for EnvoyPtr {}
// SAFETY: as above.
unsafe impl Sync for EnvoyPtr {}

/// A callout reply as a hook received it.
#[derive(Debug, Default)]
pub(super) struct Reply {
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub trailers: Pairs,
    pub grpc_status: u32,
    pub grpc_message: Option<String>,
}

/// A local reply while it runs through the filter's response phases.
#[derive(Debug, Default)]
pub(super) struct Synthetic {
    pub headers: Pairs,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum CallOwner {
    Root,
    Stream(u32),
}

/// A callout in flight: the engine's token, and for gRPC what arrived so far.
pub(super) struct Call {
    pub token: u32,
    pub grpc: bool,
    pub reply: Reply,
    /// Bytes that arrived beyond what is kept (`MAX_REPLY_BYTES`).
    pub dropped: usize,
}

/// Reply bodies are kept up to this size; the engine refuses larger ones
/// with the call's own (smaller) limit, knowing the real size.
pub(super) const MAX_REPLY_BYTES: usize = 16 << 20;

struct Tick {
    period: Option<Duration>,
    generation: u64,
    stop: bool,
}

struct Metric {
    kind: MetricKind,
    /// `None` when Envoy refused it (stats defined after load).
    envoy_id: Option<usize>,
    name: String,
    /// What Portico added, so `Counter::value` answers as on wasm.
    mirror: AtomicI64,
}

pub(super) struct Parts {
    pub config: EnvoyPtr,
    pub filter_name: String,
    scheduler: EnvoyPtr,
    store: Arc<Mutex<Store>>,
    metrics: Mutex<Vec<Metric>>,
    /// The last token given, and the calls in flight by owner and Envoy id.
    calls: Mutex<(u32, CallTable)>,
    schedulers: Mutex<HashMap<u32, EnvoyPtr>>,
    tick: Arc<(Mutex<Tick>, Condvar)>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

type Store = HashMap<String, (Vec<u8>, u32)>;
type CallTable = HashMap<(CallOwner, u64), Call>;

/// Shared data, one store per `filter_name` for the life of the process:
/// as one `vm_id` per filter on wasm, a configuration pushed again (an LDS
/// update) finds what the previous one kept.
fn store_of(filter_name: &str) -> Arc<Mutex<Store>> {
    static STORES: Mutex<Option<HashMap<String, Arc<Mutex<Store>>>>> = Mutex::new(None);
    let mut stores = locked(&STORES);
    let stores = stores.get_or_insert_with(HashMap::new);
    Arc::clone(
        stores
            .entry(filter_name.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(HashMap::new()))),
    )
}

/// The event id of the root's tick on the configuration's scheduler.
pub(super) const TICK_EVENT: u64 = 1;

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned mutex only means a panic elsewhere, which aborts anyway
    // (`panic = "abort"`); the data is still consistent for our use.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Parts {
    pub(super) fn new(config: Ptr, filter_name: &str) -> Parts {
        let scheduler = api()
            // SAFETY: the config pointer Envoy just handed over.
            .map(|api| unsafe { (api.http_filter_config_scheduler_new)(config) })
            .unwrap_or(std::ptr::null_mut());
        Parts {
            config: EnvoyPtr(config),
            filter_name: filter_name.to_string(),
            scheduler: EnvoyPtr(scheduler),
            store: store_of(filter_name),
            metrics: Mutex::new(Vec::new()),
            calls: Mutex::new((0, HashMap::new())),
            schedulers: Mutex::new(HashMap::new()),
            tick: Arc::new((
                Mutex::new(Tick {
                    period: None,
                    generation: 0,
                    stop: false,
                }),
                Condvar::new(),
            )),
            ticker: Mutex::new(None),
        }
    }

    // ---- shared data.

    pub(super) fn store_get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        locked(&self.store).get(key).cloned()
    }

    pub(super) fn store_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> HostResult<()> {
        let mut store = locked(&self.store);
        match store.get_mut(key) {
            Some((old, version)) => {
                if cas.is_some_and(|c| c != *version) {
                    return Err(HostError::CasMismatch);
                }
                *old = value.to_vec();
                *version = version.wrapping_add(1);
            }
            None => {
                store.insert(key.to_string(), (value.to_vec(), 1));
            }
        }
        Ok(())
    }

    // ---- metrics.

    pub(super) fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        let mut metrics = locked(&self.metrics);
        if let Some(id) = metrics
            .iter()
            .position(|m| m.kind == kind && m.name == name)
        {
            return u32::try_from(id).map_err(|_| HostError::BadArgument);
        }
        let id = u32::try_from(metrics.len()).map_err(|_| HostError::BadArgument)?;
        let envoy_id = match define_in_envoy(self.config.0, kind, name) {
            Ok(envoy_id) => Some(envoy_id),
            Err(err) => {
                // Envoy 1.40 freezes a dynamic module's stats once its
                // configuration is loaded: a metric first named later (per
                // route cluster, say) is counted in the module only
                // (`Counter::value`), not shown in Envoy's stats.
                log::warn!(
                    "portico: Envoy refused metric {name:?} ({err}); it is counted \
                     in the module only: a dynamic module defines its stats at load"
                );
                None
            }
        };
        metrics.push(Metric {
            kind,
            envoy_id,
            name: name.to_string(),
            mirror: AtomicI64::new(0),
        });
        Ok(id)
    }

    pub(super) fn increment_metric(&self, id: u32, delta: i64) -> HostResult<()> {
        let metrics = locked(&self.metrics);
        let m = metrics.get(id as usize).ok_or(HostError::NotFound)?;
        if m.kind == MetricKind::Histogram || (m.kind == MetricKind::Counter && delta < 0) {
            return Err(HostError::BadArgument);
        }
        m.mirror.fetch_add(delta, Ordering::Relaxed);
        match m.envoy_id {
            Some(envoy_id) => update(self.config.0, m.kind, envoy_id, Update::Add(delta)),
            None => Ok(()),
        }
    }

    pub(super) fn record_metric(&self, id: u32, value: u64) -> HostResult<()> {
        let metrics = locked(&self.metrics);
        let m = metrics.get(id as usize).ok_or(HostError::NotFound)?;
        if m.kind == MetricKind::Counter {
            return Err(HostError::BadArgument);
        }
        if m.kind == MetricKind::Gauge {
            m.mirror
                .store(i64::try_from(value).unwrap_or(i64::MAX), Ordering::Relaxed);
        }
        match m.envoy_id {
            Some(envoy_id) => update(self.config.0, m.kind, envoy_id, Update::Set(value)),
            None => Ok(()),
        }
    }

    pub(super) fn metric_value(&self, id: u32) -> HostResult<u64> {
        let metrics = locked(&self.metrics);
        let m = metrics.get(id as usize).ok_or(HostError::NotFound)?;
        Ok(u64::try_from(m.mirror.load(Ordering::Relaxed)).unwrap_or(0))
    }

    // ---- callouts.

    /// Records a callout Envoy accepted; returns the engine's token for it.
    pub(super) fn register_call(&self, owner: CallOwner, envoy_id: u64, grpc: bool) -> u32 {
        let mut calls = locked(&self.calls);
        calls.0 = calls.0.wrapping_add(1).max(1);
        let token = calls.0;
        calls.1.insert(
            (owner, envoy_id),
            Call {
                token,
                grpc,
                reply: Reply::default(),
                dropped: 0,
            },
        );
        token
    }

    /// Runs `f` on a callout in flight.
    pub(super) fn with_call<T>(
        &self,
        owner: CallOwner,
        envoy_id: u64,
        f: impl FnOnce(&mut Call) -> T,
    ) -> Option<T> {
        locked(&self.calls).1.get_mut(&(owner, envoy_id)).map(f)
    }

    pub(super) fn take_call(&self, owner: CallOwner, envoy_id: u64) -> Option<Call> {
        locked(&self.calls).1.remove(&(owner, envoy_id))
    }

    pub(super) fn drop_calls_of(&self, stream: u32) {
        locked(&self.calls)
            .1
            .retain(|(owner, _), _| *owner != CallOwner::Stream(stream));
    }

    // ---- per-stream schedulers: work for a stream made on another thread.

    pub(super) fn ensure_scheduler(&self, stream: u32, filter: Ptr) {
        let mut schedulers = locked(&self.schedulers);
        if schedulers.contains_key(&stream) {
            return;
        }
        if let Some(api) = api() {
            // SAFETY: the live stream of the current hook, on its thread.
            let s = unsafe { (api.http_filter_scheduler_new)(filter) };
            if !s.is_null() {
                schedulers.insert(stream, EnvoyPtr(s));
            }
        }
    }

    pub(super) fn schedule(&self, stream: u32) -> HostResult<()> {
        let schedulers = locked(&self.schedulers);
        let s = schedulers.get(&stream).ok_or(HostError::NotFound)?;
        let api = api().ok_or(HostError::InternalFailure)?;
        // SAFETY: a scheduler of a live stream; commits are thread-safe.
        unsafe { (api.http_filter_scheduler_commit)(s.0, 0) };
        Ok(())
    }

    pub(super) fn drop_scheduler(&self, stream: u32) {
        if let Some(s) = locked(&self.schedulers).remove(&stream) {
            if let Some(api) = api() {
                // SAFETY: created by `ensure_scheduler`, deleted once.
                unsafe { (api.http_filter_scheduler_delete)(s.0) };
            }
        }
    }

    // ---- the root's tick: a thread that wakes the main thread's scheduler.

    pub(super) fn set_tick(&self, period: Duration) {
        let (lock, cvar) = &*self.tick;
        {
            let mut t = locked(lock);
            let next = (!period.is_zero()).then_some(period);
            if t.period == next {
                return;
            }
            t.period = next;
            t.generation = t.generation.wrapping_add(1);
        }
        cvar.notify_all();
        if period.is_zero() || self.scheduler.0.is_null() {
            return;
        }
        let mut ticker = locked(&self.ticker);
        if ticker.is_some() {
            return;
        }
        let tick = Arc::clone(&self.tick);
        let scheduler = self.scheduler;
        let spawned = std::thread::Builder::new()
            .name("portico-tick".into())
            .spawn(move || run_ticker(&tick, scheduler));
        match spawned {
            Ok(handle) => *ticker = Some(handle),
            Err(err) => log::error!("portico: cannot start the timer thread: {err}"),
        }
    }

    /// Stops the tick thread and releases Envoy's objects; the config is
    /// being destroyed.
    pub(super) fn shut_down(&self) {
        {
            let (lock, cvar) = &*self.tick;
            locked(lock).stop = true;
            cvar.notify_all();
        }
        if let Some(handle) = locked(&self.ticker).take() {
            let _ = handle.join();
        }
        let streams: Vec<u32> = locked(&self.schedulers).keys().copied().collect();
        for s in streams {
            self.drop_scheduler(s);
        }
        if let Some(api) = api() {
            if !self.scheduler.0.is_null() {
                // SAFETY: created in `new`; the tick thread has stopped.
                unsafe { (api.http_filter_config_scheduler_delete)(self.scheduler.0) };
            }
        }
    }
}

fn define_in_envoy(config: Ptr, kind: MetricKind, name: &str) -> HostResult<usize> {
    let api = api().ok_or(HostError::InternalFailure)?;
    let define = match kind {
        MetricKind::Counter => api.http_filter_config_define_counter,
        MetricKind::Gauge => api.http_filter_config_define_gauge,
        MetricKind::Histogram => api.http_filter_config_define_histogram,
    };
    let mut envoy_id = 0usize;
    // SAFETY: the configuration's pointer; a name buffer for the call.
    let result = unsafe {
        define(
            config,
            ModuleBuffer::of(name.as_bytes()),
            std::ptr::null_mut(),
            0,
            &mut envoy_id,
        )
    };
    if result == abi::METRICS_SUCCESS {
        Ok(envoy_id)
    } else {
        Err(HostError::Other(result))
    }
}

enum Update {
    Add(i64),
    Set(u64),
}

fn update(config: Ptr, kind: MetricKind, envoy_id: usize, op: Update) -> HostResult<()> {
    let api = api().ok_or(HostError::InternalFailure)?;
    let (f, value) = match (kind, op) {
        (MetricKind::Counter, Update::Add(d)) => {
            (api.http_filter_config_increment_counter, d.unsigned_abs())
        }
        (MetricKind::Gauge, Update::Add(d)) if d >= 0 => {
            (api.http_filter_config_increment_gauge, d.unsigned_abs())
        }
        (MetricKind::Gauge, Update::Add(d)) => {
            (api.http_filter_config_decrement_gauge, d.unsigned_abs())
        }
        (MetricKind::Gauge, Update::Set(v)) => (api.http_filter_config_set_gauge, v),
        (MetricKind::Histogram, Update::Set(v)) => {
            (api.http_filter_config_record_histogram_value, v)
        }
        _ => return Err(HostError::BadArgument),
    };
    // SAFETY: an id this configuration defined; no labels.
    let result = unsafe { f(config, envoy_id, std::ptr::null_mut(), 0, value) };
    if result == abi::METRICS_SUCCESS {
        Ok(())
    } else {
        Err(HostError::Other(result))
    }
}

fn run_ticker(tick: &(Mutex<Tick>, Condvar), scheduler: EnvoyPtr) {
    let (lock, cvar) = tick;
    let mut t = locked(lock);
    loop {
        if t.stop {
            return;
        }
        let Some(period) = t.period else {
            t = cvar
                .wait(t)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            continue;
        };
        let generation = t.generation;
        let (next, timeout) = cvar
            .wait_timeout(t, period)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        t = next;
        if t.stop {
            return;
        }
        if timeout.timed_out() && t.generation == generation {
            if let Some(api) = api() {
                // SAFETY: the config scheduler lives until `shut_down`
                // has joined this thread.
                unsafe { (api.http_filter_config_scheduler_commit)(scheduler.0, TICK_EVENT) };
            }
        }
    }
}
