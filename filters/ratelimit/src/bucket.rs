//! Token-bucket arithmetic, exact and in integers.
//!
//! Envoy's `local_ratelimit` refills continuously at `tokens_per_fill` per
//! `fill_interval` up to `max_tokens` (its `AtomicTokenBucketImpl`), starting
//! full. The whole state is one number, the instant at which the bucket was
//! (or would have been) empty; the tokens at `now` follow from it. Instants
//! are kept in units of nanoseconds × `tokens_per_fill`, so one token is
//! exactly `fill_interval` nanoseconds of those units and nothing rounds.

/// Clock readings this much behind a bucket's are concurrency, not a step.
pub const JITTER_NS: u64 = 1_000_000_000;

/// A bucket's shape, from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_tokens: u64,
    pub tokens_per_fill: u64,
    pub fill_interval_ns: u64,
}

/// Outcome of taking a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Whole tokens left after this request.
    pub remaining: u64,
    /// Seconds until the next whole token (0 while one is left).
    pub reset_seconds: u64,
}

/// Where a bucket would be empty, in scaled units.
pub type EmptyAt = u128;

/// A bucket's state: its empty point, and the clock reading when it was
/// written (to notice a clock that went back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub empty_at: EmptyAt,
    pub stamp_ns: u64,
}

impl Limit {
    /// `now_ns` in scaled units, moved forward by a full bucket's worth of
    /// tokens. Without that shift a bucket would start with fewer than
    /// `max_tokens` whenever the clock reads less than `max_tokens`
    /// intervals (Envoy's monotonic clock starts near zero at boot).
    fn scaled(&self, now_ns: u64) -> u128 {
        u128::from(now_ns)
            .saturating_mul(u128::from(self.tokens_per_fill))
            .saturating_add(self.capacity())
    }

    /// A full bucket, in scaled units.
    fn capacity(&self) -> u128 {
        u128::from(self.max_tokens).saturating_mul(self.token())
    }

    fn token(&self) -> u128 {
        u128::from(self.fill_interval_ns)
    }

    /// The state of a full bucket at `now`: the empty point lies `max_tokens`
    /// tokens back.
    fn full_at(&self, now: u128) -> EmptyAt {
        now.saturating_sub(self.capacity())
    }

    /// Takes one token if there is one. `state` is `None` for a bucket never
    /// used (full). Returns the new state and the decision.
    pub fn take(&self, state: Option<State>, now_ns: u64) -> (State, Decision) {
        let (empty_at, now_ns) = match state {
            Some(s) => self.rebase(s, now_ns),
            None => (0, now_ns),
        };
        let now = self.scaled(now_ns);
        // Tokens beyond max_tokens are not kept: clamp the empty point.
        let empty_at = empty_at.max(self.full_at(now));
        let allowed = now.saturating_sub(empty_at) >= self.token();
        let empty_at = if allowed {
            empty_at + self.token()
        } else {
            empty_at
        };
        let next = State {
            empty_at,
            stamp_ns: now_ns,
        };
        (next, self.decision(allowed, empty_at, now))
    }

    /// The empty point of `s` and the time to judge it at, for a clock that
    /// reads `now_ns`. A reading earlier than the one `s` was written at
    /// counts as no time passed:
    /// - by less than [`JITTER_NS`], it is another worker that read the
    ///   clock just before the writer did: judge at the writer's reading;
    /// - by more, the clock was stepped back (a wall clock): the whole time
    ///   line moves back by the step, so the bucket keeps exactly the tokens
    ///   it had and refills from the new reading on.
    fn rebase(&self, s: State, now_ns: u64) -> (EmptyAt, u64) {
        let back = s.stamp_ns.saturating_sub(now_ns);
        if back == 0 {
            return (s.empty_at, now_ns);
        }
        if back < JITTER_NS {
            return (s.empty_at, s.stamp_ns);
        }
        let shift = u128::from(back).saturating_mul(u128::from(self.tokens_per_fill));
        (s.empty_at.saturating_sub(shift), now_ns)
    }

    /// When the bucket in state `s` (written at `s.stamp_ns`) will be full
    /// again, in nanoseconds of the same clock: after that its slot holds
    /// nothing a fresh bucket would not.
    pub fn full_ns(&self, s: State) -> u64 {
        // Full at scaled `empty_at + capacity`, which is `empty_at` ns × tpf
        // once the shift of `scaled` is taken off.
        let ns = s.empty_at.div_ceil(u128::from(self.tokens_per_fill.max(1)));
        u64::try_from(ns).unwrap_or(u64::MAX).max(s.stamp_ns)
    }

    fn decision(&self, allowed: bool, empty_at: EmptyAt, now: u128) -> Decision {
        let credit = now.saturating_sub(empty_at);
        let remaining = u64::try_from(credit / self.token()).unwrap_or(u64::MAX);
        let reset_seconds = if remaining >= 1 {
            0
        } else {
            // Scaled units until one token, back to nanoseconds, rounded up.
            let missing = self.token() - credit;
            let tpf = u128::from(self.tokens_per_fill.max(1));
            let wait_ns = missing.div_ceil(tpf);
            u64::try_from(wait_ns.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
        };
        Decision {
            allowed,
            remaining,
            reset_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const T0: u64 = 1_767_225_600 * SECOND;

    fn limit(max: u64, per_fill: u64, interval_s: u64) -> Limit {
        Limit {
            max_tokens: max,
            tokens_per_fill: per_fill,
            fill_interval_ns: interval_s * 1_000_000_000,
        }
    }

    /// Takes `n` tokens at `now`, returning how many were allowed.
    fn burst(l: &Limit, state: &mut Option<State>, now: u64, n: u32) -> u32 {
        let mut allowed = 0;
        for _ in 0..n {
            let (s, d) = l.take(*state, now);
            *state = Some(s);
            allowed += u32::from(d.allowed);
        }
        allowed
    }

    #[test]
    fn a_new_bucket_is_full_and_a_burst_gets_max_tokens() {
        let l = limit(5, 1, 10);
        let mut s = None;
        assert_eq!(burst(&l, &mut s, T0, 20), 5);
    }

    #[test]
    fn refills_tokens_per_fill_each_interval_up_to_max() {
        let l = limit(4, 2, 10);
        let mut s = None;
        assert_eq!(burst(&l, &mut s, T0, 10), 4);
        assert_eq!(
            burst(&l, &mut s, T0 + 9 * SECOND, 10),
            1,
            "0.9 interval: 1.8 tokens"
        );
        assert_eq!(burst(&l, &mut s, T0 + 19 * SECOND, 10), 2);
        // A long pause refills to max_tokens, not beyond.
        assert_eq!(burst(&l, &mut s, T0 + 1000 * SECOND, 10), 4);
    }

    #[test]
    fn remaining_and_reset_as_envoy_reports_them() {
        let l = limit(3, 1, 10);
        let (s, d) = l.take(None, T0);
        assert_eq!((d.allowed, d.remaining, d.reset_seconds), (true, 2, 0));
        let (s, d) = l.take(Some(s), T0);
        assert_eq!((d.remaining, d.reset_seconds), (1, 0));
        let (s, d) = l.take(Some(s), T0);
        assert_eq!((d.allowed, d.remaining, d.reset_seconds), (true, 0, 10));
        let (_, d) = l.take(Some(s), T0 + 2500 * 1_000_000);
        assert_eq!((d.allowed, d.remaining, d.reset_seconds), (false, 0, 8));
    }

    #[test]
    fn fractional_rates_do_not_drift() {
        // 3 tokens per 1 s: a third of a second per token, exactly.
        let l = Limit {
            max_tokens: 1,
            tokens_per_fill: 3,
            fill_interval_ns: 1_000_000_000,
        };
        let mut s = None;
        let mut allowed = 0;
        for ms in 0..3000u64 {
            allowed += burst(&l, &mut s, T0 + ms * 1_000_000, 1);
        }
        assert_eq!(allowed, 9, "1 at start, then one every 1/3 s for 3 s");
    }

    #[test]
    fn a_clock_that_steps_back_counts_as_no_time_passed() {
        // Used 1 of 100 tokens, then the clock steps back an hour: the
        // bucket still has its 99, and refills from the new reading on.
        let l = limit(100, 100, 1);
        let mut s = None;
        assert_eq!(burst(&l, &mut s, T0, 1), 1);
        let back = T0 - 3600 * SECOND;
        let (next, d) = l.take(s, back);
        assert!(d.allowed);
        assert_eq!((d.remaining, d.reset_seconds), (98, 0));
        s = Some(next);
        assert_eq!(burst(&l, &mut s, back, 200), 98, "no extra tokens either");
        // One second later on the new time line: full again.
        assert_eq!(burst(&l, &mut s, back + SECOND, 200), 100);
    }

    #[test]
    fn a_new_bucket_is_full_even_when_the_clock_reads_near_zero() {
        // Envoy's monotonic clock counts from boot: 5 s in, a bucket of 9
        // tokens an hour each still starts with all 9.
        let l = limit(9, 1, 3600);
        let mut s = None;
        assert_eq!(burst(&l, &mut s, 5 * SECOND, 20), 9);
        let huge = Limit {
            max_tokens: u64::from(u32::MAX),
            tokens_per_fill: 1,
            fill_interval_ns: 365 * 86_400 * SECOND,
        };
        let (_, d) = huge.take(None, T0);
        assert_eq!(d.remaining, u64::from(u32::MAX) - 1);
    }

    #[test]
    fn a_worker_that_read_the_clock_a_little_earlier_gains_nothing() {
        // Worker B wrote at T0 + 1 ms; worker A read T0 just before. A is
        // judged at B's reading, and the stamp never moves back, so the
        // 1 ms is not refilled twice.
        let l = limit(3, 1, 1);
        let (s, _) = l.take(None, T0);
        let (b, _) = l.take(Some(s), T0 + 1_000_000);
        let (a, da) = l.take(Some(b), T0);
        let (a2, da2) = l.take(Some(b), T0 + 1_000_000);
        assert_eq!((a, da), (a2, da2));
        assert_eq!(a.stamp_ns, T0 + 1_000_000);
        // Three taken by T0 + 1 ms; the first comes back 1 s after the
        // bucket emptied (T0 + 1 s), not a nanosecond earlier.
        let mut s = Some(a);
        assert_eq!(burst(&l, &mut s, T0 + SECOND - 1, 5), 0);
        assert_eq!(burst(&l, &mut s, T0 + SECOND, 5), 1);
    }

    #[test]
    fn full_ns_is_when_the_bucket_has_refilled() {
        let l = limit(2, 1, 10);
        let (s, _) = l.take(None, T0);
        assert_eq!(l.full_ns(s), T0 + 10 * SECOND);
        let (s, _) = l.take(Some(s), T0);
        assert_eq!(l.full_ns(s), T0 + 20 * SECOND);
        // Taking again after it refilled starts from full.
        let (s, _) = l.take(Some(s), T0 + 100 * SECOND);
        assert_eq!(l.full_ns(s), T0 + 110 * SECOND);
    }
}
