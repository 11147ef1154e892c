//! The request URL template: checked once at build time (absolute `http(s)`, an allowed host,
//! placeholders only in the path and query, written as it will be sent), then filled with the
//! subject's percent-encoded identifiers on every call.

use enrichd_sdk::{Identifier, Subject};
use reqwest::Url;

use crate::{
    hosts::AllowedHosts,
    template::{Piece, Template, Unusable, raw_value, url_value},
};

/// A URL with placeholders in its path and query.
#[derive(Clone)]
pub(crate) struct UrlTemplate {
    template: Template,
    /// Length of `scheme://authority` at the start of the template's first piece: everything
    /// after it is path and query.
    origin_len: usize,
}

/// The problem of a value that still holds `${VAR}`.
pub(crate) const UNSET_VARIABLE: &str = "still holds a `${...}` environment placeholder: enrichd \
     replaces those before the manifest is read, so the variable is probably not set";

/// Why a URL template is refused.
pub(crate) type Problem = String;

impl UrlTemplate {
    /// Check `text` (already resolved against `base_url` when it was relative). `hosts` is
    /// `None` when `allowed_hosts` has problems of its own: the host is not checked then.
    ///
    /// Error messages do not quote the URL: it may carry a credential in its query.
    pub(crate) fn parse(text: &str, hosts: Option<&AllowedHosts>) -> Result<UrlTemplate, Problem> {
        if text.contains("${") {
            return Err(UNSET_VARIABLE.into());
        }
        let template = Template::parse(text)?;
        let probe = template.probe();
        let Some(scheme_end) = probe.find("://") else {
            return Err(
                "must be an absolute http(s) URL, e.g. https://api.acme.example/v1/people?email={email}, \
                 or a path such as /v1/people?email={email} with base_url set"
                    .into(),
            );
        };
        let authority_start = scheme_end + 3;
        let origin_len = match probe[authority_start..].find(['/', '?', '#']) {
            Some(offset) if probe.as_bytes()[authority_start + offset] == b'/' => {
                authority_start + offset
            }
            _ => {
                return Err(
                    "needs a path after the host, e.g. https://api.acme.example/v1/people?email={email}"
                        .into(),
                );
            }
        };
        let origin_is_static = match template.pieces().first() {
            Some(Piece::Text(first)) => first.len() >= origin_len,
            _ => false,
        };
        if !origin_is_static {
            return Err(
                "has a placeholder in its scheme, host or port: placeholders may appear only in \
                 the path and the query, e.g. https://api.acme.example/v1/people/{email}"
                    .into(),
            );
        }
        if probe.contains('#') {
            return Err("has a fragment (`#...`), which is never sent: remove it".into());
        }
        let url = Url::parse(&probe).map_err(|err| format!("is not a valid URL ({err})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "must use http or https, not `{}`, e.g. https://api.acme.example/v1/people",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "must not carry credentials before the host: send them in request.headers, \
                 e.g. Authorization: \"Bearer ${ACME_TOKEN}\""
                    .into(),
            );
        }
        let host = url.host_str().unwrap_or_default();
        if hosts.is_some_and(|hosts| !hosts.allows(&url)) {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            return Err(format!(
                "calls `{host}{port}`, which allowed_hosts does not list: add it, \
                 e.g. allowed_hosts: [\"{host}{port}\"]"
            ));
        }
        if path_and_query(&url) != probe[origin_len..] {
            return Err(
                "must be written as it is sent: percent-encoded (%20 for a space, no braces \
                 outside placeholders) and without `.` or `..` path segments"
                    .into(),
            );
        }
        Ok(UrlTemplate {
            template,
            origin_len,
        })
    }

    /// The template's identifiers, for the check against `requires`.
    pub(crate) fn template(&self) -> &Template {
        &self.template
    }

    /// The URL for `subject`, each value percent-encoded (see [`url_value`]).
    ///
    /// A value that would still change the path — `.` or `..` as a whole segment, which URL
    /// parsing resolves even when percent-encoded — is refused, as is an absent or empty one.
    pub(crate) fn render(&self, subject: &Subject) -> Result<Url, Unusable> {
        let text = self
            .template
            .render(|identifier| raw_value(subject, identifier).map(url_value))?;
        match Url::parse(&text) {
            Ok(url) if path_and_query(&url) == text[self.origin_len..] => Ok(url),
            _ => {
                // Only a value made of dots can do this; name the first one.
                let placeholders: Vec<&Identifier> = self.template.placeholders().collect();
                let culprit = placeholders
                    .iter()
                    .find(|id| {
                        subject
                            .identifier(id)
                            .is_some_and(|v| v.bytes().all(|b| b == b'.'))
                    })
                    .or(placeholders.first());
                Err(Unusable {
                    identifier: culprit.map_or(Identifier::UserId, |id| (*id).clone()),
                    why: "would change the request path (a `.` or `..` segment)",
                })
            }
        }
    }
}

/// `/path?query` as the URL holds it.
fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// A URL without placeholders (the health check's), checked like a template.
pub(crate) fn parse_fixed(text: &str, hosts: Option<&AllowedHosts>) -> Result<Url, Problem> {
    let template = UrlTemplate::parse(text, hosts)?;
    if template.template.has_placeholders() {
        return Err(
            "has a placeholder, but the health check has no subject to fill it: use a fixed \
             URL, e.g. /v1/status"
                .into(),
        );
    }
    Url::parse(&template.template.probe()).map_err(|err| format!("is not a valid URL ({err})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> AllowedHosts {
        AllowedHosts::parse(&["api.acme.example".to_owned(), "127.0.0.1:4010".to_owned()]).0
    }

    fn parse(text: &str) -> Result<UrlTemplate, Problem> {
        UrlTemplate::parse(text, Some(&hosts()))
    }

    fn subject() -> Subject {
        Subject::new("u-1")
    }

    #[test]
    fn values_are_encoded_in_the_path_and_the_query() {
        let template =
            parse("https://api.acme.example/v1/people/{email}?email={email}&uid={user_id}")
                .unwrap();
        let url = template
            .render(&subject().with_email("a/../../admin?x=1#@evil.example"))
            .unwrap();
        assert_eq!(url.host_str(), Some("api.acme.example"));
        assert_eq!(
            url.path(),
            "/v1/people/a%2F..%2F..%2Fadmin%3Fx%3D1%23%40evil.example"
        );
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            query,
            [
                (
                    "email".to_owned(),
                    "a/../../admin?x=1#@evil.example".to_owned()
                ),
                ("uid".to_owned(), "u-1".to_owned()),
            ]
        );
    }

    #[test]
    fn dot_segments_are_refused() {
        let template = parse("https://api.acme.example/v1/users/{user_id}/profile").unwrap();
        for id in [".", ".."] {
            let err = template.render(&Subject::new(id)).unwrap_err();
            assert_eq!(err.identifier, Identifier::UserId, "{id}");
        }
        assert!(template.render(&Subject::new("...")).is_ok());
        assert!(template.render(&Subject::new("a..b")).is_ok());
    }

    #[test]
    fn absent_and_empty_values_are_refused() {
        let template = parse("https://api.acme.example/v1/people?email={email}").unwrap();
        assert_eq!(template.render(&subject()).unwrap_err().why, "is absent");
        assert_eq!(
            template.render(&subject().with_email("")).unwrap_err().why,
            "is empty"
        );
    }

    #[test]
    fn placeholders_outside_path_and_query_are_refused() {
        for bad in [
            "https://{email}/v1",
            "https://api.acme.example:{phone}/v1",
            "https://{user_id}.acme.example/v1",
            "{email}://api.acme.example/v1",
            "https://{email}@api.acme.example/v1",
        ] {
            let err = parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(
                err.contains("placeholder") || err.contains("absolute"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn other_malformed_urls_are_refused_without_being_quoted() {
        let cases = [
            ("api.acme.example/v1", "absolute"),
            ("ftp://api.acme.example/v1", "http or https"),
            ("https://api.acme.example", "path"),
            ("https://api.acme.example?q={email}", "path"),
            ("https://api.acme.example/v1#{email}", "fragment"),
            ("https://evil.example/v1", "allowed_hosts"),
            ("http://127.0.0.1:4011/v1", "allowed_hosts"),
            ("https://k3y:s3cret@api.acme.example/v1", "credentials"),
            ("https://api.acme.example/v1/../admin", "without `.`"),
            ("https://api.acme.example/v1/a b", "percent-encoded"),
            ("https://api.acme.example/v1?key=${ACME_KEY}", "environment"),
        ];
        for (bad, expected) in cases {
            let err = parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(err.contains(expected), "{bad}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn the_allowed_host_and_port_are_accepted() {
        assert!(parse("http://127.0.0.1:4010/v1/people?email={email}").is_ok());
        assert!(parse("https://API.acme.example/v1/people?q=a%20b&email={email}").is_ok());
    }

    #[test]
    fn fixed_urls_have_no_placeholders() {
        assert!(parse_fixed("https://api.acme.example/v1/status", Some(&hosts())).is_ok());
        let err = parse_fixed("https://api.acme.example/v1/{email}", Some(&hosts())).unwrap_err();
        assert!(err.contains("health check"), "{err}");
    }
}
