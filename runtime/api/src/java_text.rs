//! Values as text the way Java's `toString` gives it: what `Struct.toString`, StringConverter,
//! FileStreamSink and string bodies of the HTTP sink print.

use std::fmt::{self, Write};

use crate::calendar;
use crate::value::Value;

/// Writes `value`'s text to `out`, a piece at a time rather than through `core::fmt`: sinks
/// write one line of it per record.
pub(crate) fn write<W: Write>(out: &mut W, value: &Value) -> fmt::Result {
    match value {
        Value::Null => out.write_str("null"),
        Value::Int8(n) => integer(out, i64::from(*n)),
        Value::Int16(n) => integer(out, i64::from(*n)),
        Value::Int32(n) => integer(out, i64::from(*n)),
        Value::Int64(n) => integer(out, *n),
        Value::Float32(n) => float(out, f64::from(*n), n.abs()),
        Value::Float64(n) => float(out, *n, n.abs()),
        Value::Boolean(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.write_str(s),
        Value::Bytes(b) => out.write_str(&String::from_utf8_lossy(b)),
        Value::Decimal(d) => out.write_str(&d.to_java_string()),
        // Each is a `java.util.Date` in Java.
        Value::Date(days) => date(out, i64::from(*days) * calendar::DAY_MS),
        Value::Time(ms) => date(out, i64::from(*ms)),
        Value::Timestamp(ms) => date(out, *ms),
        Value::Array(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write(out, item)?;
            }
            out.write_char(']')
        }
        Value::Map(entries) => {
            out.write_char('{')?;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write(out, k)?;
                out.write_char('=')?;
                write(out, v)?;
            }
            out.write_char('}')
        }
        // Null fields are left out, as Kafka's `Struct.toString` leaves them.
        Value::Struct(s) => {
            out.write_str("Struct{")?;
            let set = s.fields().filter(|(_, v)| !v.is_null());
            for (i, (name, v)) in set.enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                out.write_str(name)?;
                out.write_char('=')?;
                write(out, v)?;
            }
            out.write_char('}')
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes `ms` since the epoch as `java.util.Date.toString` does in UTC, the zone Connect workers
/// usually run in: `EEE MMM dd HH:mm:ss zzz yyyy` (`Mon Jan 01 00:00:00 UTC 2024`).
fn date<W: Write>(out: &mut W, ms: i64) -> fmt::Result {
    let days = ms.div_euclid(calendar::DAY_MS);
    let in_day = ms.rem_euclid(calendar::DAY_MS);
    let (year, month, day) = calendar::civil_from_days(days);
    // Sinks print one per record: built on the stack rather than through `write!`.
    let mut text = *b"EEE MMM dd HH:mm:ss UTC ";
    // 1970-01-01 was a Thursday.
    text[..3].copy_from_slice(WEEKDAYS[days.rem_euclid(7) as usize].as_bytes());
    text[4..7].copy_from_slice(MONTHS[(month - 1) as usize].as_bytes());
    for (at, n) in [
        (8, day),
        (11, in_day / 3_600_000),
        (14, in_day / 60_000 % 60),
        (17, in_day / 1000 % 60),
    ] {
        text[at] = b'0' + (n / 10) as u8;
        text[at + 1] = b'0' + (n % 10) as u8;
    }
    out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    integer(out, year)
}

/// Writes an integer's decimal digits, as `Long.toString` does.
fn integer<W: Write>(out: &mut W, n: i64) -> fmt::Result {
    // 20 digits hold any u64.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.write_char('-')?;
    }
    out.write_str(std::str::from_utf8(&digits[start..]).map_err(|_| fmt::Error)?)
}

fn float<W: Write>(out: &mut W, x: f64, abs: impl fmt::LowerExp + Copy) -> fmt::Result {
    match ScientificText::of(abs) {
        Some(text) => write_java_float(out, x, text.as_str()),
        None => write_java_float(out, x, &format!("{abs:e}")),
    }
}

/// Writes a float or double as Java's `Double.toString` does: plain between 10^-3 and 10^7 with
/// at least one digit after the point (`42.0`), else `d.dddE±n` (`1.0E7`, `1.0E-4`), the shortest
/// digits that read back to the same number. `scientific` is Rust's shortest `{:e}` of the
/// absolute value, at the float's own precision.
fn write_java_float<W: Write>(out: &mut W, x: f64, scientific: &str) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x.is_sign_negative() {
        out.write_char('-')?;
    }
    if x == 0.0 {
        return out.write_str("0.0");
    }
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    // Rust's mantissa is one digit, then the rest after a point.
    let (lead, rest) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (1e-3..1e7).contains(&x.abs()) {
        if exp >= 0 {
            // `exp` digits of the rest go before the point, padded with zeros where it is short.
            let before = exp as usize;
            let (int_rest, frac) = rest.split_at(before.min(rest.len()));
            out.write_str(lead)?;
            out.write_str(int_rest)?;
            for _ in int_rest.len()..before {
                out.write_char('0')?;
            }
            out.write_char('.')?;
            out.write_str(if frac.is_empty() { "0" } else { frac })
        } else {
            out.write_str("0.")?;
            for _ in 1..-exp {
                out.write_char('0')?;
            }
            out.write_str(lead)?;
            out.write_str(rest)
        }
    } else {
        let rest = if rest.is_empty() { "0" } else { rest };
        write!(out, "{lead}.{rest}E{exp}")
    }
}

/// Rust's shortest `{:e}` text of a float, on the stack: it is at most a few dozen bytes.
struct ScientificText {
    bytes: [u8; 48],
    len: usize,
}

impl ScientificText {
    fn of(x: impl fmt::LowerExp) -> Option<Self> {
        let mut text = ScientificText {
            bytes: [0; 48],
            len: 0,
        };
        write!(text, "{x:e}").ok()?;
        Some(text)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Write for ScientificText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_java_util_date_prints_them_in_utc() {
        let text = |ms: i64| {
            let mut out = String::new();
            date(&mut out, ms).map(|()| out)
        };
        for (ms, expected) in [
            (0, "Thu Jan 01 00:00:00 UTC 1970"),
            (1_704_067_200_000, "Mon Jan 01 00:00:00 UTC 2024"),
            // Leap day, and milliseconds dropped.
            (1_709_210_096_789, "Thu Feb 29 12:34:56 UTC 2024"),
            // Before the epoch: the day and time count back from it.
            (-1, "Wed Dec 31 23:59:59 UTC 1969"),
            (253_402_300_799_000, "Fri Dec 31 23:59:59 UTC 9999"),
        ] {
            assert_eq!(text(ms).as_deref(), Ok(expected), "{ms}");
        }
    }
}
