//! A CSV parser with opencsv's `CSVParser` rules, as the spooldir CSV connector configures it:
//! separator, quote and escape characters, strict quotes, leading whitespace, ignored quotations,
//! kept carriage returns, null-field indicators, and quoted fields that span lines.

use std::borrow::Cow;

use super::config::{CsvSettings, NullIndicator};

/// A record's fields, `None` where the null indicator makes one null. A field of a plain line
/// borrows the line's text; one the character loop built owns its own.
pub type Fields<'a> = Vec<Option<Cow<'a, str>>>;

/// Splits logical CSV records out of lines.
pub struct CsvParser {
    settings: CsvSettings,
}

/// A record still open at the end of a line (a quoted field with a newline in it).
#[derive(Default)]
pub struct Pending {
    fields: Fields<'static>,
    field: String,
    in_quotes: bool,
    was_quoted: bool,
    open: bool,
}

impl Pending {
    pub fn is_open(&self) -> bool {
        self.open
    }
}

impl CsvParser {
    pub fn new(settings: CsvSettings) -> Self {
        Self { settings }
    }

    /// Feeds one line (without its line break). Returns the fields once the record is complete;
    /// `None` means the record continues on the next line.
    pub fn parse_line<'a>(&self, line: &'a str, pending: &mut Pending) -> Option<Fields<'a>> {
        let line = if self.settings.keep_carriage_return {
            line
        } else {
            line.strip_suffix('\r').unwrap_or(line)
        };
        if !pending.open && self.is_plain(line) {
            return Some(self.split_plain(line));
        }
        self.parse_chars(line, pending)
    }

    /// Whether `line` starts a record and holds no character the parser treats specially
    /// besides the separator: then each field is the text between separators.
    fn is_plain(&self, line: &str) -> bool {
        let s = &self.settings;
        s.ignore_quotations || !line.contains(&[s.quote, s.escape][..])
    }

    /// A plain line's fields, borrowed from it: what `parse_chars` makes of it character by
    /// character.
    fn split_plain<'a>(&self, line: &'a str) -> Fields<'a> {
        line.split(self.settings.separator)
            .map(|text| {
                // Strict quotes keep only what is inside quotes, and a plain line has none.
                let text = if self.settings.strict_quotes {
                    ""
                } else {
                    text
                };
                self.field(Cow::Borrowed(text), false)
            })
            .collect()
    }

    /// The general case: quotes, escapes, and records continued from an earlier line.
    fn parse_chars(&self, line: &str, pending: &mut Pending) -> Option<Fields<'static>> {
        let s = &self.settings;
        if pending.open {
            // The newline inside the quoted field is part of its value.
            pending.field.push('\n');
        }
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut in_field = pending.open;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c == s.escape && !s.ignore_quotations {
                let escapable = next.is_some_and(|n| {
                    (pending.in_quotes || in_field) && (n == s.quote || n == s.escape)
                });
                if escapable {
                    pending.field.push(next.unwrap_or(c));
                    i += 2;
                    in_field = true;
                    continue;
                }
                // A lone escape character is dropped, as opencsv does.
                i += 1;
                continue;
            }
            if c == s.quote && !s.ignore_quotations {
                if pending.in_quotes && next == Some(s.quote) {
                    // A doubled quote inside quotes is one quote.
                    pending.field.push(c);
                    i += 2;
                    continue;
                }
                pending.in_quotes = !pending.in_quotes;
                if pending.in_quotes {
                    pending.was_quoted = true;
                    if s.ignore_leading_whitespace && pending.field.trim().is_empty() {
                        pending.field.clear();
                    }
                }
                in_field = true;
                i += 1;
                continue;
            }
            if c == s.separator && !pending.in_quotes {
                self.finish_field(pending);
                in_field = false;
                i += 1;
                continue;
            }
            if !s.strict_quotes || pending.in_quotes {
                pending.field.push(c);
                in_field = true;
            }
            i += 1;
        }
        if pending.in_quotes {
            pending.open = true;
            return None;
        }
        self.finish_field(pending);
        let fields = std::mem::take(&mut pending.fields);
        *pending = Pending::default();
        Some(fields)
    }

    fn finish_field(&self, pending: &mut Pending) {
        let value = std::mem::take(&mut pending.field);
        let quoted = std::mem::replace(&mut pending.was_quoted, false);
        let field = self.field(Cow::Owned(value), quoted);
        pending.fields.push(field);
    }

    /// A field's text, or null when it is empty and the null indicator says so.
    fn field<'a>(&self, value: Cow<'a, str>, quoted: bool) -> Option<Cow<'a, str>> {
        let null = value.is_empty()
            && match self.settings.null_indicator {
                NullIndicator::Neither => false,
                NullIndicator::EmptySeparators => !quoted,
                NullIndicator::EmptyQuotes => quoted,
                NullIndicator::Both => true,
            };
        (!null).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(settings: CsvSettings, lines: &[&str]) -> Vec<Vec<Option<String>>> {
        let parser = CsvParser::new(settings);
        let mut pending = Pending::default();
        lines
            .iter()
            .filter_map(|l| parser.parse_line(l, &mut pending))
            .map(|row| row.into_iter().map(|f| f.map(Cow::into_owned)).collect())
            .collect()
    }

    fn some(fields: &[&str]) -> Vec<Option<String>> {
        fields.iter().map(|f| Some(f.to_string())).collect()
    }

    #[test]
    fn quotes_escapes_and_multiline_fields() {
        let rows = parse(
            CsvSettings::default(),
            &[
                r#"1,"Smith, John","say \"hi\"""#,
                "2,\"two",
                "lines\",x\r",
                r#"3,"a ""quoted"" word",  "lead""#,
            ],
        );
        assert_eq!(
            rows,
            vec![
                some(&["1", "Smith, John", "say \"hi\""]),
                some(&["2", "two\nlines", "x"]),
                some(&["3", "a \"quoted\" word", "lead"]),
            ]
        );
    }

    #[test]
    fn separators_nulls_and_strict_quotes() {
        let tsv = CsvSettings {
            separator: '\t',
            null_indicator: NullIndicator::EmptySeparators,
            ..CsvSettings::default()
        };
        assert_eq!(
            parse(tsv, &["a\t\t\"\""]),
            vec![vec![Some("a".into()), None, Some(String::new())]]
        );
        let both = CsvSettings {
            null_indicator: NullIndicator::Both,
            ..CsvSettings::default()
        };
        assert_eq!(
            parse(both, &["a,,\"\""]),
            vec![vec![Some("a".into()), None, None]]
        );
        let strict = CsvSettings {
            strict_quotes: true,
            ..CsvSettings::default()
        };
        assert_eq!(parse(strict, &["x\"a\"y,\"b\""]), vec![some(&["a", "b"])]);
        let ignore = CsvSettings {
            ignore_quotations: true,
            ..CsvSettings::default()
        };
        assert_eq!(parse(ignore, &["\"a,b\""]), vec![some(&["\"a", "b\""])]);
    }

    /// Lines with no quote or escape are split without the character loop: every setting must
    /// read them as the loop does.
    #[test]
    fn plain_lines_split_as_the_character_loop_reads_them() {
        let indicators = [
            NullIndicator::Neither,
            NullIndicator::EmptySeparators,
            NullIndicator::EmptyQuotes,
            NullIndicator::Both,
        ];
        let lines = [
            "1,sensor-001,0.25,true,2024-01-01T00:00:00,",
            ",,",
            "",
            "  lead, trail  ,x",
            "a\tb\t\tc",
            "kept\r",
            "é,ü;ß",
        ];
        for separator in [',', '\t', ';'] {
            for null_indicator in indicators {
                for (strict_quotes, ignore_quotations, keep_carriage_return) in [
                    (false, false, false),
                    (true, false, false),
                    (false, true, true),
                    (false, false, true),
                ] {
                    let parser = CsvParser::new(CsvSettings {
                        separator,
                        null_indicator,
                        strict_quotes,
                        ignore_quotations,
                        keep_carriage_return,
                        ignore_leading_whitespace: true,
                        ..CsvSettings::default()
                    });
                    for line in lines {
                        let plain = parser.parse_line(line, &mut Pending::default());
                        let looped = parser.parse_chars(
                            line.strip_suffix('\r')
                                .filter(|_| !keep_carriage_return)
                                .unwrap_or(line),
                            &mut Pending::default(),
                        );
                        assert_eq!(plain, looped, "{line:?} split on {separator:?}");
                    }
                }
            }
        }
    }
}
