//! `%START_TIME%` in Envoy's default format, `2006-01-02T15:04:05.000Z`,
//! without a date crate: the civil date follows from the day count.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Appends `time` (UTC) with millisecond precision.
pub fn push_rfc3339_millis(out: &mut String, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, secs_of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        since.subsec_millis()
    );
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar. Works in 400-year eras (146 097 days each) counted from
/// 0000-03-01, so that the leap day falls at the end of a counted year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    const DAYS_0000_03_01_TO_EPOCH: u64 = 719_468;
    let z = days + DAYS_0000_03_01_TO_EPOCH;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> String {
        let mut s = String::new();
        push_rfc3339_millis(
            &mut s,
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis),
        );
        s
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(1_709_164_799, 999), "2024-02-28T23:59:59.999Z");
        assert_eq!(at(1_709_251_199, 0), "2024-02-29T23:59:59.000Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z");
        assert_eq!(at(1_798_761_599, 500), "2026-12-31T23:59:59.500Z");
    }

    #[test]
    fn day_count_and_calendar_agree_for_four_centuries() {
        let mut days = 0u64;
        for year in 1970u64..2370 {
            for month in 1u64..=12 {
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
                let len = match month {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for day in 1..=len {
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
    }
}
