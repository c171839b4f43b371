//! Proleptic Gregorian dates as days since 1970-01-01: what the `Date` logical type holds, and
//! what timestamps split into. Howard Hinnant's civil-date algorithms.

/// Days since 1970-01-01 of a year, month (1–12) and day (1–31).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year, month and day of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub const DAY_MS: i64 = 86_400_000;

/// `yyyy-MM-dd` of a count of days since the epoch.
pub fn iso_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:mm:ss.SSS'Z'` of the time of day of `ms` since the epoch, in UTC.
pub fn iso_time(ms: i64) -> String {
    let ms = ms.rem_euclid(DAY_MS);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` of `ms` since the epoch, in UTC.
pub fn iso_timestamp(ms: i64) -> String {
    format!("{}T{}", iso_date(ms.div_euclid(DAY_MS)), iso_time(ms))
}

/// A date-like value as text the way Kafka's `Values.dateFormatFor` picks the format: a time
/// alone for instants before the end of the first day (all of them before the epoch too), a
/// date alone at midnight, else the whole timestamp. UTC, as Connect workers run.
pub fn format_for_instant(ms: i64) -> String {
    if ms < DAY_MS {
        iso_time(ms)
    } else if ms % DAY_MS == 0 {
        iso_date(ms / DAY_MS)
    } else {
        iso_timestamp(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_eras_and_leap_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in [-800_000, -1, 0, 59, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
