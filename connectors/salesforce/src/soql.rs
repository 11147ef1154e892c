//! The SOQL the connector sends: the objects it can search and the lookup query, with the email
//! escaped so that no subject can change the query (SOQL injection).

/// A Salesforce object the connector can look a person up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SObject {
    Contact,
    Lead,
}

impl SObject {
    /// The object's API name, as in SOQL and in a record's `attributes.type`.
    pub fn name(self) -> &'static str {
        match self {
            SObject::Contact => "Contact",
            SObject::Lead => "Lead",
        }
    }

    /// The object named `text` (SOQL names are case-insensitive).
    pub fn parse(text: &str) -> Option<SObject> {
        [SObject::Contact, SObject::Lead]
            .into_iter()
            .find(|object| object.name().eq_ignore_ascii_case(text.trim()))
    }
}

/// `SELECT <fields> FROM <object> WHERE Email = '<email>' ORDER BY LastModifiedDate DESC LIMIT 1`.
///
/// `fields` were checked to be plain field paths when the settings were parsed; the email is
/// the only outside text and goes in through [`string_literal`]. Several records may share an
/// email: the most recently modified one is taken, so repeated lookups agree.
pub fn lookup_query(object: SObject, fields: &[String], email: &str) -> String {
    format!(
        "SELECT {} FROM {} WHERE Email = {} ORDER BY LastModifiedDate DESC LIMIT 1",
        fields.join(", "),
        object.name(),
        string_literal(email)
    )
}

/// `text` as a quoted SOQL string literal.
///
/// SOQL requires a backslash before `'` and `\` inside a literal; the other escape sequences
/// SOQL knows (`\"`, `\n`, `\r`, `\t`, `\b`, `\f`) are used for the characters they stand for,
/// so no control character reaches the query either.
pub fn string_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for c in text.chars() {
        match c {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("\\'"),
            '"' => literal.push_str("\\\""),
            '\n' => literal.push_str("\\n"),
            '\r' => literal.push_str("\\r"),
            '\t' => literal.push_str("\\t"),
            '\u{8}' => literal.push_str("\\b"),
            '\u{c}' => literal.push_str("\\f"),
            c => literal.push(c),
        }
    }
    literal.push('\'');
    literal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(string_literal("ada@example.com"), "'ada@example.com'");
        assert_eq!(
            string_literal("o'hara@example.com"),
            r"'o\'hara@example.com'"
        );
        assert_eq!(string_literal(r"a\b@example.com"), r"'a\\b@example.com'");
        // A backslash before a quote must not end up escaping the escape.
        assert_eq!(string_literal(r"x\'@example.com"), r"'x\\\'@example.com'");
        assert_eq!(string_literal("\"q\"\n\t"), r#"'\"q\"\n\t'"#);
    }

    #[test]
    fn an_injection_attempt_stays_inside_the_literal() {
        let email = "x' OR Email != 'y@example.com";
        let query = lookup_query(SObject::Contact, &["Id".into()], email);
        assert_eq!(
            query,
            r"SELECT Id FROM Contact WHERE Email = 'x\' OR Email != \'y@example.com' ORDER BY LastModifiedDate DESC LIMIT 1"
        );
    }

    #[test]
    fn the_query_selects_the_configured_fields_of_the_object() {
        let fields = [
            "Id".to_owned(),
            "Name".to_owned(),
            "Account.Name".to_owned(),
        ];
        assert_eq!(
            lookup_query(SObject::Lead, &fields, "ada@example.com"),
            "SELECT Id, Name, Account.Name FROM Lead WHERE Email = 'ada@example.com' \
             ORDER BY LastModifiedDate DESC LIMIT 1"
        );
    }

    #[test]
    fn object_names_are_case_insensitive() {
        assert_eq!(SObject::parse("contact"), Some(SObject::Contact));
        assert_eq!(SObject::parse("LEAD"), Some(SObject::Lead));
        assert_eq!(SObject::parse("Account"), None);
    }
}
