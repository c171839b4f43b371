//! Java's number conversions, as Kafka's transforms inherit them: `Number.byteValue()` and
//! friends (narrowing keeps the low bits, floats truncate and saturate), `Long.parseLong`,
//! `Double.parseDouble` and `new BigDecimal(String)`.

use sluice_connect_api::Decimal;

/// A number as Java's `Number` methods see it.
pub enum Number {
    Int(i64),
    Float(f64),
    Decimal(Decimal),
}

impl Number {
    /// `longValue()`: floats truncate and saturate, decimals keep the low 64 bits.
    pub fn long(&self) -> i64 {
        match self {
            Number::Int(n) => *n,
            Number::Float(f) => *f as i64,
            Number::Decimal(d) => decimal_integer(d) as i64,
        }
    }

    /// `intValue()`: integers and decimals keep the low 32 bits, floats saturate.
    pub fn int(&self) -> i32 {
        match self {
            Number::Int(n) => *n as i32,
            Number::Float(f) => *f as i32,
            Number::Decimal(d) => decimal_integer(d) as i32,
        }
    }

    /// `doubleValue()`.
    pub fn double(&self) -> f64 {
        match self {
            Number::Int(n) => *n as f64,
            Number::Float(f) => *f,
            Number::Decimal(d) => decimal_text(d).parse().unwrap_or(f64::NAN),
        }
    }

    /// `floatValue()`: rounded once, from the exact value.
    pub fn float(&self) -> f32 {
        match self {
            Number::Int(n) => *n as f32,
            Number::Float(f) => *f as f32,
            Number::Decimal(d) => decimal_text(d).parse().unwrap_or(f32::NAN),
        }
    }
}

/// A decimal's integer part (truncated toward zero), wrapped to 128 bits as Java keeps the low
/// bits of a `BigInteger`.
pub fn decimal_integer(d: &Decimal) -> i128 {
    if d.scale <= 0 {
        let factor = 10i128.wrapping_pow(d.scale.unsigned_abs());
        d.unscaled.wrapping_mul(factor)
    } else if d.scale > 38 {
        0
    } else {
        d.unscaled / 10i128.pow(d.scale as u32)
    }
}

/// `unscaled`E`-scale`, which Rust parses to the nearest float.
fn decimal_text(d: &Decimal) -> String {
    format!("{}e{}", { d.unscaled }, -i64::from(d.scale))
}

/// `Long.parseLong`: an optional sign, then decimal digits; no spaces.
pub fn java_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `Double.parseDouble`: surrounding blanks trimmed, decimal or scientific digits with an
/// optional `f`/`d` suffix, `NaN` and `Infinity`. Too large a number is infinite, as in Java.
pub fn java_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let negative = trimmed.starts_with('-');
    match unsigned {
        "NaN" => return Some(f64::NAN),
        "Infinity" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    let body = trimmed
        .strip_suffix(['f', 'F', 'd', 'D'])
        .unwrap_or(trimmed);
    let unsigned_body = body.strip_prefix(['+', '-']).unwrap_or(body);
    let (mantissa, exponent) = match unsigned_body.find(['e', 'E']) {
        Some(i) => (&unsigned_body[..i], Some(&unsigned_body[i + 1..])),
        None => (unsigned_body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    body.parse().ok()
}

/// `new BigDecimal(String)`.
pub fn java_big_decimal(text: &str) -> Option<Decimal> {
    Decimal::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parses_as_java_parses_it() {
        assert_eq!(java_integer("+42"), Some(42));
        assert_eq!(java_integer("4.0"), None);
        assert_eq!(java_integer(""), None);
        assert_eq!(java_float(" 5. "), Some(5.0));
        assert_eq!(java_float(".5f"), Some(0.5));
        assert_eq!(java_float("1e400"), Some(f64::INFINITY));
        assert!(java_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(java_float("inf"), None);
        assert_eq!(java_float("1e"), None);
        assert_eq!(
            java_big_decimal("123.0"),
            Some(Decimal {
                unscaled: 1230,
                scale: 1
            })
        );
        assert_eq!(
            java_big_decimal("-1.5e3"),
            Some(Decimal {
                unscaled: -15,
                scale: -2
            })
        );
        assert_eq!(java_big_decimal("foo"), None);
        assert_eq!(java_big_decimal("1e"), None);
    }

    #[test]
    fn narrowing_keeps_low_bits_and_floats_truncate() {
        let big = Number::Decimal(Decimal {
            unscaled: 2_147_483_648,
            scale: 0,
        });
        assert_eq!(big.int(), i32::MIN);
        assert_eq!(
            Number::Decimal(Decimal {
                unscaled: 1239,
                scale: 1
            })
            .long(),
            123
        );
        assert_eq!(
            Number::Decimal(Decimal {
                unscaled: -1239,
                scale: 1
            })
            .long(),
            -123
        );
        assert_eq!(Number::Float(f64::NAN).long(), 0);
        assert_eq!(Number::Float(-1e300).int(), i32::MIN);
        assert_eq!(
            Number::Decimal(Decimal {
                unscaled: 15,
                scale: 1
            })
            .double(),
            1.5
        );
    }
}
