//! Java regular expressions (`java.util.regex`) as Kafka Connect configs write them
//! (RegexRouter, TopicNameMatches, spooldir's `input.file.pattern`), run on Rust's `regex`:
//! Java's ASCII meaning of `\w \d \s \b` and the POSIX `\p{Alpha}` classes, `\Q...\E` quoting,
//! and `$1` / `${name}` replacements. Constructs `regex` cannot run (look-around, back-references,
//! possessive quantifiers, atomic groups) are refused when the pattern is compiled, so a config
//! never matches differently from Java without saying so.

use regex::{Captures, Regex};

/// Compiles a Java pattern.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| format!("Invalid regex '{pattern}': {e}"))
}

/// Compiles a Java pattern for `Matcher.matches()`: the whole text must match.
pub fn compile_whole(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&format!("^(?:{translated})$"))
        .map_err(|e| format!("Invalid regex '{pattern}': {e}"))
}

fn unsupported(pattern: &str, what: &str) -> String {
    format!("Invalid regex '{pattern}': {what} is not supported by Sluice")
}

/// Java's POSIX classes, ASCII only as in Java's default mode.
fn posix_class(name: &str) -> Option<&'static str> {
    Some(match name {
        "Lower" => "a-z",
        "Upper" => "A-Z",
        "ASCII" => r"\x00-\x7F",
        "Alpha" => "a-zA-Z",
        "Digit" => "0-9",
        "Alnum" => "a-zA-Z0-9",
        "Punct" => r"!-/:-@\[-`{-~",
        "Graph" => r"!-~",
        "Print" => r" -~",
        "Blank" => r" \t",
        "Cntrl" => r"\x00-\x1F\x7F",
        "XDigit" => "0-9a-fA-F",
        "Space" => r" \t\n\x0B\x0C\r",
        _ => return None,
    })
}

fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut class_depth = 0usize;
    // Whether the last thing written was a quantifier: a `+` after one is possessive.
    let mut after_quantifier = false;
    while i < chars.len() {
        let c = chars[i];
        let was_quantifier = std::mem::replace(&mut after_quantifier, false);
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(format!("Invalid regex '{pattern}': a trailing backslash"));
                };
                i += 2;
                match next {
                    'Q' => {
                        // Everything up to \E is literal.
                        let mut literal = String::new();
                        while i < chars.len()
                            && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E'))
                        {
                            literal.push(chars[i]);
                            i += 1;
                        }
                        i += 2;
                        out.push_str(&regex::escape(&literal));
                    }
                    'w' => out.push_str(if class_depth > 0 {
                        "a-zA-Z0-9_"
                    } else {
                        "[a-zA-Z0-9_]"
                    }),
                    'W' if class_depth == 0 => out.push_str("[^a-zA-Z0-9_]"),
                    'd' => out.push_str(if class_depth > 0 { "0-9" } else { "[0-9]" }),
                    'D' if class_depth == 0 => out.push_str("[^0-9]"),
                    's' => out.push_str(if class_depth > 0 {
                        r" \t\n\x0B\x0C\r"
                    } else {
                        r"[ \t\n\x0B\x0C\r]"
                    }),
                    'S' if class_depth == 0 => out.push_str(r"[^ \t\n\x0B\x0C\r]"),
                    'b' if class_depth == 0 => out.push_str(r"(?-u:\b)"),
                    'B' if class_depth == 0 => out.push_str(r"(?-u:\B)"),
                    'Z' => out.push_str(r"(?:\n?\z)"),
                    'G' => return Err(unsupported(pattern, r"\G")),
                    'p' | 'P' if chars.get(i) == Some(&'{') => {
                        let end = chars[i..].iter().position(|&ch| ch == '}').ok_or_else(|| {
                            format!("Invalid regex '{pattern}': an unclosed \\p{{")
                        })?;
                        let name: String = chars[i + 1..i + end].iter().collect();
                        i += end + 1;
                        match (posix_class(&name), next, class_depth > 0) {
                            (Some(set), 'p', true) => out.push_str(set),
                            (Some(set), 'p', false) => out.push_str(&format!("[{set}]")),
                            (Some(set), _, false) => out.push_str(&format!("[^{set}]")),
                            (Some(_), _, true) => {
                                return Err(unsupported(
                                    pattern,
                                    "a negated POSIX class inside a class",
                                ))
                            }
                            // Unicode classes (\p{L}, \p{IsLatin}) mean the same in both.
                            (None, _, _) => out.push_str(&format!("\\{next}{{{name}}}")),
                        }
                    }
                    '1'..='9' => return Err(unsupported(pattern, "a back-reference")),
                    'k' => return Err(unsupported(pattern, "a named back-reference")),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
                continue;
            }
            '[' => {
                class_depth += 1;
                out.push('[');
                // A ']' first in a class is literal in Java.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i + 2..chars.len().min(i + 4)].iter().collect();
                if rest.starts_with('=')
                    || rest.starts_with('!')
                    || rest.starts_with("<=")
                    || rest.starts_with("<!")
                {
                    return Err(unsupported(pattern, "look-around"));
                }
                if rest.starts_with('>') {
                    return Err(unsupported(pattern, "an atomic group"));
                }
                out.push('(');
            }
            '+' if class_depth == 0 && was_quantifier => {
                return Err(unsupported(pattern, "a possessive quantifier"));
            }
            '*' | '+' | '?' if class_depth == 0 => {
                out.push(c);
                // A '?' after a quantifier makes it lazy; nothing may follow that.
                after_quantifier = !(c == '?' && was_quantifier);
            }
            '{' if class_depth == 0 => match chars[i..].iter().position(|&ch| ch == '}') {
                Some(end)
                    if chars[i + 1..i + end]
                        .iter()
                        .all(|ch| ch.is_ascii_digit() || *ch == ',') =>
                {
                    out.extend(&chars[i..=i + end]);
                    i += end + 1;
                    after_quantifier = true;
                    continue;
                }
                _ => out.push('{'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    Ok(out)
}

/// A Java replacement string: `$n` (the longest group number the pattern has), `${name}`, and
/// `\x` for a literal `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct JavaReplacement {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Group(usize),
    Named(String),
}

impl JavaReplacement {
    /// Parses `replacement` for a pattern with `groups` capture groups (group 0 included).
    pub fn parse(replacement: &str, regex: &Regex) -> Result<Self, String> {
        let groups = regex.captures_len();
        let chars: Vec<char> = replacement.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        let error = |what: &str| format!("Invalid replacement '{replacement}': {what}");
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let next = chars
                        .get(i + 1)
                        .ok_or_else(|| error("a trailing backslash"))?;
                    text.push(*next);
                    i += 2;
                }
                '$' => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    match chars.get(i + 1) {
                        Some('{') => {
                            let end = chars[i..]
                                .iter()
                                .position(|&c| c == '}')
                                .ok_or_else(|| error("an unclosed ${"))?;
                            let name: String = chars[i + 2..i + end].iter().collect();
                            if regex.capture_names().flatten().all(|n| n != name) {
                                return Err(error(&format!("no group with name {{{name}}}")));
                            }
                            parts.push(Part::Named(name));
                            i += end + 1;
                        }
                        Some(d) if d.is_ascii_digit() => {
                            // Java takes digits while the number stays a group of the pattern.
                            let mut number = d.to_digit(10).unwrap_or(0) as usize;
                            if number >= groups {
                                return Err(error(&format!("no group {number}")));
                            }
                            i += 2;
                            while let Some(more) = chars.get(i).and_then(|c| c.to_digit(10)) {
                                let bigger = number * 10 + more as usize;
                                if bigger >= groups {
                                    break;
                                }
                                number = bigger;
                                i += 1;
                            }
                            parts.push(Part::Group(number));
                        }
                        _ => {
                            return Err(error("'$' must be followed by a group number or ${name}"))
                        }
                    }
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self { parts })
    }

    /// Appends the replacement for one match.
    pub fn expand(&self, captures: &Captures<'_>, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Group(n) => out.push_str(captures.get(*n).map_or("", |m| m.as_str())),
                Part::Named(n) => out.push_str(captures.name(n).map_or("", |m| m.as_str())),
            }
        }
    }

    /// Java's `Matcher.replaceFirst`.
    pub fn replace_first(&self, regex: &Regex, text: &str) -> String {
        match regex.captures(text) {
            Some(captures) => {
                let whole = captures.get(0).map_or(0..0, |m| m.range());
                let mut out = String::with_capacity(text.len());
                out.push_str(&text[..whole.start]);
                self.expand(&captures, &mut out);
                out.push_str(&text[whole.end..]);
                out
            }
            None => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_classes_keep_their_ascii_meaning() {
        let r = compile_whole(r"\w+-\d{2}\s?\p{Upper}").expect("compile");
        assert!(r.is_match("orders-42 X"));
        assert!(!r.is_match("ördersé-42 X"), "\\w is ASCII in Java");
        assert!(compile_whole(r"[\w.]+").expect("compile").is_match("a.b_c"));
        assert!(compile_whole(r"\Qa.b\E").expect("compile").is_match("a.b"));
        assert!(!compile_whole(r"\Qa.b\E").expect("compile").is_match("axb"));
        assert!(compile_whole(r"[]a]+").expect("compile").is_match("]a]"));
        assert!(compile_whole(r"\p{L}+").expect("compile").is_match("é"));
    }

    #[test]
    fn constructs_regex_cannot_run_are_refused() {
        for bad in [r"a(?=b)", r"(?<!x)y", r"(a)\1", r"a++", r"(?>a)", r"\Ga"] {
            let err = compile(bad).expect_err(bad);
            assert!(err.contains("not supported by Sluice"), "{err}");
        }
        assert!(compile(r"a\+\+").is_ok());
    }

    #[test]
    fn replacements_follow_javas_group_rules() {
        let r = compile_whole(r"(\w+)-(\d+)").expect("compile");
        let rep = |s: &str| JavaReplacement::parse(s, &r).expect(s);
        assert_eq!(rep("$2_$1").replace_first(&r, "orders-7"), "7_orders");
        // $10 is group 1 then '0' when there is no group 10.
        assert_eq!(rep("$10").replace_first(&r, "a-1"), "a0");
        assert_eq!(rep(r"\$1").replace_first(&r, "a-1"), "$1");
        let named = compile_whole(r"(?<t>\w+)\.v1").expect("compile");
        assert_eq!(
            JavaReplacement::parse("${t}.v2", &named)
                .expect("named")
                .replace_first(&named, "orders.v1"),
            "orders.v2"
        );
        assert!(JavaReplacement::parse("$3", &r).is_err());
        assert!(JavaReplacement::parse("${nope}", &named).is_err());
    }
}
