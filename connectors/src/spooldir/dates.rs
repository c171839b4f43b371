//! `parser.timestamp.date.formats`: Java `SimpleDateFormat` patterns (the subset timestamps in
//! files use: `yyyy yy MM M dd d HH H mm m ss s SSS S Z X` and `'quoted'` text), tried in order,
//! in `parser.timestamp.timezone` (UTC or a fixed offset).

pub use sluice_connect_api::calendar::days_from_civil;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Year(usize),
    Month(usize),
    Day(usize),
    Hour(usize),
    Minute(usize),
    Second(usize),
    Millis(usize),
    Zone,
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DateFormats {
    formats: Vec<(String, Vec<Token>)>,
    /// The zone's offset from UTC, in minutes.
    offset_minutes: i64,
}

fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                text.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("unterminated quote in date format '{pattern}'"));
            }
            i += 1;
            tokens.push(Token::Literal(if text.is_empty() {
                "'".into()
            } else {
                text
            }));
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let token = match c {
            'y' => Token::Year(run),
            'M' => Token::Month(run),
            'd' => Token::Day(run),
            'H' => Token::Hour(run),
            'm' => Token::Minute(run),
            's' => Token::Second(run),
            'S' => Token::Millis(run),
            'Z' | 'X' => Token::Zone,
            c if c.is_ascii_alphabetic() => {
                return Err(format!(
                    "date format '{pattern}': the letter '{c}' is not supported"
                ))
            }
            c => Token::Literal(c.to_string().repeat(run)),
        };
        tokens.push(token);
        i += run;
    }
    Ok(tokens)
}

fn parse_zone(zone: &str) -> Result<i64, String> {
    let z = zone.trim();
    let upper = z.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "UTC" | "GMT" | "Z" | "ETC/UTC" | "ETC/GMT" | ""
    ) {
        return Ok(0);
    }
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    offset(rest).ok_or_else(|| {
        format!("time zone '{zone}' is not supported; use UTC or a fixed offset such as +02:00")
    })
}

/// `+HH:MM`, `+HHMM` or `+HH` in minutes.
fn offset(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    Some(sign * (h * 60 + m))
}

impl DateFormats {
    pub fn parse(patterns: &[String], zone: &str) -> Result<Self, String> {
        let formats = patterns
            .iter()
            .map(|p| compile(p).map(|t| (p.clone(), t)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            formats,
            offset_minutes: parse_zone(zone)?,
        })
    }

    /// Milliseconds since the epoch, by the first format that matches the whole text.
    pub fn timestamp(&self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        for (_, tokens) in &self.formats {
            if let Some(ms) = self.apply(tokens, text) {
                return Ok(ms);
            }
        }
        let tried: Vec<&str> = self.formats.iter().map(|(p, _)| p.as_str()).collect();
        Err(format!(
            "could not parse '{text}' as a timestamp with any of the formats {tried:?}"
        ))
    }

    fn apply(&self, tokens: &[Token], text: &str) -> Option<i64> {
        let bytes = text.as_bytes();
        let mut pos = 0;
        let (mut year, mut month, mut day) = (1970i64, 1i64, 1i64);
        let (mut hour, mut minute, mut second, mut millis) = (0i64, 0i64, 0i64, 0i64);
        let mut zone = self.offset_minutes;
        for (i, token) in tokens.iter().enumerate() {
            // A number followed directly by another number takes exactly its width.
            let next_is_number = matches!(
                tokens.get(i + 1),
                Some(
                    Token::Year(_)
                        | Token::Month(_)
                        | Token::Day(_)
                        | Token::Hour(_)
                        | Token::Minute(_)
                        | Token::Second(_)
                        | Token::Millis(_)
                )
            );
            let mut number = |width: usize| -> Option<i64> {
                let available = bytes[pos..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let take = if next_is_number { width } else { available };
                if take == 0 || take > available {
                    return None;
                }
                let n = text[pos..pos + take].parse().ok()?;
                pos += take;
                Some(n)
            };
            match token {
                Token::Year(w) => {
                    year = number(*w)?;
                    if *w == 2 {
                        year += 2000;
                    }
                }
                Token::Month(w) => month = number(*w)?,
                Token::Day(w) => day = number(*w)?,
                Token::Hour(w) => hour = number(*w)?,
                Token::Minute(w) => minute = number(*w)?,
                Token::Second(w) => second = number(*w)?,
                Token::Millis(w) => millis = number(*w)?,
                Token::Zone => {
                    let rest = &text[pos..];
                    if let Some(r) = rest.strip_prefix('Z') {
                        zone = 0;
                        pos = text.len() - r.len();
                    } else {
                        let end = rest
                            .char_indices()
                            .skip(1)
                            .find(|(_, c)| !(c.is_ascii_digit() || *c == ':'))
                            .map_or(rest.len(), |(i, _)| i);
                        zone = offset(&rest[..end])?;
                        pos += end;
                    }
                }
                Token::Literal(l) => {
                    if !text[pos..].starts_with(l.as_str()) {
                        return None;
                    }
                    pos += l.len();
                }
            }
        }
        if pos != text.len()
            || !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let local = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis;
        Some(local - zone * 60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats(patterns: &[&str], zone: &str) -> DateFormats {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        DateFormats::parse(&p, zone).expect("formats")
    }

    #[test]
    fn the_default_formats_parse_in_utc_and_in_order() {
        let f = formats(&["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd' 'HH:mm:ss"], "UTC");
        assert_eq!(f.timestamp("2023-11-14T22:13:20"), Ok(1_700_000_000_000));
        assert_eq!(f.timestamp("2023-11-14 22:13:20"), Ok(1_700_000_000_000));
        assert!(f.timestamp("14/11/2023").is_err());
        let zoned = formats(&["yyyy-MM-dd HH:mm:ss.SSSXXX", "yyyyMMddHHmmss"], "+01:00");
        assert_eq!(
            zoned.timestamp("2023-11-14 22:13:20.500Z"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(zoned.timestamp("20231114231320"), Ok(1_700_000_000_000));
        assert!(DateFormats::parse(&["yyyy-MM-dd EEE".into()], "UTC").is_err());
        assert!(DateFormats::parse(&["yyyy".into()], "America/New_York").is_err());
    }
}
