//! Text with `{identifier}` placeholders (`{email}`, `{handles.github}`), the building block of
//! the URL, header and body templates, and the encodings a value gets in each place.

use enrichd_sdk::{Identifier, Subject};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// What may stand unencoded in a URL: RFC 3986's unreserved characters. Everything else in a
/// value (`/ ? # & = + @ %`, spaces, non-ASCII, ...) is percent-encoded, so a value can never
/// end a path segment, start a query, add a parameter or reach the authority. The same set
/// serves path segments and query values: it is right for both.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What is percent-encoded in a header value: control characters and `%` (so the encoding can
/// be undone); percent-encoding always covers non-ASCII bytes too. CR, LF and NUL are refused
/// before encoding, see [`header_value`].
const HEADER_VALUE: &AsciiSet = &CONTROLS.add(b'%');

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text sent as written.
    Text(String),
    /// The subject's value of this identifier.
    Value(Identifier),
}

/// A text with placeholders, parsed once at build time.
///
/// `{x}` is a placeholder when `x` is shaped like an identifier (letters, digits, `_`, `.`,
/// `-`), and then it must name one that [`Identifier::parse`] knows; any other brace (`{ a }`,
/// a lone `}`) is plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parse `text`; the error names the first unknown placeholder.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name = after.find('}').map(|close| &after[..close]);
            match name.filter(|name| is_placeholder_shaped(name)) {
                Some(name) => {
                    let Some(identifier) = Identifier::parse(name) else {
                        return Err(format!(
                            "unknown placeholder `{{{name}}}`: placeholders are {{email}}, \
                             {{phone}}, {{user_id}} and {{handles.<platform>}}, e.g. {{email}}"
                        ));
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value(identifier));
                    rest = &after[name.len() + 1..];
                }
                None => {
                    literal.push('{');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The identifiers the template uses, in order, with repeats.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &Identifier> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Value(identifier) => Some(identifier),
            Piece::Text(_) => None,
        })
    }

    pub(crate) fn has_placeholders(&self) -> bool {
        self.placeholders().next().is_some()
    }

    /// The text with every placeholder replaced by `fill(identifier)`.
    pub(crate) fn render<E>(
        &self,
        mut fill: impl FnMut(&Identifier) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Value(identifier) => out.push_str(&fill(identifier)?),
            }
        }
        Ok(out)
    }

    /// The text with every placeholder replaced by `x`: what validation checks the static
    /// parts with.
    pub(crate) fn probe(&self) -> String {
        self.render(|_| Ok::<_, ()>("x".to_owned()))
            .unwrap_or_default()
    }
}

fn is_placeholder_shaped(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Why a subject's identifier cannot be used in a request; the upstream is then not called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unusable {
    pub(crate) identifier: Identifier,
    pub(crate) why: &'static str,
}

/// The subject's raw value of `identifier`, refusing an absent or empty one.
pub(crate) fn raw_value<'s>(
    subject: &'s Subject,
    identifier: &Identifier,
) -> Result<&'s str, Unusable> {
    match subject.identifier(identifier) {
        None => Err(Unusable {
            identifier: identifier.clone(),
            why: "is absent",
        }),
        Some("") => Err(Unusable {
            identifier: identifier.clone(),
            why: "is empty",
        }),
        Some(value) => Ok(value),
    }
}

/// A value as it goes into a URL path segment or query value (see [`URL_VALUE`]).
pub(crate) fn url_value(value: &str) -> String {
    utf8_percent_encode(value, URL_VALUE).to_string()
}

/// A value as it goes into a header: printable ASCII as it is, anything else percent-encoded.
/// A value with a line break or NUL is refused: it could start a header of its own.
pub(crate) fn header_value(identifier: &Identifier, value: &str) -> Result<String, Unusable> {
    if value.contains(['\r', '\n', '\0']) {
        return Err(Unusable {
            identifier: identifier.clone(),
            why: "holds a line break, which cannot go into a header",
        });
    }
    Ok(utf8_percent_encode(value, HEADER_VALUE).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Piece {
        Piece::Text(s.to_owned())
    }

    fn value(s: &str) -> Piece {
        Piece::Value(Identifier::parse(s).unwrap())
    }

    #[test]
    fn placeholders_are_found_between_text() {
        let template = Template::parse("/v1/{email}/x?uid={user_id}&h={handles.github}").unwrap();
        assert_eq!(
            template.pieces(),
            [
                text("/v1/"),
                value("email"),
                text("/x?uid="),
                value("user_id"),
                text("&h="),
                value("handles.github"),
            ]
        );
        assert_eq!(template.probe(), "/v1/x/x?uid=x&h=x");
    }

    #[test]
    fn braces_that_are_not_placeholder_shaped_are_text() {
        let template = Template::parse("{ person(email: \"{email}\") { name } }").unwrap();
        assert_eq!(
            template.pieces(),
            [
                text("{ person(email: \""),
                value("email"),
                text("\") { name } }")
            ]
        );
        assert!(!Template::parse("a}b{").unwrap().has_placeholders());
    }

    #[test]
    fn unknown_placeholders_are_refused_by_name() {
        for bad in [
            "{emial}",
            "{Email}",
            "{handles.}",
            "{handles.Git-Hub}",
            "{twitter}",
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn url_values_cannot_change_the_structure_of_a_url() {
        assert_eq!(
            url_value("a/../../admin?x=1#"),
            "a%2F..%2F..%2Fadmin%3Fx%3D1%23"
        );
        assert_eq!(url_value("@evil.example"), "%40evil.example");
        assert_eq!(url_value("a+b&c=d %"), "a%2Bb%26c%3Dd%20%25");
        assert_eq!(url_value("zoë"), "zo%C3%AB");
        assert_eq!(url_value("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn header_values_refuse_line_breaks_and_encode_the_rest() {
        let email = Identifier::Email;
        assert_eq!(
            header_value(&email, "ada@example.com").unwrap(),
            "ada@example.com"
        );
        assert_eq!(header_value(&email, "zoë 100%").unwrap(), "zo%C3%AB 100%25");
        for bad in ["a\r\nX-Admin: 1", "a\nb", "a\0b"] {
            assert!(header_value(&email, bad).is_err(), "{bad:?}");
        }
    }
}
