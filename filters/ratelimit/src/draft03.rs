//! The `x-ratelimit-*` headers (draft-polli-ratelimit-headers-03) the
//! global mode derives from a Rate Limit Service's answer, as native's
//! `XRateLimitHeaderUtils` does: the status closest to its limit (the
//! first with the fewest remaining) gives the numbers, and every status
//! with a known window adds its quota policy (`10, 10;w=60;name="per-ip"`).

use crate::rls_proto::{unit, DescriptorStatus};
use std::fmt::Write;

/// A unit's window in seconds; `0` for one that has none (`UNKNOWN`).
fn window_seconds(u: i32) -> u64 {
    match u {
        unit::SECOND => 1,
        unit::MINUTE => 60,
        unit::HOUR => 3_600,
        unit::DAY => 86_400,
        unit::WEEK => 7 * 86_400,
        unit::MONTH => 30 * 86_400,
        unit::YEAR => 365 * 86_400,
        _ => 0,
    }
}

/// `x-ratelimit-limit`, `-remaining` and `-reset`, or nothing when no
/// status carries a limit.
pub fn headers(statuses: &[DescriptorStatus]) -> Vec<(&'static str, String)> {
    let mut closest: Option<&DescriptorStatus> = None;
    let mut policy = String::new();
    for status in statuses {
        let Some(limit) = &status.current_limit else {
            continue;
        };
        if closest.is_none_or(|c| status.limit_remaining < c.limit_remaining) {
            closest = Some(status);
        }
        let window = window_seconds(limit.unit);
        if window > 0 {
            let _ = write!(policy, ", {};w={window}", limit.requests_per_unit);
            if !limit.name.is_empty() {
                let _ = write!(policy, ";name=\"{}\"", limit.name);
            }
        }
    }
    let Some(status) = closest else {
        return Vec::new();
    };
    let per_unit = status
        .current_limit
        .as_ref()
        .map_or(0, |l| l.requests_per_unit);
    let reset = status
        .duration_until_reset
        .as_ref()
        .map_or(0, |d| d.seconds);
    vec![
        ("x-ratelimit-limit", format!("{per_unit}{policy}")),
        ("x-ratelimit-remaining", status.limit_remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rls_proto::{Duration, RateLimit};

    fn status(per_unit: u32, u: i32, name: &str, remaining: u32, reset: i64) -> DescriptorStatus {
        DescriptorStatus {
            code: 1,
            current_limit: Some(RateLimit {
                requests_per_unit: per_unit,
                unit: u,
                name: name.into(),
            }),
            limit_remaining: remaining,
            duration_until_reset: Some(Duration {
                seconds: reset,
                nanos: 0,
            }),
        }
    }

    #[test]
    fn the_closest_limit_gives_the_numbers_and_every_window_its_policy() {
        let got = headers(&[
            status(1000, unit::HOUR, "", 900, 3000),
            status(10, unit::MINUTE, "per-ip", 3, 42),
            DescriptorStatus::default(),
        ]);
        assert_eq!(
            got,
            vec![
                (
                    "x-ratelimit-limit",
                    "10, 1000;w=3600, 10;w=60;name=\"per-ip\"".to_string()
                ),
                ("x-ratelimit-remaining", "3".to_string()),
                ("x-ratelimit-reset", "42".to_string()),
            ]
        );
    }

    #[test]
    fn ties_keep_the_first_and_no_limit_means_no_headers() {
        let got = headers(&[
            status(5, unit::SECOND, "a", 1, 1),
            status(7, unit::UNKNOWN, "b", 1, 9),
        ]);
        assert_eq!(got[0].1, "5, 5;w=1;name=\"a\"");
        assert_eq!(got[2].1, "1");
        assert!(headers(&[DescriptorStatus::default()]).is_empty());
    }
}
