//! Java-style `.properties` files and the layering of config sources: defaults, then a file,
//! then the environment (Confluent image names such as `KAFKA_LOG_DIRS`), then flags.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

pub type Properties = BTreeMap<String, String>;

/// Parses `.properties` text: `key=value`, `key: value` or `key value`; `#` and `!` comments;
/// a trailing backslash continues a line; `\t`, `\n`, `\uXXXX` and friends are unescaped.
pub fn parse(text: &str) -> Result<Properties> {
    let mut props = Properties::new();
    let mut logical = String::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if logical.is_empty()
            && (trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!'))
        {
            continue;
        }
        let continued = trailing_backslashes(trimmed) % 2 == 1;
        logical.push_str(if continued {
            &trimmed[..trimmed.len() - 1]
        } else {
            trimmed
        });
        if continued {
            continue;
        }
        let entry = std::mem::take(&mut logical);
        let (key, value) = split_entry(&entry);
        let key = unescape(key).with_context(|| format!("line {}", number + 1))?;
        let value = unescape(value).with_context(|| format!("line {}", number + 1))?;
        props.insert(key, value);
    }
    Ok(props)
}

pub fn load_file(path: &Path) -> Result<Properties> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing {}", path.display()))
}

fn trailing_backslashes(s: &str) -> usize {
    s.bytes().rev().take_while(|&b| b == b'\\').count()
}

fn split_entry(entry: &str) -> (&str, &str) {
    let bytes = entry.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' => return (&entry[..i], entry[i + 1..].trim_start()),
            b' ' | b'\t' => {
                let rest = entry[i..].trim_start();
                let rest = rest.strip_prefix(['=', ':']).unwrap_or(rest);
                return (&entry[..i], rest.trim_start());
            }
            _ => i += 1,
        }
    }
    (entry, "")
}

fn unescape(s: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                match code {
                    Some(ch) => out.push(ch),
                    None => bail!("malformed \\u escape '\\u{hex}'"),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

/// Environment variables of the Confluent images that are not configs.
const NOT_CONFIGS: &[&str] = &[
    "VERSION",
    "HEAP_OPTS",
    "LOG4J_OPTS",
    "OPTS",
    "JMX_OPTS",
    "JMX_PORT",
    "JMX_HOSTNAME",
    "JVM_PERFORMANCE_OPTS",
    "GC_LOG_OPTS",
    "LOG4J_ROOT_LOGLEVEL",
    "LOG4J_LOGGERS",
    "TOOLS_LOG4J_LOGLEVEL",
];

/// Config keys from variables named `<prefix>_...`, decoded as the Confluent images do:
/// `_` is `.`, `__` is `_`, `___` is `-`, and the rest is lower-cased.
pub fn from_env(prefix: &str, vars: impl IntoIterator<Item = (String, String)>) -> Properties {
    let mut props = Properties::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
            continue;
        };
        if rest.is_empty() || NOT_CONFIGS.contains(&rest) {
            continue;
        }
        props.insert(env_to_key(rest), value);
    }
    props
}

fn env_to_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            key.push(c.to_ascii_lowercase());
            continue;
        }
        let mut run = 1;
        while chars.peek() == Some(&'_') {
            chars.next();
            run += 1;
        }
        key.push_str(match run {
            1 => ".",
            2 => "_",
            _ => "-",
        });
    }
    key
}

/// Parses `key=value` flags such as `--override`.
pub fn parse_overrides(flags: &[String], flag: &str) -> Result<Properties> {
    let mut props = Properties::new();
    for item in flags {
        let Some((key, value)) = item.split_once('=') else {
            bail!("{flag} '{item}' is not of the form key=value");
        };
        props.insert(key.trim().to_string(), value.to_string());
    }
    Ok(props)
}

/// Layers sources, later ones winning.
pub fn layer(sources: impl IntoIterator<Item = Properties>) -> Properties {
    let mut merged = Properties::new();
    for source in sources {
        merged.extend(source);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_syntax_follows_java() {
        let props = parse(
            "# comment\n! also\nlisteners=PLAINTEXT://:9092\nlog.dirs : /tmp/x\nnum.partitions 3\n\
             long=a,\\\n    b\npath=C:\\\\data\nuni=\\u00e9\nempty=\n",
        )
        .expect("parse");
        assert_eq!(props["listeners"], "PLAINTEXT://:9092");
        assert_eq!(props["log.dirs"], "/tmp/x");
        assert_eq!(props["num.partitions"], "3");
        assert_eq!(props["long"], "a,b");
        assert_eq!(props["path"], "C:\\data");
        assert_eq!(props["uni"], "é");
        assert_eq!(props["empty"], "");
        assert!(parse("bad=\\uZZZZ").is_err());
    }

    #[test]
    fn environment_names_decode_like_the_confluent_images() {
        let vars = [
            ("KAFKA_LOG_DIRS", "/var/lib/kafka"),
            ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://h:9092"),
            ("KAFKA_HEAP_OPTS", "-Xmx1G"),
            ("CONNECT_BOOTSTRAP_SERVERS", "x"),
            ("KAFKA_CONFLUENT_SUPPORT__METRICS___ENABLE", "false"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let props = from_env("KAFKA", vars);
        assert_eq!(props.len(), 3);
        assert_eq!(props["log.dirs"], "/var/lib/kafka");
        assert_eq!(props["advertised.listeners"], "PLAINTEXT://h:9092");
        assert_eq!(props["confluent.support_metrics-enable"], "false");
    }

    #[test]
    fn later_layers_win() {
        let file = parse("a=1\nb=1").expect("parse");
        let flags = parse_overrides(&["b=2".to_string()], "--override").expect("flags");
        let merged = layer([file, flags]);
        assert_eq!(merged["a"], "1");
        assert_eq!(merged["b"], "2");
        assert!(parse_overrides(&["nokey".to_string()], "--override").is_err());
    }
}
