//! `parser.timestamp.date.formats`: Java `SimpleDateFormat` patterns (see
//! `sluice_connect_api::time`), tried in order, in `parser.timestamp.timezone` (UTC or a fixed
//! offset).

pub use sluice_connect_api::calendar::days_from_civil;
use sluice_connect_api::time::{fixed_zone, SimpleDateFormat};

#[derive(Debug, Clone, PartialEq)]
pub struct DateFormats {
    formats: Vec<SimpleDateFormat>,
    /// The zone's offset from UTC, in minutes.
    offset_minutes: i64,
}

impl DateFormats {
    pub fn parse(patterns: &[String], zone: &str) -> Result<Self, String> {
        let formats = patterns
            .iter()
            .map(|p| SimpleDateFormat::new(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            formats,
            offset_minutes: fixed_zone(zone)?,
        })
    }

    /// Milliseconds since the epoch, by the first format that matches the whole text.
    pub fn timestamp(&self, text: &str) -> Result<i64, String> {
        let text = text.trim();
        if let Some(ms) = self
            .formats
            .iter()
            .find_map(|f| f.parse(text, self.offset_minutes))
        {
            return Ok(ms);
        }
        let tried: Vec<&str> = self.formats.iter().map(|f| f.pattern()).collect();
        Err(format!(
            "could not parse '{text}' as a timestamp with any of the formats {tried:?}"
        ))
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
        assert!(DateFormats::parse(&["yyyy-ww".into()], "UTC").is_err());
        assert!(DateFormats::parse(&["yyyy".into()], "America/New_York").is_err());
    }
}
