//! Buckets shared by every worker's VM, in proxy-wasm shared data.
//!
//! Envoy's shared data has compare-and-swap on existing keys but creates a
//! missing key whatever CAS the writer passed, and it cannot delete keys.
//! So buckets cannot be keys created on first use: two workers creating the
//! same bucket at once would both succeed and one consumption would be
//! lost, and a flood of distinct keys would grow memory without end.
//!
//! Instead the table is a fixed array of `max_buckets` slots, created once
//! when the first VM configures (before any traffic), and every later write
//! is a CAS on an existing key. A bucket key hashes to a slot and probes
//! [`PROBES`] slots from there. A slot is free when it is empty or holds a
//! bucket that has refilled completely, since such a bucket is the same as a
//! new one. When every probed slot holds a live bucket, the request uses its
//! rule's overflow bucket, so a flood of new keys is still limited as a
//! whole. A sweep timer empties full buckets, so idle keys do not hold
//! memory.

use crate::bucket::{Decision, EmptyAt, Limit};
use portico::host::HostError;
use portico::Env;

/// Slots tried per key.
pub const PROBES: u32 = 8;
/// Full passes over the probes before giving up under contention.
pub const ATTEMPTS: u32 = 32;
/// Slots examined per sweep tick.
pub const SWEEP_BATCH: u32 = 1024;

const HEADER: usize = 2 + 16;

pub struct Table {
    /// Prefix of every key of this table; it names the configuration, so a
    /// changed configuration starts from fresh buckets.
    base: String,
    slots: u32,
    seed: u64,
}

/// Where a request's bucket lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Slot,
    /// Every probed slot was taken by a live bucket.
    Overflow,
}

impl Table {
    /// Opens the table, creating its slots if no VM has yet. `identity` is a
    /// digest of the configuration.
    pub fn open(
        env: &Env<'_>,
        slots: u32,
        rules: usize,
        identity: u64,
    ) -> Result<Table, HostError> {
        let table = Table {
            base: format!("portico.ratelimit|{identity:016x}|{slots}|"),
            slots,
            seed: identity,
        };
        let ready = format!("{}ready", table.base);
        if env.shared_get(&ready)?.is_some() {
            return Ok(table);
        }
        // Only at the first start of this configuration: no request can
        // have used a slot yet, so unconditional writes lose nothing.
        for slot in 0..slots {
            env.shared_set(&table.slot_key(slot), b"", None)?;
        }
        for rule in 0..rules {
            env.shared_set(&table.overflow_key(rule), b"", None)?;
        }
        env.shared_set(&ready, b"1", None)?;
        Ok(table)
    }

    fn slot_key(&self, slot: u32) -> String {
        format!("{}s{slot}", self.base)
    }

    fn overflow_key(&self, rule: usize) -> String {
        format!("{}overflow{rule}", self.base)
    }

    fn home(&self, key: &str) -> u32 {
        let h = self
            .seed
            .to_le_bytes()
            .iter()
            .chain(key.as_bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
            });
        // Fold the high bits in: FNV's low bits alone spread poorly.
        u32::try_from((h ^ (h >> 32)) % u64::from(self.slots)).unwrap_or(0)
    }

    /// Takes a token from the bucket of `key` (which belongs to `rule`).
    /// `limits[r]` is the limit of rule `r`, for judging other rules' slots.
    pub fn take(
        &self,
        env: &Env<'_>,
        rule: usize,
        key: &str,
        limits: &[Limit],
        now_ns: u128,
    ) -> Result<(Decision, Placement), HostError> {
        let limit = limits.get(rule).copied().ok_or(HostError::BadArgument)?;
        let home = self.home(key);
        for _ in 0..ATTEMPTS {
            let mut free: Option<(u32, u32)> = None;
            let mut found: Option<(u32, u32, EmptyAt)> = None;
            for p in 0..PROBES.min(self.slots) {
                let slot = (home + p) % self.slots;
                let Some((value, cas)) = env.shared_get(&self.slot_key(slot))? else {
                    continue;
                };
                match decode(&value) {
                    Some((r, state, k)) if r == rule && k == key.as_bytes() => {
                        found = Some((slot, cas, state));
                        break;
                    }
                    Some((r, state, _)) => {
                        let idle = limits.get(r).is_none_or(|l| l.is_full(state, now_ns));
                        if idle && free.is_none() {
                            free = Some((slot, cas));
                        }
                    }
                    None if free.is_none() => free = Some((slot, cas)),
                    None => {}
                }
            }
            let (slot, cas, state) = match (found, free) {
                (Some(f), _) => (f.0, f.1, Some(f.2)),
                (None, Some((slot, cas))) => (slot, cas, None),
                (None, None) => {
                    return self
                        .take_overflow(env, rule, limit, now_ns)
                        .map(|d| (d, Placement::Overflow))
                }
            };
            let (next, decision) = limit.take(state, now_ns);
            if !decision.allowed && state.is_some() {
                // Nothing changes on a refusal: no write, no contention.
                return Ok((decision, Placement::Slot));
            }
            match env.shared_set(&self.slot_key(slot), &encode(rule, next, key), Some(cas)) {
                Ok(()) => return Ok((decision, Placement::Slot)),
                Err(HostError::CasMismatch) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(HostError::CasMismatch)
    }

    fn take_overflow(
        &self,
        env: &Env<'_>,
        rule: usize,
        limit: Limit,
        now_ns: u128,
    ) -> Result<Decision, HostError> {
        let key = self.overflow_key(rule);
        env.shared_update(&key, |value| {
            let state = value
                .and_then(|v| v.try_into().ok())
                .map(u128::from_le_bytes);
            let (next, decision) = limit.take(state, now_ns);
            let write = decision.allowed || state.is_none();
            (write.then(|| next.to_le_bytes().to_vec()), decision)
        })
    }

    /// Empties slots whose bucket has refilled, from `from` on. Returns
    /// where the next sweep starts.
    pub fn sweep(&self, env: &Env<'_>, from: u32, limits: &[Limit], now_ns: u128) -> u32 {
        let count = SWEEP_BATCH.min(self.slots);
        for i in 0..count {
            let slot = (from + i) % self.slots;
            let key = self.slot_key(slot);
            let Ok(Some((value, cas))) = env.shared_get(&key) else {
                continue;
            };
            let idle = match decode(&value) {
                Some((r, state, _)) => limits.get(r).is_none_or(|l| l.is_full(state, now_ns)),
                None => false,
            };
            if idle {
                // A CAS conflict means a request just used it: keep it.
                let _ = env.shared_set(&key, b"", Some(cas));
            }
        }
        (from + count) % self.slots
    }

    /// Slots holding a bucket (for tests and diagnostics; reads every slot).
    pub fn occupied(&self, env: &Env<'_>) -> u32 {
        (0..self.slots)
            .filter(
                |s| matches!(env.shared_get(&self.slot_key(*s)), Ok(Some((v, _))) if !v.is_empty()),
            )
            .count() as u32
    }
}

fn encode(rule: usize, state: EmptyAt, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + key.len());
    out.extend_from_slice(&u16::try_from(rule).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&state.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// `(rule, state, key)`; `None` for an empty (or unreadable) slot.
fn decode(value: &[u8]) -> Option<(usize, EmptyAt, &[u8])> {
    let rule = u16::from_le_bytes(value.get(..2)?.try_into().ok()?);
    let state = u128::from_le_bytes(value.get(2..HEADER)?.try_into().ok()?);
    Some((usize::from(rule), state, value.get(HEADER..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_values_round_trip() {
        let v = encode(3, 123_456_789_000, "0|user=5:alice");
        assert_eq!(
            decode(&v),
            Some((3, 123_456_789_000, &b"0|user=5:alice"[..]))
        );
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"\x01"), None);
    }
}
