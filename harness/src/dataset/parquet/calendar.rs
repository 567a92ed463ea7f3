//! Dates and times as ISO 8601 text, for every value their storage can hold.
//!
//! A Parquet date is any 32-bit day count and a timestamp any 64-bit count of
//! its unit, far beyond the years chrono (and polars, which panicked on them)
//! can represent. The proleptic Gregorian calendar is computed on 64-bit
//! integers instead ([`civil_from_days`]), so every stored value has a text form: years past 9999
//! or before 0 are written with a sign (`+12345-01-01`, `-0044-03-15`), as
//! ISO 8601's expanded representation does.

use super::columns::Unit;
use crate::clock::civil_from_days;

const SECONDS_PER_DAY: i64 = 86_400;

/// `days` since 1970-01-01 as `YYYY-MM-DD`.
pub(super) fn date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{}-{month:02}-{day:02}", year_text(year))
}

/// A time of day, `value` units after midnight, as `HH:MM:SS` with a
/// fraction when there is one; `None` outside one day.
pub(super) fn time_of_day(value: i64, unit: Unit) -> Option<String> {
    let per_second = unit.per_second();
    if !(0..SECONDS_PER_DAY.checked_mul(per_second)?).contains(&value) {
        return None;
    }
    Some(clock(value / per_second, value % per_second, unit))
}

/// A timestamp, `value` units after 1970-01-01T00:00:00, as
/// `YYYY-MM-DDTHH:MM:SS[.fraction]`, with `Z` when it is an instant in UTC.
pub(super) fn timestamp(value: i64, unit: Unit, utc: bool) -> String {
    let per_second = unit.per_second();
    let (seconds, fraction) = (value.div_euclid(per_second), value.rem_euclid(per_second));
    let (days, second_of_day) = (seconds.div_euclid(SECONDS_PER_DAY), seconds.rem_euclid(SECONDS_PER_DAY));
    let zone = if utc { "Z" } else { "" };
    format!("{}T{}{zone}", date(days), clock(second_of_day, fraction, unit))
}

/// `HH:MM:SS`, then `.fraction` in the unit's digits when it is not zero.
fn clock(second_of_day: i64, fraction: i64, unit: Unit) -> String {
    let (hours, minutes, seconds) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let digits = match unit {
        Unit::Millis => 3,
        Unit::Micros => 6,
        Unit::Nanos => 9,
    };
    if fraction == 0 {
        format!("{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours:02}:{minutes:02}:{seconds:02}.{fraction:0digits$}")
    }
}

/// Four digits for years 0 to 9999; a sign and at least four digits beyond.
fn year_text(year: i64) -> String {
    if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_across_the_whole_range() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(18_262), "2020-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(11_016), "2000-02-29", "a leap day in a year divisible by 400");
        assert_eq!(date(-719_528), "0000-01-01");
        assert_eq!(date(-719_529), "-0001-12-31");
        assert_eq!(date(2_932_897), "+10000-01-01");
        // The extremes of a Parquet DATE (an i32 of days).
        assert_eq!(date(i64::from(i32::MAX)), "+5881580-07-11");
        assert_eq!(date(i64::from(i32::MIN)), "-5877641-06-23");
    }

    #[test]
    fn every_day_round_trips_through_its_date() {
        // Counting days month by month from 1600 to 2400 must agree with
        // the formula at every step (leap years by the 4/100/400 rule).
        // 1600-01-01 is 370 years of 365 days and 90 leap days before 1970.
        let mut days = -(370 * 365 + 90);
        for year in 1600..2400 {
            for month in 1..=12u32 {
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
                let length = match month {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                for day in 1..=length {
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn timestamps_in_every_unit() {
        assert_eq!(timestamp(0, Unit::Millis, true), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_500, Unit::Millis, false), "1970-01-01T00:00:01.500");
        assert_eq!(timestamp(-1, Unit::Micros, true), "1969-12-31T23:59:59.999999Z");
        assert_eq!(timestamp(1_577_934_245_000_000_007, Unit::Nanos, true), "2020-01-02T03:04:05.000000007Z");
        // The extremes of an i64 of milliseconds, far outside chrono's range.
        assert_eq!(timestamp(i64::MAX, Unit::Millis, false), "+292278994-08-17T07:12:55.807");
        assert_eq!(timestamp(i64::MIN, Unit::Millis, false), "-292275055-05-16T16:47:04.192");
    }

    #[test]
    fn times_of_day_stay_within_a_day() {
        assert_eq!(time_of_day(0, Unit::Millis).unwrap(), "00:00:00");
        assert_eq!(time_of_day(45_296_789, Unit::Millis).unwrap(), "12:34:56.789");
        assert_eq!(time_of_day(86_399_999_999, Unit::Micros).unwrap(), "23:59:59.999999");
        assert_eq!(time_of_day(86_400_000, Unit::Millis), None);
        assert_eq!(time_of_day(-1, Unit::Nanos), None);
    }
}
