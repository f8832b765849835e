//! Buckets shared by every worker's VM, in proxy-wasm shared data.
//!
//! Envoy's shared data has compare-and-swap on existing keys but creates a
//! missing key whatever CAS the writer passed, and it cannot delete keys.
//! So buckets cannot be keys created on first use: two workers creating the
//! same bucket at once would both succeed and one consumption would be
//! lost, and a flood of distinct keys would grow memory without end.
//!
//! Instead there is one fixed array of slots per Envoy process (per
//! `vm_id`), created when the first VM configures and reused by every later
//! configuration: a configuration with more `max_buckets` than any before
//! adds the missing slots, one with fewer uses the first ones. Memory is
//! therefore bounded by the largest `max_buckets` ever configured, however
//! often the configuration changes. Every write after creation is a CAS on
//! an existing key.
//!
//! Each slot value carries the configuration's tag (a keyed hash of the
//! configuration). A lookup matches a slot only if tag and bucket key are
//! both its own, so an old configuration's buckets never leak into a new
//! one. Each slot also says when its bucket will be full again: after that
//! it is free for any configuration, since a full bucket is the same as a
//! fresh one, and a sweep timer empties such slots.
//!
//! A bucket key's home slot is SipHash of the key under a per-process secret
//! (`secret.rs`), so clients cannot aim keys at a slot. The key probes
//! [`PROBES`] slots from there: its own bucket if one of them has it, else
//! a free slot, else it **evicts** the probed bucket that will be full
//! soonest (the one that has refilled most). A key never seen before
//! therefore always gets a fresh bucket, whatever other keys fill the
//! table; the evicted key at worst gets back the few tokens its bucket was
//! still missing.

use crate::bucket::{Decision, Limit, State};
use crate::secret::CREATE_ONLY;
use crate::siphash::SipKey;
use portico::host::HostError;
use portico::Env;

/// Slots tried per key.
pub const PROBES: u32 = 8;
/// Full passes over the probes before giving up under contention.
pub const ATTEMPTS: u32 = 32;
/// Slots examined per sweep tick.
pub const SWEEP_BATCH: u32 = 1024;

const PREFIX: &str = "portico.ratelimit|slot|";
/// How many slots exist (u32 LE): the largest `max_buckets` created so far.
const CREATED: &str = "portico.ratelimit|slots_created";
/// tag (8) + empty point (16) + stamp (8) + full-at (8), then the key.
const HEADER: usize = 8 + 16 + 8 + 8;

pub struct Table {
    slots: u32,
    /// The configuration's tag, stored in each of its slots.
    tag: u64,
    secret: SipKey,
}

/// Where a request's bucket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Its own bucket, or a free slot.
    Slot,
    /// Every probed slot held a live bucket; the one nearest to full was
    /// replaced.
    Evicted,
}

/// A decoded slot.
struct Slot<'a> {
    tag: u64,
    state: State,
    full_ns: u64,
    key: &'a [u8],
}

impl Table {
    /// Opens the process's table for a configuration tagged `tag`, creating
    /// the slots it needs that no VM has created yet.
    pub fn open(env: &Env<'_>, slots: u32, tag: u64, secret: SipKey) -> Result<Table, HostError> {
        let table = Table { slots, tag, secret };
        let created = |env: &Env<'_>| -> Result<u32, HostError> {
            Ok(env
                .shared_get(CREATED)?
                .and_then(|(v, _)| v.try_into().ok())
                .map_or(0, u32::from_le_bytes))
        };
        let have = created(env)?;
        if have >= slots {
            return Ok(table);
        }
        // Create-only writes: a slot another VM created meanwhile (and
        // which may already hold a bucket) is left alone.
        for slot in have..slots {
            if env.shared_get(&slot_key(slot))?.is_none() {
                match env.shared_set(&slot_key(slot), b"", Some(CREATE_ONLY)) {
                    Ok(()) | Err(HostError::CasMismatch) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // Only a shortcut for later opens: if two first VMs race and the
        // smaller count wins, a later open re-checks slots that exist.
        env.shared_update(CREATED, |v| {
            let now = v
                .and_then(|v| v.try_into().ok())
                .map_or(0, u32::from_le_bytes);
            let write = (slots > now).then(|| slots.to_le_bytes().to_vec());
            (write, ())
        })?;
        Ok(table)
    }

    fn home(&self, key: &str) -> u32 {
        let h = self.secret.hash(&[&self.tag.to_le_bytes(), key.as_bytes()]);
        u32::try_from(h % u64::from(self.slots)).unwrap_or(0)
    }

    /// Takes a token from the bucket of `key`, whose limit is `limit`.
    pub fn take(
        &self,
        env: &Env<'_>,
        key: &str,
        limit: &Limit,
        now_ns: u64,
    ) -> Result<(Decision, Placement), HostError> {
        let home = self.home(key);
        for _ in 0..ATTEMPTS {
            let mut found: Option<(u32, u32, State)> = None;
            let mut free: Option<(u32, u32)> = None;
            // The live bucket nearest to full: (slot, cas, full_ns).
            let mut victim: Option<(u32, u32, u64)> = None;
            for p in 0..PROBES.min(self.slots) {
                let slot = (home + p) % self.slots;
                let Some((value, cas)) = env.shared_get(&slot_key(slot))? else {
                    continue;
                };
                match decode(&value) {
                    Some(s) if s.tag == self.tag && s.key == key.as_bytes() => {
                        found = Some((slot, cas, s.state));
                        break;
                    }
                    Some(s) if s.full_ns > now_ns => {
                        let nearer = victim.is_none_or(|v| s.full_ns < v.2);
                        victim = victim.filter(|_| !nearer).or(Some((slot, cas, s.full_ns)));
                    }
                    _ if free.is_none() => free = Some((slot, cas)),
                    _ => {}
                }
            }
            let (slot, cas, state, placement) = match (found, free, victim) {
                (Some(f), _, _) => (f.0, f.1, Some(f.2), Placement::Slot),
                (None, Some(f), _) => (f.0, f.1, None, Placement::Slot),
                (None, None, Some(v)) => (v.0, v.1, None, Placement::Evicted),
                // Fewer slots than probes, none readable.
                (None, None, None) => return Err(HostError::NotFound),
            };
            let (next, decision) = limit.take(state, now_ns);
            if !decision.allowed && state.is_some() {
                // Nothing changes on a refusal: no write, no contention.
                return Ok((decision, placement));
            }
            let value = encode(self.tag, next, limit.full_ns(next), key);
            match env.shared_set(&slot_key(slot), &value, Some(cas)) {
                Ok(()) => return Ok((decision, placement)),
                Err(HostError::CasMismatch) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(HostError::CasMismatch)
    }

    /// Empties slots (of any configuration) whose bucket has refilled, from
    /// `from` on. Returns where the next sweep starts.
    pub fn sweep(&self, env: &Env<'_>, from: u32, now_ns: u64) -> u32 {
        let count = SWEEP_BATCH.min(self.slots);
        for i in 0..count {
            let slot = (from + i) % self.slots;
            let key = slot_key(slot);
            let Ok(Some((value, cas))) = env.shared_get(&key) else {
                continue;
            };
            if decode(&value).is_some_and(|s| s.full_ns <= now_ns) {
                // A CAS conflict means a request just used it: keep it.
                let _ = env.shared_set(&key, b"", Some(cas));
            }
        }
        (from + count) % self.slots
    }

    /// Slots holding a bucket (for tests and diagnostics; reads every slot).
    pub fn occupied(&self, env: &Env<'_>) -> u32 {
        (0..self.slots)
            .filter(|s| matches!(env.shared_get(&slot_key(*s)), Ok(Some((v, _))) if !v.is_empty()))
            .count() as u32
    }
}

fn slot_key(slot: u32) -> String {
    format!("{PREFIX}{slot}")
}

fn encode(tag: u64, state: State, full_ns: u64, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + key.len());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&state.empty_at.to_le_bytes());
    out.extend_from_slice(&state.stamp_ns.to_le_bytes());
    out.extend_from_slice(&full_ns.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// `None` for an empty (or unreadable) slot.
fn decode(value: &[u8]) -> Option<Slot<'_>> {
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(value.get(at..at + 8)?.try_into().ok()?))
    };
    Some(Slot {
        tag: u64_at(0)?,
        state: State {
            empty_at: u128::from_le_bytes(value.get(8..24)?.try_into().ok()?),
            stamp_ns: u64_at(24)?,
        },
        full_ns: u64_at(32)?,
        key: value.get(HEADER..)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_values_round_trip() {
        let state = State {
            empty_at: 123_456_789_000,
            stamp_ns: 77,
        };
        let v = encode(0xfeed, state, 99, "0|user=5:alice");
        let s = decode(&v).unwrap();
        assert_eq!(
            (s.tag, s.state, s.full_ns, s.key),
            (0xfeed, state, 99, &b"0|user=5:alice"[..])
        );
        assert!(decode(b"").is_none());
        assert!(decode(&v[..HEADER - 1]).is_none());
    }
}
