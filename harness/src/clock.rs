//! UTC timestamps without a calendar dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now as RFC 3339 with seconds, e.g. `2026-11-23T08:40:00Z`.
pub fn now_rfc3339() -> String {
    let (date, time) = civil_now();
    format!("{}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.0, date.1, date.2, time.0, time.1, time.2)
}

/// Now as a compact, sortable folder name part, e.g. `20261123T084000Z`.
pub fn now_compact() -> String {
    let (date, time) = civil_now();
    format!("{}{:02}{:02}T{:02}{:02}{:02}Z", date.0, date.1, date.2, time.0, time.1, time.2)
}

fn civil_now() -> ((i64, u32, u32), (u64, u64, u64)) {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    (civil_from_days(days), (rest / 3600, rest % 3600 / 60, rest % 60))
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar),
/// exact for any day whose year fits an i64 (Parquet dates and timestamps
/// use it far beyond chrono's range: dataset/parquet/calendar.rs).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
    }
}
