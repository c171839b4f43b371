//! Java's `SimpleDateFormat` patterns, as configs written for Kafka Connect use them
//! (TimestampConverter's `format`, TimestampRouter's `timestamp.format`, spooldir's
//! `parser.timestamp.date.formats`): `G y M L d D E u a H k K h m s S z Z X` and `'quoted'`
//! text, formatted and parsed in a fixed offset from UTC (Kafka's SMTs use UTC). A letter Sluice
//! cannot honour is refused when the pattern is compiled, so a config never formats differently
//! from Java without saying so.

use crate::calendar::{civil_from_days, days_from_civil};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Era,
    Year(usize),
    Month(usize),
    Day(usize),
    DayOfYear(usize),
    DayName(usize),
    DayNumber(usize),
    AmPm,
    /// `H` 0-23, `k` 1-24, `K` 0-11, `h` 1-12.
    Hour {
        letter: char,
        width: usize,
    },
    Minute(usize),
    Second(usize),
    Millis(usize),
    /// `z`: a zone name (UTC, GMT+01:00).
    ZoneName(usize),
    /// `Z`: +0100.
    ZoneRfc822,
    /// `X`: Z, +01, +0100, +01:00.
    ZoneIso(usize),
    Literal(String),
}

impl Token {
    fn is_number(&self) -> bool {
        matches!(
            self,
            Token::Year(_)
                | Token::Month(1 | 2)
                | Token::Day(_)
                | Token::DayOfYear(_)
                | Token::DayNumber(_)
                | Token::Hour { .. }
                | Token::Minute(_)
                | Token::Second(_)
                | Token::Millis(_)
        )
    }
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleDateFormat {
    pattern: String,
    tokens: Vec<Token>,
}

/// Broken-down local time.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

impl SimpleDateFormat {
    /// Compiles a pattern; the error names the letter Sluice does not support.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // '' is a quote; 'text' is literal text (with '' inside for a quote).
                if chars.get(i + 1) == Some(&'\'') {
                    tokens.push(Token::Literal("'".into()));
                    i += 2;
                    continue;
                }
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!("Unterminated quote in date format '{pattern}'"))
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Literal(text));
                continue;
            }
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let token = match c {
                'G' => Token::Era,
                'y' => Token::Year(run),
                'M' | 'L' => Token::Month(run),
                'd' => Token::Day(run),
                'D' => Token::DayOfYear(run),
                'E' => Token::DayName(run),
                'u' => Token::DayNumber(run),
                'a' => Token::AmPm,
                'H' | 'k' | 'K' | 'h' => Token::Hour {
                    letter: c,
                    width: run,
                },
                'm' => Token::Minute(run),
                's' => Token::Second(run),
                'S' => Token::Millis(run),
                'z' => Token::ZoneName(run),
                'Z' => Token::ZoneRfc822,
                'X' if run <= 3 => Token::ZoneIso(run),
                c if c.is_ascii_alphabetic() => {
                    return Err(format!(
                    "Date format '{pattern}': the pattern letter '{c}' is not supported by Sluice"
                ))
                }
                c => Token::Literal(c.to_string().repeat(run)),
            };
            tokens.push(token);
            i += run;
        }
        Ok(Self {
            pattern: pattern.to_string(),
            tokens,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// `epoch_ms` as text, in the zone `offset_minutes` east of UTC.
    pub fn format(&self, epoch_ms: i64, offset_minutes: i64) -> String {
        let mut out = String::with_capacity(32);
        self.format_into(&mut out, epoch_ms, offset_minutes);
        out
    }

    /// [`format`](Self::format), appended to `out`.
    pub fn format_into(&self, out: &mut String, epoch_ms: i64, offset_minutes: i64) {
        let local = epoch_ms + offset_minutes * 60_000;
        let days = local.div_euclid(86_400_000);
        let in_day = local.rem_euclid(86_400_000);
        let (year, month, day) = civil_from_days(days);
        let hour = in_day / 3_600_000;
        let minute = in_day / 60_000 % 60;
        let second = in_day / 1000 % 60;
        let millis = in_day % 1000;
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = || (days + 3).rem_euclid(7) as usize;
        for token in &self.tokens {
            match token {
                Token::Era => out.push_str(if year > 0 { "AD" } else { "BC" }),
                Token::Year(2) => push_padded(out, year.rem_euclid(100), 2),
                Token::Year(w) => push_padded(out, year, *w),
                Token::Month(w) if *w >= 4 => out.push_str(MONTHS[(month - 1) as usize]),
                Token::Month(3) => out.push_str(&MONTHS[(month - 1) as usize][..3]),
                Token::Month(w) => push_padded(out, month, *w),
                Token::Day(w) => push_padded(out, day, *w),
                Token::DayOfYear(w) => push_padded(out, days - days_from_civil(year, 1, 1) + 1, *w),
                Token::DayName(w) if *w >= 4 => out.push_str(DAYS[weekday()]),
                Token::DayName(_) => out.push_str(&DAYS[weekday()][..3]),
                Token::DayNumber(w) => push_padded(out, weekday() as i64 + 1, *w),
                Token::AmPm => out.push_str(if hour < 12 { "AM" } else { "PM" }),
                Token::Hour { letter, width } => {
                    let h = match letter {
                        'k' if hour == 0 => 24,
                        'K' => hour % 12,
                        'h' if hour % 12 == 0 => 12,
                        'h' => hour % 12,
                        _ => hour,
                    };
                    push_padded(out, h, *width);
                }
                Token::Minute(w) => push_padded(out, minute, *w),
                Token::Second(w) => push_padded(out, second, *w),
                Token::Millis(w) => push_padded(out, millis, *w),
                Token::ZoneName(w) => push_zone_name(out, offset_minutes, *w),
                Token::ZoneRfc822 => push_zone_offset(out, offset_minutes, false, true),
                Token::ZoneIso(w) if offset_minutes == 0 => {
                    let _ = w;
                    out.push('Z');
                }
                Token::ZoneIso(1) => {
                    let sign = if offset_minutes < 0 { '-' } else { '+' };
                    out.push(sign);
                    push_padded(out, offset_minutes.abs() / 60, 2);
                }
                Token::ZoneIso(2) => push_zone_offset(out, offset_minutes, false, false),
                Token::ZoneIso(_) => push_zone_offset(out, offset_minutes, true, false),
                // Mostly one character (`-`, `:`), which needs no copy of a slice; a text of one
                // byte is ASCII.
                Token::Literal(text) => match text.as_bytes() {
                    [c] => out.push(char::from(*c)),
                    _ => out.push_str(text),
                },
            }
        }
    }

    /// Parses the whole of `text` as milliseconds since the epoch; fields the pattern lacks are
    /// taken from 1970-01-01T00:00:00.000, and the zone is `offset_minutes` unless the text has
    /// one. Fields out of range (month 13) are refused.
    pub fn parse(&self, text: &str, offset_minutes: i64) -> Option<i64> {
        self.parse_with(text, offset_minutes, false)
    }

    /// Parses as Java's default (lenient) `SimpleDateFormat.parse(String)` does: text after
    /// the pattern is ignored, and fields out of range roll over (month 13 is January of the
    /// next year, hour 25 is 1 o'clock the next day).
    pub fn parse_lenient(&self, text: &str, offset_minutes: i64) -> Option<i64> {
        self.parse_with(text, offset_minutes, true)
    }

    fn parse_with(&self, text: &str, offset_minutes: i64, lenient: bool) -> Option<i64> {
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut civil = Civil {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            millis: 0,
        };
        let mut pm: Option<bool> = None;
        let mut day_of_year: Option<i64> = None;
        let mut zone = offset_minutes;
        for (i, token) in self.tokens.iter().enumerate() {
            // A number followed directly by another number takes exactly its width.
            let abutting = self.tokens.get(i + 1).is_some_and(Token::is_number);
            let mut number = |width: usize| -> Option<i64> {
                let negative = bytes.get(pos) == Some(&b'-') && !abutting;
                let start = pos + usize::from(negative);
                let available = bytes[start.min(bytes.len())..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let take = if abutting { width } else { available };
                if take == 0 || take > available {
                    return None;
                }
                let n: i64 = text[start..start + take].parse().ok()?;
                pos = start + take;
                Some(if negative { -n } else { n })
            };
            match token {
                Token::Era => {
                    let rest = &text[pos..];
                    let taken = ["AD", "BC"].iter().find(|e| rest.starts_with(*e))?;
                    pos += taken.len();
                }
                Token::Year(2) => {
                    let y = number(2)?;
                    civil.year = if y < 100 { 2000 + y } else { y };
                }
                Token::Year(w) => civil.year = number(*w)?,
                Token::Month(w) if *w >= 3 => {
                    let rest = &text[pos..];
                    let (index, len) = MONTHS.iter().enumerate().find_map(|(n, m)| {
                        if rest.starts_with(m) {
                            Some((n, m.len()))
                        } else if rest.starts_with(&m[..3]) {
                            Some((n, 3))
                        } else {
                            None
                        }
                    })?;
                    civil.month = index as i64 + 1;
                    pos += len;
                }
                Token::Month(w) => civil.month = number(*w)?,
                Token::Day(w) => civil.day = number(*w)?,
                Token::DayOfYear(w) => day_of_year = Some(number(*w)?),
                Token::DayName(_) => {
                    let rest = &text[pos..];
                    let len = DAYS.iter().find_map(|d| {
                        if rest.starts_with(d) {
                            Some(d.len())
                        } else if rest.starts_with(&d[..3]) {
                            Some(3)
                        } else {
                            None
                        }
                    })?;
                    pos += len;
                }
                Token::DayNumber(w) => {
                    number(*w)?;
                }
                Token::AmPm => {
                    let rest = &text[pos..];
                    if rest.starts_with("AM") {
                        pm = Some(false);
                    } else if rest.starts_with("PM") {
                        pm = Some(true);
                    } else {
                        return None;
                    }
                    pos += 2;
                }
                Token::Hour { letter, width } => {
                    let h = number(*width)?;
                    civil.hour = match letter {
                        'k' if h == 24 => 0,
                        'h' if h == 12 => 0,
                        _ => h,
                    };
                }
                Token::Minute(w) => civil.minute = number(*w)?,
                Token::Second(w) => civil.second = number(*w)?,
                Token::Millis(w) => civil.millis = number(*w)?,
                Token::ZoneName(_) | Token::ZoneRfc822 | Token::ZoneIso(_) => {
                    let (minutes, len) = parse_zone_text(&text[pos..])?;
                    zone = minutes;
                    pos += len;
                }
                Token::Literal(l) => {
                    if !text[pos..].starts_with(l.as_str()) {
                        return None;
                    }
                    pos += l.len();
                }
            }
        }
        if pos != text.len() && !lenient {
            return None;
        }
        if pm == Some(true) && civil.hour < 12 {
            civil.hour += 12;
        }
        let in_range = (1..=12).contains(&civil.month)
            && (1..=31).contains(&civil.day)
            && civil.hour <= 23
            && civil.minute <= 59
            && civil.second <= 60
            && civil.millis <= 999;
        if !in_range && !lenient {
            return None;
        }
        // Months beyond December roll into the next year, days beyond the month into the next.
        let month_index = civil.month - 1;
        let year = civil.year.checked_add(month_index.div_euclid(12))?;
        let month = month_index.rem_euclid(12) + 1;
        // Years far beyond any calendar in use are refused before the day arithmetic.
        if year.unsigned_abs() > 1_000_000_000 {
            return None;
        }
        let days = match day_of_year {
            Some(n) => days_from_civil(year, 1, 1).checked_add(n - 1)?,
            None => days_from_civil(year, month, 1).checked_add(civil.day - 1)?,
        };
        // Checked: a lenient parse takes any digits, and text must never overflow into a panic.
        let local = days
            .checked_mul(24)?
            .checked_add(civil.hour)?
            .checked_mul(60)?
            .checked_add(civil.minute)?
            .checked_mul(60_000)?
            .checked_add(civil.second.checked_mul(1000)?)?
            .checked_add(civil.millis)?;
        local.checked_sub(zone.checked_mul(60_000)?)
    }
}

fn push_zone_name(out: &mut String, offset_minutes: i64, width: usize) {
    match (offset_minutes, width >= 4) {
        (0, true) => out.push_str("Coordinated Universal Time"),
        (0, false) => out.push_str("UTC"),
        (m, _) => {
            out.push_str("GMT");
            push_zone_offset(out, m, true, false);
        }
    }
}

/// `+HHMM` (or `+HH:MM` with `colon`); `rfc` writes `+0000` for UTC rather than `Z`.
fn push_zone_offset(out: &mut String, offset_minutes: i64, colon: bool, rfc: bool) {
    if offset_minutes == 0 && !rfc {
        out.push('Z');
        return;
    }
    out.push(if offset_minutes < 0 { '-' } else { '+' });
    push_padded(out, offset_minutes.abs() / 60, 2);
    if colon {
        out.push(':');
    }
    push_padded(out, offset_minutes.abs() % 60, 2);
}

/// Appends `n` in decimal, zero-padded to `width` digits after any sign, without allocating:
/// formatting runs once per record in TimestampConverter.
pub(crate) fn push_padded(out: &mut String, n: i64, width: usize) {
    // The fields of a date, two digits at a time: a loop over digits cost more than the rest
    // of the formatting.
    match (width, n) {
        (2, 0..=99) => return out.push_str(digit_pair(n)),
        (3, 0..=999) => {
            out.push(char::from(b'0' + (n / 100) as u8));
            return out.push_str(digit_pair(n % 100));
        }
        (4, 0..=9999) => {
            out.push_str(digit_pair(n / 100));
            return out.push_str(digit_pair(n % 100));
        }
        _ => {}
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    for _ in (digits.len() - at)..width {
        out.push('0');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

const DIGIT_PAIRS: &str = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// `n` (0 to 99) in two digits.
fn digit_pair(n: i64) -> &'static str {
    let at = (n.clamp(0, 99) * 2) as usize;
    &DIGIT_PAIRS[at..at + 2]
}

/// A zone at the start of `text`: `Z`, `UTC`, `GMT`, `+01`, `+0100`, `+01:00`, `GMT+01:00`.
/// Returns its offset in minutes and how many bytes it took.
fn parse_zone_text(text: &str) -> Option<(i64, usize)> {
    for name in ["UTC", "GMT"] {
        if let Some(rest) = text.strip_prefix(name) {
            return match offset_at(rest) {
                Some((m, len)) => Some((m, name.len() + len)),
                None => Some((0, name.len())),
            };
        }
    }
    if text.starts_with('Z') {
        return Some((0, 1));
    }
    offset_at(text)
}

/// `+HH`, `+HHMM` or `+HH:MM` at the start of `text`.
fn offset_at(text: &str) -> Option<(i64, usize)> {
    let bytes = text.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| i64::from(b - b'0'))
    };
    let hours = digit(1)? * 10 + digit(2)?;
    let (minutes, len) = match (bytes.get(3), digit(3), digit(4)) {
        (Some(b':'), _, _) => (digit(4)? * 10 + digit(5)?, 6),
        (_, Some(a), Some(b)) => (a * 10 + b, 5),
        _ => (0, 3),
    };
    Some((sign * (hours * 60 + minutes), len))
}

/// A zone setting: `UTC`, `GMT`, `Z` or a fixed offset (`+02:00`, `UTC+2`), in minutes east of
/// UTC. Named regions would need a time-zone database, which Sluice does not carry.
pub fn fixed_zone(zone: &str) -> Result<i64, String> {
    let z = zone.trim();
    let upper = z.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "UTC" | "GMT" | "Z" | "ETC/UTC" | "ETC/GMT" | "UCT" | ""
    ) {
        return Ok(0);
    }
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    // `UTC+2`, `+2`: hours without padding.
    let padded = match rest.as_bytes() {
        [s @ (b'+' | b'-'), d] if d.is_ascii_digit() => format!("{}0{}", *s as char, *d as char),
        _ => rest.to_string(),
    };
    match offset_at(&padded) {
        Some((m, len)) if len == padded.len() => Ok(m),
        _ => Err(format!(
            "time zone '{zone}' is not supported; use UTC or a fixed offset such as +02:00"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str) -> SimpleDateFormat {
        SimpleDateFormat::new(pattern).expect(pattern)
    }

    /// 2023-11-14T22:13:20.045Z, a Tuesday.
    const T: i64 = 1_700_000_000_045;

    #[test]
    fn formats_as_java_does() {
        assert_eq!(fmt("yyyyMMdd").format(T, 0), "20231114");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ").format(T, 0),
            "2023-11-14T22:13:20.045+0000"
        );
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSXXX").format(T, 0),
            "2023-11-14T22:13:20.045Z"
        );
        assert_eq!(
            fmt("EEE, d MMM yyyy hh:mm a z").format(T, 0),
            "Tue, 14 Nov 2023 10:13 PM UTC"
        );
        assert_eq!(
            fmt("EEEE MMMM yy D").format(T, 0),
            "Tuesday November 23 318"
        );
        assert_eq!(fmt("HH:mm XXX").format(T, 90), "23:43 +01:30");
        assert_eq!(fmt("HH:mm Z z").format(T, -330), "16:43 -0530 GMT-05:30");
        assert_eq!(fmt("yyyyy SSSS").format(T, 0), "02023 0045");
        assert_eq!(fmt("'o''clock' k K h S").format(0, 0), "o'clock 24 0 12 0");
        assert_eq!(fmt("yyyy-MM-dd").format(-86_400_000, 0), "1969-12-31");
        // Fields padded to their width, or wider than it, and years of 3 and 5 digits.
        let jan_2_0987 = days_from_civil(987, 1, 2) * 86_400_000 + 3_600_000 + 7;
        assert_eq!(
            fmt("yyyy/yyy/MM/M/dd/H/HHH/SSS/S").format(jan_2_0987, 0),
            "0987/987/01/1/02/1/001/007/7"
        );
        let year_12345 = days_from_civil(12_345, 12, 31) * 86_400_000 + 999;
        assert_eq!(
            fmt("yyyy-MM-dd SS").format(year_12345, 0),
            "12345-12-31 999"
        );
    }

    #[test]
    fn parses_what_it_formats_and_refuses_what_it_cannot_honour() {
        for pattern in [
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            "yyyy-MM-dd HH:mm:ss.SSSXXX",
            "EEE, d MMM yyyy hh:mm:ss.SSS a",
            "yyyyMMddHHmmssSSS",
        ] {
            let f = fmt(pattern);
            let text = f.format(T, 0);
            assert_eq!(f.parse(&text, 0), Some(T), "{pattern}: {text}");
        }
        assert_eq!(
            fmt("yyyyMMdd").parse("20231114", 0),
            Some(1_699_920_000_000)
        );
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm").parse("2023-11-14 23:13", 60),
            Some(1_700_000_000_000 - 20_000)
        );
        assert_eq!(fmt("yyyy-MM-dd").parse("2023-13-01", 0), None);
        assert_eq!(fmt("yyyy-MM-dd").parse("2023-11-14 extra", 0), None);
        for bad in ["yyyy-ww", "YYYY", "yyyy-MM-dd'T"] {
            assert!(SimpleDateFormat::new(bad).is_err(), "{bad}");
        }
        assert_eq!(fixed_zone("UTC"), Ok(0));
        assert_eq!(fixed_zone("+02:00"), Ok(120));
        assert_eq!(fixed_zone("UTC-5"), Ok(-300));
        assert!(fixed_zone("Europe/Paris").is_err());
    }
}
