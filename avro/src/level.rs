//! Confluent compatibility levels over a subject's history, producing the
//! verbose messages Confluent lists (its `SchemaValidatorBuilder` strategies).

use std::fmt;
use std::str::FromStr;

use crate::compat::check;
use crate::model::AvroSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn is_transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid compatibility level: {0}")]
pub struct InvalidLevel(pub String);

impl FromStr for Level {
    type Err = InvalidLevel;

    fn from_str(text: &str) -> Result<Level, InvalidLevel> {
        let all = [
            Level::None,
            Level::Backward,
            Level::BackwardTransitive,
            Level::Forward,
            Level::ForwardTransitive,
            Level::Full,
            Level::FullTransitive,
        ];
        all.into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| InvalidLevel(text.to_string()))
    }
}

/// Confluent truncates the old schema in messages after this many UTF-16 units.
const MAX_SCHEMA_IN_MESSAGE: usize = 10 * 1024;

/// Checks `new` against `previous` (live versions, oldest first) under `level`
/// and returns the messages Confluent would list; empty means compatible.
/// Newest first, stopping at the first previous schema that fails.
pub fn check_level(
    level: Level,
    new: &AvroSchema,
    previous: &[(Option<u32>, &AvroSchema)],
) -> Vec<String> {
    if level == Level::None {
        return Vec::new();
    }
    let candidates: Vec<&(Option<u32>, &AvroSchema)> = if level.is_transitive() {
        previous.iter().rev().collect()
    } else {
        previous.last().into_iter().collect()
    };
    for (version, old) in candidates {
        let mut messages = match level {
            Level::Backward | Level::BackwardTransitive => backward(new, *version, old),
            Level::Forward | Level::ForwardTransitive => forward(new, *version, old, true),
            _ => {
                // Forward half first, without the old-schema lines.
                let mut messages = forward(new, *version, old, false);
                messages.extend(backward(new, *version, old));
                messages
            }
        };
        if !messages.is_empty() {
            messages.push(format!(
                "{{validateFields: 'false', compatibility: '{}'}}",
                level.as_str()
            ));
            return messages;
        }
    }
    Vec::new()
}

fn backward(new: &AvroSchema, version: Option<u32>, old: &AvroSchema) -> Vec<String> {
    let found = check(new, old);
    let mut messages: Vec<String> = found.iter().map(|i| i.render(true)).collect();
    if !messages.is_empty() {
        messages.extend(old_schema_lines(version, old));
    }
    messages
}

fn forward(
    new: &AvroSchema,
    version: Option<u32>,
    old: &AvroSchema,
    with_schema: bool,
) -> Vec<String> {
    let found = check(old, new);
    let mut messages: Vec<String> = found.iter().map(|i| i.render(false)).collect();
    if with_schema && !messages.is_empty() {
        messages.extend(old_schema_lines(version, old));
    }
    messages
}

fn old_schema_lines(version: Option<u32>, old: &AvroSchema) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(version) = version {
        lines.push(format!("{{oldSchemaVersion: {version}}}"));
    }
    let text = old.canonical();
    match utf16_prefix(&text, MAX_SCHEMA_IN_MESSAGE) {
        None => lines.push(format!("{{oldSchema: '{text}'}}")),
        Some(prefix) => lines.push(format!(
            "{{oldSchema: <truncated to {MAX_SCHEMA_IN_MESSAGE} characters> '{prefix}'}}"
        )),
    }
    lines
}

/// The longest prefix of at most `limit` UTF-16 units (Java string length), or
/// `None` when the text is not longer than that.
fn utf16_prefix(text: &str, limit: usize) -> Option<&str> {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > limit {
            return Some(&text[..index]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!("backward_transitive".parse(), Ok(Level::BackwardTransitive));
        assert_eq!("FULL".parse(), Ok(Level::Full));
        assert_eq!(Level::ForwardTransitive.as_str(), "FORWARD_TRANSITIVE");
        assert!("sideways".parse::<Level>().is_err());
    }

    #[test]
    fn utf16_prefix_counts_java_units() {
        assert_eq!(utf16_prefix("abc", 3), None);
        assert_eq!(utf16_prefix("abcd", 3), Some("abc"));
        // U+1F600 is two UTF-16 units.
        assert_eq!(utf16_prefix("a\u{1F600}b", 2), Some("a"));
    }
}
