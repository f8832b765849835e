//! Timers of one VM, root and per-stream alike, on the host's single tick.

use crate::api::services::{RootTimer, StreamTimer};
use crate::api::{Plugin, TimerId};
use crate::host::{Host, LogLevel};
use std::time::{Duration, UNIX_EPOCH};

pub(super) enum Owner<P: Plugin> {
    Root(RootTimer<P>),
    Stream(u32, StreamTimer<P::Filter>),
}

pub(super) struct Timer<P: Plugin> {
    pub(super) id: u64,
    pub(super) due: u128,
    pub(super) period: Option<Duration>,
    pub(super) owner: Owner<P>,
}

pub(super) struct Timers<P: Plugin> {
    list: Vec<Timer<P>>,
    /// Periodic timers cancelled while they ran: not re-armed.
    cancelled: Vec<u64>,
    next_id: u64,
    /// When the host's tick is set to fire next.
    armed: Option<u128>,
}

pub(super) fn nanos(host: &dyn Host) -> u128 {
    host.now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
}

impl<P: Plugin> Timers<P> {
    pub(super) fn new() -> Self {
        Timers {
            list: Vec::new(),
            cancelled: Vec::new(),
            next_id: 0,
            armed: None,
        }
    }

    pub(super) fn add(
        &mut self,
        host: &dyn Host,
        after: Duration,
        period: Option<Duration>,
        owner: Owner<P>,
    ) -> TimerId {
        self.next_id += 1;
        let id = self.next_id;
        let due = nanos(host) + after.as_nanos();
        self.list.push(Timer {
            id,
            due,
            period,
            owner,
        });
        if self.armed.is_none_or(|armed| due < armed) {
            self.arm(host, after, due);
        }
        TimerId(id)
    }

    pub(super) fn cancel(&mut self, id: TimerId) {
        let before = self.list.len();
        self.list.retain(|t| t.id != id.0);
        if self.list.len() == before {
            // Possibly the periodic timer now running: keep it from re-arming.
            self.cancelled.push(id.0);
        }
    }

    /// The earliest timer due at `now`, taken out of the list.
    pub(super) fn take_due(&mut self, now: u128) -> Option<Timer<P>> {
        let i = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, t)| t.due <= now)
            .min_by_key(|(_, t)| t.due)
            .map(|(i, _)| i)?;
        Some(self.list.swap_remove(i))
    }

    /// Puts a periodic timer back, one period after `now`, unless it was
    /// cancelled while it ran.
    pub(super) fn repeat(&mut self, mut timer: Timer<P>, now: u128) {
        let hit = self.cancelled.contains(&timer.id);
        self.cancelled.retain(|id| *id != timer.id);
        if let (false, Some(period)) = (hit, timer.period) {
            timer.due = now + period.as_nanos();
            self.list.push(timer);
        }
    }

    /// The tick fired: nothing is armed until `rearm`.
    pub(super) fn fired(&mut self) {
        self.armed = None;
    }

    pub(super) fn rearm(&mut self, host: &dyn Host) {
        let now = nanos(host);
        match self.list.iter().map(|t| t.due).min() {
            Some(due) => {
                let after = Duration::from_nanos(
                    u64::try_from(due.saturating_sub(now)).unwrap_or(u64::MAX),
                );
                self.arm(host, after, due);
            }
            None => {
                self.armed = None;
                let _ = host.set_tick_period(Duration::ZERO);
            }
        }
    }

    fn arm(&mut self, host: &dyn Host, after: Duration, due: u128) {
        // The host ticks in whole milliseconds; round up so a timer never fires early.
        let ms = after.as_nanos().div_ceil(1_000_000).max(1);
        let period = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX));
        match host.set_tick_period(period) {
            Ok(()) => self.armed = Some(due),
            Err(err) => host.log(
                LogLevel::Error,
                &format!("portico: cannot arm timer: {err}"),
            ),
        }
    }

    /// A stream ended: its timers go with it.
    pub(super) fn drop_stream(&mut self, stream: u32) {
        self.list
            .retain(|t| !matches!(t.owner, Owner::Stream(id, _) if id == stream));
    }

    pub(super) fn clear(&mut self) {
        self.list.clear();
    }
}
