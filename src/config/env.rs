//! `${VAR}` and `${VAR:-default}` substitution in the configuration text, before YAML parsing.
//!
//! Substitution is textual: the value is pasted where the placeholder stood, so quote
//! placeholders whose values may contain YAML syntax (`token: "${TOKEN}"`). `$${` stands for a
//! literal `${`. Lines that are entirely comments are left alone. A placeholder that cannot
//! be replaced is reported and left empty, so that the rest of the file can still be checked.

use super::ConfigIssue;

/// Replace every placeholder in `text` using `lookup`: the text (problem placeholders left
/// empty) and every problem found.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (String, Vec<ConfigIssue>) {
    let mut out = String::with_capacity(text.len());
    let mut issues = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at..];
            if let Some(tail) = after.strip_prefix("$${") {
                out.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let Some(end) = tail.find('}') else {
                    issues.push(ConfigIssue::at_line(
                        index + 1,
                        "unterminated `${` placeholder",
                    ));
                    out.push_str(after);
                    rest = "";
                    break;
                };
                match expand(&tail[..end], lookup) {
                    Ok(value) => out.push_str(&value),
                    Err(message) => issues.push(ConfigIssue::at_line(index + 1, message)),
                }
                rest = &tail[end + 1..];
            } else {
                out.push('$');
                rest = &after[1..];
            }
        }
        out.push_str(rest);
    }
    (out, issues)
}

/// The value of one placeholder body: `VAR` or `VAR:-default`.
fn expand(body: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (name, default) = match body.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (body, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`${{{body}}}` is not a valid placeholder: use ${{NAME}} or ${{NAME:-default}}"
        ));
    }
    match (lookup(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_owned()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(format!(
            "environment variable {name} is not set (write ${{{name}:-}} to make it optional)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_are_replaced() {
        let text = "a: ${TOKEN}\nb: ${MISSING:-fallback}\nc: ${EMPTY:-x}\nd: ${MISSING:-}\n";
        assert_eq!(
            substitute(text, &env),
            ("a: s3cret\nb: fallback\nc: x\nd: \n".to_owned(), Vec::new())
        );
    }

    #[test]
    fn dollars_without_braces_and_escapes_are_kept() {
        assert_eq!(
            substitute("price: $5 and $${LITERAL}", &env).0,
            "price: $5 and ${LITERAL}"
        );
    }

    #[test]
    fn comment_lines_are_left_alone() {
        let text = "# needs ${NOT_SET}\nkey: 1\n";
        assert_eq!(substitute(text, &env), (text.to_owned(), Vec::new()));
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let (text, issues) = substitute("a: ${UNSET}\nb: ${bad name}\nc: ${OPEN\n", &env);
        let lines: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(lines, ["line 1", "line 2", "line 3"]);
        assert!(issues[0].message.contains("UNSET is not set"));
        assert!(text.starts_with("a: \nb: \n"), "{text}");
    }
}
