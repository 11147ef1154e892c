//! `allowed_hosts`: which hosts a manifest may call, checked on the request URL at build time
//! and on every redirect hop at call time, so that a manifest cannot be turned into a way to
//! reach anything else (server-side request forgery).
//!
//! # The matching rule
//!
//! An entry is a host name or IP address, optionally with a `:port`, or a `*.` wildcard:
//!
//! - `api.acme.example` matches that host exactly (case-insensitively), on any port;
//! - `api.acme.example:8443` matches it on port 8443 only (the URL's port, or its scheme's
//!   default: `api.acme.example:443` matches `https://api.acme.example/`);
//! - `*.acme.example` matches every subdomain (`eu.api.acme.example`), never `acme.example`
//!   itself; it needs at least two labels after `*.` (`*.com` is refused as too broad);
//! - `127.0.0.1:4010`, `[::1]:4010`: an address, compared as the URL normalises it.
//!
//! A port in an entry is what tells two local servers apart: on loopback every server is
//! `127.0.0.1`, so tests and the demo allow `127.0.0.1:<port>`.
//!
//! # Redirects
//!
//! The connector's own HTTP client follows a redirect only when the next URL is `http` or
//! `https`, keeps `https` once the chain used it (no downgrade), matches `allowed_hosts`, and is
//! at most the 5th hop. Any other redirect is not followed: its 3xx answer comes back to the
//! connector, which reports it as `bad_response`.
//!
//! Names are matched, not addresses: an allowed name that resolves to an internal address is
//! the DNS owner's decision, outside what a manifest can change.

use std::{net::Ipv4Addr, sync::Arc};

use reqwest::{Url, redirect};

/// The most redirect hops followed for one call.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// One `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    /// The host as `Url` normalises it (lower case, punycode, `[v6]`), without the `*.`.
    host: String,
    /// Whether subdomains of `host` match instead of `host` itself.
    subdomains: bool,
    /// The only port that matches, when the entry names one.
    port: Option<u16>,
}

impl HostPattern {
    /// Parse one entry; the error says what is wrong, with an example.
    fn parse(entry: &str) -> Result<HostPattern, String> {
        const EXAMPLE: &str = "e.g. api.acme.example, *.acme.example or 127.0.0.1:4010";
        if entry.contains("://") {
            return Err(format!(
                "`{entry}` must be a host without a scheme or path, {EXAMPLE}"
            ));
        }
        if entry.is_empty()
            || entry
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#' | '\\'))
        {
            return Err(format!("`{entry}` is not a host, {EXAMPLE}"));
        }
        let (subdomains, rest) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        let (host, port) = split_port(rest).map_err(|why| format!("`{entry}` {why}, {EXAMPLE}"))?;
        let normalised = Url::parse(&format!("http://{host}/"))
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .filter(|h| {
                h.starts_with('[')
                    || h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            })
            .ok_or_else(|| format!("`{entry}` is not a host name or IP address, {EXAMPLE}"))?;
        if subdomains {
            let is_address = normalised.starts_with('[') || normalised.parse::<Ipv4Addr>().is_ok();
            if is_address {
                return Err(format!(
                    "`{entry}`: a `*.` wildcard needs a domain name, not an address, {EXAMPLE}"
                ));
            }
            if !normalised.contains('.') {
                return Err(format!(
                    "`{entry}` is too broad: a wildcard needs at least two labels after `*.`, \
                     {EXAMPLE}"
                ));
            }
        }
        Ok(HostPattern {
            host: normalised,
            subdomains,
            port,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host_matches = if self.subdomains {
            host.strip_suffix(self.host.as_str())
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
        } else {
            host == self.host
        };
        host_matches && self.port.is_none_or(|wanted| port == Some(wanted))
    }
}

/// `host[:port]` → its parts; an IPv6 address must be bracketed.
fn split_port(text: &str) -> Result<(&str, Option<u16>), &'static str> {
    let (host, port) = if text.starts_with('[') {
        match text.find(']') {
            Some(end) => {
                let (host, rest) = text.split_at(end + 1);
                match rest.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if rest.is_empty() => (host, None),
                    None => return Err("has text after the address"),
                }
            }
            None => return Err("has an unclosed `[`"),
        }
    } else {
        match text.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("looks like an IPv6 address: write it in brackets, [::1]");
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err("has a port that is not a number from 1 to 65535"),
        },
        None => None,
    };
    Ok((host, port))
}

/// The hosts a manifest may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowedHosts {
    patterns: Vec<HostPattern>,
}

impl AllowedHosts {
    /// Parse every entry: the valid ones, and the errors of the others with their index.
    pub(crate) fn parse(entries: &[String]) -> (AllowedHosts, Vec<(usize, String)>) {
        let mut patterns = Vec::new();
        let mut errors = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            match HostPattern::parse(entry) {
                Ok(pattern) => patterns.push(pattern),
                Err(message) => errors.push((index, message)),
            }
        }
        (AllowedHosts { patterns }, errors)
    }

    /// Whether `url` may be called: `http(s)` to an allowed host and port.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        matches!(url.scheme(), "http" | "https")
            && self
                .patterns
                .iter()
                .any(|p| p.matches(host, url.port_or_known_default()))
    }
}

/// Why a redirect is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirectRefusal {
    NotHttp,
    Downgrade,
    HostNotAllowed,
    TooManyHops,
}

/// Whether to follow a redirect to `next`, `previous` being the URLs called so far (the
/// original one first).
pub(crate) fn judge_redirect(
    hosts: &AllowedHosts,
    previous: &[Url],
    next: &Url,
) -> Result<(), RedirectRefusal> {
    if previous.len() > MAX_REDIRECTS {
        return Err(RedirectRefusal::TooManyHops);
    }
    if !matches!(next.scheme(), "http" | "https") {
        return Err(RedirectRefusal::NotHttp);
    }
    if next.scheme() == "http" && previous.iter().any(|url| url.scheme() == "https") {
        return Err(RedirectRefusal::Downgrade);
    }
    if !hosts.allows(next) {
        return Err(RedirectRefusal::HostNotAllowed);
    }
    Ok(())
}

/// The redirect policy of a connector's client: [`judge_redirect`] on every hop; a refused hop
/// stops the chain and hands its 3xx answer back.
pub(crate) fn redirect_policy(hosts: Arc<AllowedHosts>) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        match judge_redirect(&hosts, attempt.previous(), attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(_) => attempt.stop(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        let (allowed, errors) = AllowedHosts::parse(&entries);
        assert_eq!(errors, []);
        allowed
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn exact_hosts_match_on_any_port_and_ignore_case() {
        let allowed = hosts(&["API.acme.example"]);
        assert!(allowed.allows(&url("https://api.acme.example/v1")));
        assert!(allowed.allows(&url("http://Api.Acme.Example:8080/")));
        assert!(!allowed.allows(&url("https://eu.api.acme.example/")));
        assert!(!allowed.allows(&url("https://api.acme.example.evil.example/")));
        assert!(!allowed.allows(&url("https://acme.example/")));
        assert!(!allowed.allows(&url("ftp://api.acme.example/")));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let allowed = hosts(&["*.acme.example"]);
        assert!(allowed.allows(&url("https://api.acme.example/")));
        assert!(allowed.allows(&url("https://eu.api.acme.example/")));
        assert!(!allowed.allows(&url("https://acme.example/")));
        assert!(!allowed.allows(&url("https://evilacme.example/")));
        assert!(!allowed.allows(&url("https://acme.example.evil.example/")));
    }

    #[test]
    fn a_port_in_an_entry_must_match_the_urls_port_or_default() {
        let allowed = hosts(&["127.0.0.1:4010", "api.acme.example:443", "[::1]:4011"]);
        assert!(allowed.allows(&url("http://127.0.0.1:4010/x")));
        assert!(!allowed.allows(&url("http://127.0.0.1:4011/x")));
        assert!(!allowed.allows(&url("http://localhost:4010/x")));
        assert!(allowed.allows(&url("https://api.acme.example/")));
        assert!(!allowed.allows(&url("http://api.acme.example/")));
        assert!(allowed.allows(&url("http://[::1]:4011/")));
    }

    #[test]
    fn bad_entries_are_refused_with_their_index() {
        let entries: Vec<String> = [
            "api.acme.example",
            "https://api.acme.example",
            "*",
            "*.com",
            "*.127.0.0.1",
            "api.acme.example:http",
            "::1",
            "api.acme.example/v1",
            "",
            "user@api.acme.example",
        ]
        .iter()
        .map(|e| (*e).to_owned())
        .collect();
        let (allowed, errors) = AllowedHosts::parse(&entries);
        assert!(allowed.allows(&url("https://api.acme.example/")));
        let indexes: Vec<usize> = errors.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(errors.iter().all(|(_, m)| m.contains("e.g.")), "{errors:?}");
    }

    #[test]
    fn redirects_are_judged_hop_by_hop() {
        let allowed = hosts(&["api.acme.example", "127.0.0.1:4010"]);
        let start = [url("https://api.acme.example/v1/people")];
        assert_eq!(
            judge_redirect(&allowed, &start, &url("https://api.acme.example/v2/people")),
            Ok(())
        );
        assert_eq!(
            judge_redirect(&allowed, &start, &url("https://evil.example/")),
            Err(RedirectRefusal::HostNotAllowed)
        );
        assert_eq!(
            judge_redirect(&allowed, &start, &url("http://api.acme.example/v2/people")),
            Err(RedirectRefusal::Downgrade)
        );
        assert_eq!(
            judge_redirect(&allowed, &start, &url("file:///etc/passwd")),
            Err(RedirectRefusal::NotHttp)
        );
        let plain = [url("http://127.0.0.1:4010/a")];
        assert_eq!(
            judge_redirect(&allowed, &plain, &url("http://127.0.0.1:4010/b")),
            Ok(())
        );
        assert_eq!(
            judge_redirect(&allowed, &plain, &url("http://127.0.0.1:6379/")),
            Err(RedirectRefusal::HostNotAllowed)
        );
    }

    #[test]
    fn at_most_five_hops_are_followed() {
        let allowed = hosts(&["api.acme.example"]);
        let next = url("https://api.acme.example/next");
        let chain = |n: usize| vec![url("https://api.acme.example/"); n];
        assert_eq!(judge_redirect(&allowed, &chain(5), &next), Ok(()));
        assert_eq!(
            judge_redirect(&allowed, &chain(6), &next),
            Err(RedirectRefusal::TooManyHops)
        );
    }
}
