//! Values as text the way Java's `toString` gives it: what `Struct.toString`, StringConverter,
//! FileStreamSink and string bodies of the HTTP sink print.

use std::fmt::{self, Write};
use std::sync::LazyLock;

use crate::calendar;
use crate::time::{push_padded, SimpleDateFormat};
use crate::value::Value;

/// `java.util.Date.toString`'s text (`Mon Jan 01 00:00:00 UTC 2024`), in UTC as Connect workers
/// usually run; the year is not padded, as Java does not pad it.
static JAVA_DATE: LazyLock<Option<SimpleDateFormat>> =
    LazyLock::new(|| SimpleDateFormat::new("EEE MMM dd HH:mm:ss zzz y").ok());

/// Appends `value`'s text to `out`, a piece at a time rather than through `core::fmt`: sinks
/// write one line of it per record.
pub(crate) fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Int8(n) => push_padded(out, i64::from(*n), 0),
        Value::Int16(n) => push_padded(out, i64::from(*n), 0),
        Value::Int32(n) => push_padded(out, i64::from(*n), 0),
        Value::Int64(n) => push_padded(out, *n, 0),
        Value::Float32(n) => float(out, f64::from(*n), n.abs()),
        Value::Float64(n) => float(out, *n, n.abs()),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
        Value::Decimal(d) => out.push_str(&d.to_java_string()),
        // Each is a `java.util.Date` in Java.
        Value::Date(days) => date(out, i64::from(*days) * calendar::DAY_MS),
        Value::Time(ms) => date(out, i64::from(*ms)),
        Value::Timestamp(ms) => date(out, *ms),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, k);
                out.push('=');
                write(out, v);
            }
            out.push('}');
        }
        // Null fields are left out, as Kafka's `Struct.toString` leaves them.
        Value::Struct(s) => {
            out.push_str("Struct{");
            let set = s.fields().filter(|(_, v)| !v.is_null());
            for (i, (name, v)) in set.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push('=');
                write(out, v);
            }
            out.push('}');
        }
    }
}

fn date(out: &mut String, ms: i64) {
    match JAVA_DATE.as_ref() {
        Some(format) => format.format_into(out, ms, 0),
        // The pattern is fixed and valid; milliseconds are the fallback all the same.
        None => push_padded(out, ms, 0),
    }
}

fn float(out: &mut String, x: f64, abs: impl fmt::LowerExp + Copy) {
    match ScientificText::of(abs) {
        Some(text) => write_java_float(out, x, text.as_str()),
        None => write_java_float(out, x, &format!("{abs:e}")),
    }
}

/// Writes a float or double as Java's `Double.toString` does: plain between 10^-3 and 10^7 with
/// at least one digit after the point (`42.0`), else `d.dddE±n` (`1.0E7`, `1.0E-4`), the shortest
/// digits that read back to the same number. `scientific` is Rust's shortest `{:e}` of the
/// absolute value, at the float's own precision.
fn write_java_float(out: &mut String, x: f64, scientific: &str) {
    if x.is_nan() {
        return out.push_str("NaN");
    }
    if x.is_infinite() {
        return out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    if x == 0.0 {
        return out.push_str("0.0");
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
            out.push_str(lead);
            out.push_str(int_rest);
            for _ in int_rest.len()..before {
                out.push('0');
            }
            out.push('.');
            out.push_str(if frac.is_empty() { "0" } else { frac });
        } else {
            out.push_str("0.");
            for _ in 1..-exp {
                out.push('0');
            }
            out.push_str(lead);
            out.push_str(rest);
        }
    } else {
        out.push_str(lead);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push('E');
        push_padded(out, exp, 0);
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
            date(&mut out, ms);
            out
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
            assert_eq!(text(ms), expected, "{ms}");
        }
    }
}
