//! A field path (Kafka's `SingleFieldPath`, KIP-821): with `field.syntax.version=V1` the whole
//! text names one top-level field; with `V2` dots step into nested structs and maps, and a
//! backtick pair quotes a name holding dots (`` `a.b`.c ``, a backslash before a closing
//! backtick keeps it in the name).

use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, Field, Importance, Result, Schema, Struct, Validator,
    Value,
};

use super::support::{field_value, map_get, require_map_ref, require_struct_ref};

const NESTED: &str = "nested field access";

/// The config key choosing the syntax.
pub const SYNTAX_VERSION: &str = "field.syntax.version";

/// Adds `field.syntax.version` (V1 or V2, default V1) to a transform's definition.
pub fn with_syntax_version(def: ConfigDef) -> ConfigDef {
    def.define(
        SYNTAX_VERSION,
        ConfigType::String,
        Some("V1"),
        Importance::High,
        "Defines the version of the syntax to access fields. If set to V1, then the field paths are limited to access the elements at the root level of the struct or map. If set to V2, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots.",
    )
    .validator(Validator::OneOf(vec!["V1".into(), "V2".into()]))
}

/// A parsed path: the names to step through, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<String>,
}

impl FieldPath {
    /// Parses `path` in the syntax `version` names (`V1` or `V2`, any case).
    pub fn parse(path: &str, version: &str) -> Result<Self> {
        if version.eq_ignore_ascii_case("V2") {
            Ok(Self {
                steps: v2_steps(path)?,
            })
        } else {
            Ok(Self::top_level(path))
        }
    }

    /// A path to the top-level field `name` (the V1 syntax).
    pub fn top_level(name: &str) -> Self {
        Self {
            steps: vec![name.to_string()],
        }
    }

    #[cfg(test)]
    fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The field the path leads to in `schema`, if every step exists.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> Result<Option<&'a Field>> {
        let Some((last, inner)) = self.steps.split_last() else {
            return Ok(None);
        };
        let mut current = schema;
        for step in inner {
            match struct_field(current, step)? {
                Some(f) => current = &f.schema,
                None => return Ok(None),
            }
        }
        struct_field(current, last)
    }

    /// The value the path leads to in a schemaless map; null when a step is missing or null.
    pub fn value_from_map(&self, entries: &[(Value, Value)]) -> Result<Value> {
        let Some((last, inner)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = entries;
        for step in inner {
            match map_get(current, step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(next) => current = require_map_ref(next, NESTED)?,
            }
        }
        Ok(map_get(current, last).cloned().unwrap_or(Value::Null))
    }

    /// The value the path leads to in a struct; null when a step is missing or null. Steps
    /// before the last always take a field's default for a null; the last one only with
    /// `with_default`.
    pub fn value_from_struct(&self, value: &Struct, with_default: bool) -> Result<Value> {
        let Some((last, inner)) = self.steps.split_last() else {
            return Ok(Value::Null);
        };
        let mut current = value;
        for step in inner {
            let Some(field) = current.schema().field(step) else {
                return Ok(Value::Null);
            };
            match field_value(current, field.index, true) {
                Value::Null => return Ok(Value::Null),
                next => current = require_struct_ref(next, NESTED)?,
            }
        }
        Ok(match current.schema().field(last) {
            Some(field) => field_value(current, field.index, with_default).clone(),
            None => Value::Null,
        })
    }
}

fn struct_field<'a>(schema: &'a Schema, name: &str) -> Result<Option<&'a Field>> {
    if schema.schema_type != sluice_connect_api::SchemaType::Struct {
        return Err(ConnectError::data(
            "Cannot look up fields on non-struct type",
        ));
    }
    Ok(schema.field(name))
}

/// The V2 steps of `path`, as Kafka splits them.
fn v2_steps(path: &str) -> Result<Vec<String>> {
    let bytes = path.as_bytes();
    let len = bytes.len();
    let incomplete = |at: usize| {
        ConnectError::Config {
        key: "field".into(),
        message: format!("Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it"),
    }
    };
    let mut steps = Vec::new();
    let mut idx = 0;
    while idx < len {
        if bytes[idx] != b'`' {
            match path[idx..].find('.') {
                Some(d) => {
                    steps.push(path[idx..idx + d].to_string());
                    idx += d + 1;
                }
                None => {
                    steps.push(path[idx..].to_string());
                    idx = len;
                }
            }
            continue;
        }
        let opened_at = idx;
        let mut search = idx + 1;
        let mut start = search;
        let mut field = String::new();
        loop {
            let Some(close) = path[search..].find('`').map(|p| p + search) else {
                return Err(incomplete(opened_at));
            };
            let escaped = bytes[close - 1] == b'\\';
            if close + 1 >= len {
                if escaped {
                    return Err(incomplete(opened_at));
                }
                field.push_str(&path[start..close]);
                steps.push(std::mem::take(&mut field));
                idx = close + 1;
                break;
            }
            if bytes[close + 1] != b'.' {
                // A backtick inside the name.
                search = close + 1;
                continue;
            }
            if escaped {
                // `\`.` keeps the backtick and the dot in the name.
                field.push_str(&path[start..close - 1]);
                field.push('`');
                search = close + 1;
                start = search;
                continue;
            }
            field.push_str(&path[start..close]);
            steps.push(std::mem::take(&mut field));
            idx = close + 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(path: &str) -> Vec<String> {
        FieldPath::parse(path, "V2")
            .expect("parsed")
            .steps()
            .to_vec()
    }

    #[test]
    fn v2_paths_split_as_kafka_splits_them() {
        for (path, expected) in [
            ("foo.bar.baz", vec!["foo", "bar", "baz"]),
            ("foo.`bar.baz`", vec!["foo", "bar.baz"]),
            ("..", vec!["", "", ""]),
            ("foo..", vec!["foo", "", ""]),
            (".bar.", vec!["", "bar", ""]),
            ("..baz", vec!["", "", "baz"]),
            ("", vec![]),
            ("foo`bar`baz", vec!["foo`bar`baz"]),
            ("`foo.bar.baz`", vec!["foo.bar.baz"]),
            ("`foo.bar`.baz", vec!["foo.bar", "baz"]),
            ("foo.`bar`.baz", vec!["foo", "bar", "baz"]),
            ("foo.``bar.baz`", vec!["foo", "`bar.baz"]),
            ("foo.`bar.baz``", vec!["foo", "bar.baz`"]),
            ("foo.`ba`r.baz`", vec!["foo", "ba`r.baz"]),
            ("foo.ba`r.baz", vec!["foo", "ba`r", "baz"]),
            ("foo.``bar``.baz", vec!["foo", "`bar`", "baz"]),
            ("``foo.bar.baz``", vec!["`foo.bar.baz`"]),
            ("foo.`bar\\`.baz`", vec!["foo", "bar`.baz"]),
            ("foo.`bar.`baz`", vec!["foo", "bar.`baz"]),
            ("foo.`bar\\`.`baz`", vec!["foo", "bar`.`baz"]),
            ("foo.`bar\\\\`.\\`baz`", vec!["foo", "bar\\`.\\`baz"]),
        ] {
            assert_eq!(v2(path), expected, "{path}");
        }
        assert_eq!(
            FieldPath::parse("foo.`bar.baz`", "V1").expect("v1").steps(),
            ["foo.`bar.baz`"]
        );
    }

    #[test]
    fn unbalanced_backticks_are_refused_with_their_position() {
        for (path, at) in [
            ("`foo.bar.baz", 0),
            ("foo.`bar.baz", 4),
            ("foo.bar.`baz", 8),
            ("foo.bar.`baz\\`", 8),
        ] {
            let e = FieldPath::parse(path, "v2").expect_err("unbalanced");
            assert_eq!(
                e.message(),
                format!("Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it")
            );
        }
    }
}
