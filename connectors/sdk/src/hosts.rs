//! Calls to hosts the subject names: the one place that decides whether such a host may be
//! called, how to call it, and what its failures become.
//!
//! Most connectors call one upstream the operator configured. Some call a host that comes from
//! the request: Mastodon looks `user@instance` up on `instance`. Such a host is chosen by the
//! caller, so it must not become a way to reach the internal network (server-side request
//! forgery), a way to probe it (an error that differs by outcome is a port scanner), or a way
//! to harm the connector for everyone (failures that open its circuit breaker). Use, in order:
//!
//! 1. [`caller_host`] on the text the subject gave: the host as the URL parser will read it,
//!    refused unless it is a public-looking DNS name (rules below). Refuse the subject with one
//!    message whatever the reason: [`HostRefused`] never says why.
//! 2. [`caller_host_client`] for the call: no redirects, a short connect timeout, and
//!    [`PublicOnlyResolver`], so that a public-looking name resolving to an internal address
//!    (`127.0.0.1.nip.io`, DNS rebinding) is refused at connect time. ([`listed_host_client`]
//!    is the same without the resolver, for hosts the operator listed by name.)
//! 3. [`send`] instead of [`http::send`]: every failure becomes
//!    [`unreachable_host`] (one message, no cause), and every error it returns is
//!    [subject-caused](ConnectorError::subject_caused). Mark the errors you derive from the
//!    answer (statuses, bodies) with [`ConnectorError::caused_by_subject`] too.
//!
//! # The host rules
//!
//! The text is parsed exactly as the request will parse it, `https://{text}/` through
//! [`Url::parse`], because checking the text and calling the parsed URL is how checks are
//! bypassed: the URL standard (WHATWG) reads a host whose last label "ends in a number" (all
//! digits, or `0x` followed by hex digits) as an IPv4 address, in dotted, hex, octal or short
//! form, so `127.0.0.0x1`, `0x7f.0.0.1`, `0177.0.0.1`, `2130706433` and `127.1` all mean
//! `127.0.0.1`, and `a.0x1` is no URL at all. Then:
//!
//! - the text must be a bare host: no user info, port, path, query, fragment, white space,
//!   control character or percent-escape, at most [`MAX_TEXT_LEN`] bytes;
//! - the host must be a domain name: IP addresses are refused in every form (the ones above,
//!   `[::1]`, `[::ffff:127.0.0.1]`), as the resolver would not see them;
//! - the name must be a DNS host name of at least two labels (no `intranet`), each 1–63
//!   letters, digits or hyphens (no leading or trailing hyphen, no empty label, so no trailing
//!   dot), at most 253 bytes in all;
//! - its last label must not end in a number, even if parsing somehow accepted it;
//! - it must not be `localhost` or under a special-use or private top-level name
//!   ([`PRIVATE_TOP_LEVEL_NAMES`]: `.local`, `.internal`, `.arpa`, `.lan`, ...).
//!
//! An accepted host comes back normalised as the URL holds it: lower case, internationalised
//! names in punycode (`Mastodon.Social` → `mastodon.social`, `bücher.example` →
//! `xn--bcher-kva.example`).
//!
//! An HTTP proxy configured in the environment resolves names itself: [`PublicOnlyResolver`]
//! then never runs, and the proxy is the egress control.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use reqwest::{
    RequestBuilder, Url,
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

use crate::{
    ConnectorError, EnrichContext,
    http::{self, UpstreamResponse},
};

/// Top-level names that are never a public host: special-use names (RFC 6761, RFC 6762,
/// RFC 9476, `.internal`, `.arpa`, `.onion`) and the private ones networks commonly use.
/// `.example` is allowed: it resolves nowhere, and tests use it.
pub const PRIVATE_TOP_LEVEL_NAMES: &[&str] = &[
    "localhost",
    "localdomain",
    "local",
    "internal",
    "arpa",
    "invalid",
    "test",
    "onion",
    "alt",
    "lan",
    "home",
    "corp",
];

/// The longest text [`caller_host`] reads. A DNS name is at most 253 bytes; this leaves room
/// for internationalised names before punycode, and bounds the work spent on a refusal.
pub const MAX_TEXT_LEN: usize = 1024;

/// How long a connection to a host the subject names may take to open. Short: a host that does
/// not answer is the subject's problem, and must not hold a worker.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest DNS name, in bytes, without a trailing dot.
const MAX_NAME_LEN: usize = 253;
/// The longest DNS label, in bytes.
const MAX_LABEL_LEN: usize = 63;

/// A host named by the subject that may not be called. It never says why: a reason would tell
/// a caller how its text was read, and the same message for every refusal leaves nothing to
/// learn from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRefused;

impl fmt::Display for HostRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host named by the subject is not allowed")
    }
}

impl std::error::Error for HostRefused {}

/// The host in `text`, normalised, when a caller may make the connector call it: a bare,
/// public-looking DNS name, read exactly as the URL parser will read it (see the
/// [module documentation](self) for the rules and why).
///
/// ```
/// use enrichd_sdk::hosts::{HostRefused, caller_host};
///
/// assert_eq!(caller_host("Mastodon.Social").as_deref(), Ok("mastodon.social"));
/// assert_eq!(caller_host("127.0.0.0x1"), Err(HostRefused));
/// assert_eq!(caller_host("printer.local"), Err(HostRefused));
/// ```
pub fn caller_host(text: &str) -> Result<String, HostRefused> {
    let url = parse_bare(text).ok_or(HostRefused)?;
    // `domain()` is `None` for every IP address, however it was written.
    let name = url.domain().ok_or(HostRefused)?;
    if is_host_name(name) && is_public_name(name) {
        Ok(name.to_owned())
    } else {
        Err(HostRefused)
    }
}

/// The host in `text`, normalised as the URL parser reads it, whatever it points at: a DNS
/// name or an IPv4 address (`127.0.0.0x1` → `127.0.0.1`), with the syntax rules of
/// [`caller_host`] (a bare host, LDH labels, no IPv6) but none of its judgement on where it
/// points.
///
/// For hosts the operator lists by name (an allow-list in the settings): normalise both the
/// list and the subject's text with it, and compare. Never for a host only the caller chose.
pub fn bare_host(text: &str) -> Result<String, HostRefused> {
    let url = parse_bare(text).ok_or(HostRefused)?;
    match url.domain() {
        Some(name) if is_host_name(name) => Ok(name.to_owned()),
        Some(_) => Err(HostRefused),
        None => url.host_str().map(str::to_owned).ok_or(HostRefused),
    }
}

/// `https://{text}/` when `text` is a bare host: nothing before it, nothing after it, and no
/// character the parser would drop or decode (white space, controls, `%`).
fn parse_bare(text: &str) -> Option<Url> {
    let plain = !text.is_empty()
        && text.len() <= MAX_TEXT_LEN
        && !text.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(c, '@' | ':' | '/' | '\\' | '?' | '#' | '[' | ']' | '%')
        });
    if !plain {
        return None;
    }
    let url = Url::parse(&format!("https://{text}/")).ok()?;
    let bare = url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then_some(url)
}

/// Whether `name` is a DNS host name: at most 253 bytes of dot-separated labels, each 1–63
/// ASCII letters, digits or hyphens, not starting or ending with a hyphen.
fn is_host_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN
        && name.split('.').all(|label| {
            (1..=MAX_LABEL_LEN).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether a host name may be public: it has a dot, its last label does not end in a number,
/// and it is not under a special-use or private top-level name.
fn is_public_name(name: &str) -> bool {
    let Some((_, top)) = name.rsplit_once('.') else {
        return false;
    };
    let top = top.to_ascii_lowercase();
    !ends_in_a_number(&top) && !PRIVATE_TOP_LEVEL_NAMES.contains(&top.as_str())
}

/// The URL standard's "ends in a number" test on a last label: all digits, or `0x`/`0X`
/// followed by hex digits (none at all counts). Such a host is read as an IPv4 address.
fn ends_in_a_number(label: &str) -> bool {
    let all_digits = !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit());
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    all_digits || hex
}

/// A DNS resolver that only hands out public addresses ([`is_public`]): a public-looking name
/// that resolves to a loopback, private or link-local address is refused at connect time.
///
/// It resolves with the system resolver, then drops every address that is not public; a name
/// left with none fails to connect, with the same error as a name that does not resolve at
/// all, which names nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

/// Why [`PublicOnlyResolver`] found nothing to connect to: the name does not resolve, or only
/// to addresses that may not be called. One error for both, so it tells nothing apart.
#[derive(Debug, Clone, Copy)]
struct NoPublicAddress;

impl fmt::Display for NoPublicAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the host resolves to no address that may be called")
    }
}

impl std::error::Error for NoPublicAddress {}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| NoPublicAddress)?;
            let public: Vec<SocketAddr> = found.filter(|addr| is_public(addr.ip())).collect();
            if public.is_empty() {
                return Err(NoPublicAddress.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is a globally routable unicast address (an IPv4-mapped IPv6 address is judged
/// as its IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99)) // 6to4 relay anycast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || first == 0 // ::/16: IPv4-compatible and translated forms, reserved
        || (first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]) // discard-only
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && second < 0x0200) // IETF protocol assignments, Teredo
        || (first == 0x2001 && second == 0x0db8) // documentation
        || first == 0x2002 // 6to4, which embeds any IPv4 address
        || (first & 0xfff0) == 0x3ff0 // documentation (3fff::/20)
        || (first == 0x0064 && second == 0xff9b)) // NAT64, may reach private IPv4
}

/// The client for calls to hosts the subject names: no redirects (a 3xx comes back as it is),
/// [`CONNECT_TIMEOUT`], `user_agent`, and [`PublicOnlyResolver`]. Build it once, with the
/// connector.
pub fn caller_host_client(user_agent: &str) -> reqwest::Result<reqwest::Client> {
    direct_client(user_agent)
        .dns_resolver(PublicOnlyResolver)
        .build()
}

/// [`caller_host_client`] without [`PublicOnlyResolver`], for when the subject may only name
/// hosts the operator listed (whose addresses are the operator's choice, internal ones
/// included).
pub fn listed_host_client(user_agent: &str) -> reqwest::Result<reqwest::Client> {
    direct_client(user_agent).build()
}

fn direct_client(user_agent: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(user_agent)
}

/// The error every failure to reach a host the subject named becomes: a name that does not
/// resolve or resolves to no public address, a refused connection, a TLS failure, a transport
/// timeout. `connection`, not retryable, [subject-caused](ConnectorError::subject_caused), and
/// one fixed message with no cause, so that the outcome of a call tells a caller nothing about
/// the network behind it.
pub fn unreachable_host() -> ConnectorError {
    ConnectorError::connection("the host named by the subject could not be reached")
        .caused_by_subject()
}

/// [`http::send`] for a request to a host the subject named: any transport
/// failure is [`unreachable_host`], and every error (a body over the cap, the deadline) is
/// [subject-caused](ConnectorError::subject_caused). Any status is returned as a response: map
/// it as usual, then mark the error with [`ConnectorError::caused_by_subject`].
pub async fn send(
    request: RequestBuilder,
    ctx: &EnrichContext,
) -> Result<UpstreamResponse, ConnectorError> {
    http::send_with(request, ctx, |_| unreachable_host())
        .await
        .map_err(ConnectorError::caused_by_subject)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

    use super::*;
    use crate::ErrorCode;

    #[track_caller]
    fn refused(text: &str) {
        assert_eq!(caller_host(text), Err(HostRefused), "{text:?}");
    }

    #[test]
    fn public_names_are_accepted_and_normalised() {
        let cases = [
            ("mastodon.social", "mastodon.social"),
            ("Mastodon.Social", "mastodon.social"),
            ("MASTODON.SOCIAL", "mastodon.social"),
            ("fosstodon.org", "fosstodon.org"),
            ("a.b.c.example", "a.b.c.example"),
            ("xn--8ca.example", "xn--8ca.example"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("mastödon.social", "xn--mastdon-d1a.social"),
            ("10.0.0.1.nip.io", "10.0.0.1.nip.io"),
            ("127.0.0.1.example", "127.0.0.1.example"),
            ("1e100.net", "1e100.net"),
            ("0x7f.example", "0x7f.example"),
            ("a.0xg", "a.0xg"),
            ("my-host.example", "my-host.example"),
        ];
        for (text, expected) in cases {
            assert_eq!(caller_host(text).as_deref(), Ok(expected), "{text}");
        }
        let longest_label = format!("{}.example", "a".repeat(63));
        assert_eq!(caller_host(&longest_label), Ok(longest_label.clone()));
        let longest_name = format!("{0}.{0}.{0}.{1}.example", "a".repeat(63), "a".repeat(53));
        assert_eq!(longest_name.len(), 253);
        assert_eq!(caller_host(&longest_name), Ok(longest_name.clone()));
    }

    #[test]
    fn ip_addresses_are_refused_in_every_form() {
        for text in [
            // dotted, and the forms the URL parser reads as IPv4
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "8.8.8.8",
            "127.0.0.0x1",
            "0x7f.0.0.0x1",
            "169.254.169.0xfe",
            "127.1.0x0",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0X7F.0.0.1",
            "0x7f000001",
            "2130706433",
            "017700000001",
            "127.1",
            "127.0.1",
            "1.2.3.0x4",
            "0x",
            "1.0x",
            "127.0.0.1.",
            "１２７．０．０．１",
            "①②⑦.0.0.1",
            // not IPv4 but "ending in a number": no URL at all
            "a.0x1",
            "a.1",
            "mastodon.social.1",
            "x.08",
            "x.0xfffffffff",
            "256.256.256.256",
            "1.2.3.4.5",
            // IPv6, bracketed or not
            "[::1]",
            "[::]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[fe80::1]",
            "[2606:4700:4700::1111]",
            "::1",
        ] {
            refused(text);
        }
    }

    #[test]
    fn localhost_and_private_names_are_refused() {
        for text in [
            "localhost",
            "LOCALHOST",
            "api.localhost",
            "localhost.localdomain",
            "printer.local",
            "mastodon.internal",
            "1.0.0.127.in-addr.arpa",
            "router.home.arpa",
            "example.test",
            "x.invalid",
            "abc.onion",
            "x.alt",
            "nas.lan",
            "nas.home",
            "mastodon.corp",
            "Mastodon.LOCAL",
            "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
            "api.ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
        ] {
            refused(text);
        }
    }

    #[test]
    fn single_labels_are_refused() {
        for text in ["intranet", "mastodon", "com", "xn--8ca"] {
            refused(text);
        }
    }

    #[test]
    fn anything_but_a_bare_host_is_refused() {
        for text in [
            "",
            " ",
            ".",
            "user:pass@host.example",
            "user@host.example",
            "@host.example",
            "host.example:443",
            "host.example:8443",
            "host.example:",
            "host.example/",
            "host.example/path",
            "host.example\\path",
            "host.example?q=1",
            "host.example#top",
            "host.example.",
            ".host.example",
            "host..example",
            "-host.example",
            "host-.example",
            "ho st.example",
            "host.example ",
            " host.example",
            "host\t.example",
            "host\n.example",
            "host.exam\u{0}ple",
            "host%2eexample",
            "mastodon%2esocial",
            "https://host.example",
            "under_score.example",
            "star*.example",
        ] {
            refused(text);
        }
    }

    #[test]
    fn very_long_names_are_refused() {
        let label = format!("{}.example", "a".repeat(64));
        refused(&label);
        let name = format!("{0}.{0}.{0}.{1}.example", "a".repeat(63), "a".repeat(54));
        assert_eq!(name.len(), 254);
        refused(&name);
        refused(&"a.".repeat(5000));
        refused(&format!("{}.example", "ü".repeat(MAX_TEXT_LEN)));
    }

    #[test]
    fn the_refusal_says_nothing_about_why() {
        let messages: Vec<String> = ["127.0.0.0x1", "localhost", "a.0x1", "x", "h.example:1"]
            .iter()
            .map(|text| caller_host(text).unwrap_err().to_string())
            .collect();
        assert!(messages.iter().all(|m| m == &messages[0]), "{messages:?}");
        assert_eq!(messages[0], "the host named by the subject is not allowed");
    }

    #[test]
    fn the_ends_in_a_number_rule_is_the_url_standards() {
        for label in ["0", "127", "0x", "0X", "0x7f", "0XfF", "08"] {
            assert!(ends_in_a_number(label), "{label}");
        }
        for label in ["", "social", "1e100", "0xg", "x0", "0o7", "1a"] {
            assert!(!ends_in_a_number(label), "{label}");
        }
    }

    #[test]
    fn bare_hosts_are_normalised_wherever_they_point() {
        let cases = [
            ("Mastodon.Social", "mastodon.social"),
            ("localhost", "localhost"),
            ("mastodon.internal", "mastodon.internal"),
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.0x1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("bücher.example", "xn--bcher-kva.example"),
        ];
        for (text, expected) in cases {
            assert_eq!(bare_host(text).as_deref(), Ok(expected), "{text}");
        }
        for text in [
            "",
            "a.0x1",
            "[::1]",
            "host.example:443",
            "user@host.example",
            "host.example/",
            "host.example.",
            "under_score.example",
        ] {
            assert_eq!(bare_host(text), Err(HostRefused), "{text:?}");
        }
    }

    #[test]
    fn globally_routable_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "2a01:4f8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn internal_and_reserved_addresses_are_not() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.0.1",
            "192.0.2.1",
            "192.88.99.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:0:a00:1",
            "100::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "3fff::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_and_the_error_names_nothing() {
        let name: Name = "localhost".parse().unwrap();
        let err = match PublicOnlyResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        assert_eq!(
            err.to_string(),
            "the host resolves to no address that may be called"
        );
    }

    fn context() -> EnrichContext {
        EnrichContext::new(
            reqwest::Client::new(),
            Instant::now() + Duration::from_secs(5),
        )
    }

    /// A server answering `response` to anything, on loopback.
    async fn answering(response: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(response)
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn the_caller_host_client_does_not_connect_to_a_name_resolving_to_loopback() {
        let server = answering(ResponseTemplate::new(200)).await;
        let client = caller_host_client("enrichd-test").unwrap();
        let url = format!("http://localhost:{}/", server.address().port());

        let err = send(client.get(url), &context()).await.unwrap_err();

        assert_eq!(err, unreachable_host());
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn every_failure_to_reach_a_host_is_the_same_error() {
        let server = answering(ResponseTemplate::new(200)).await;
        let refused_name = format!("http://localhost:{}/", server.address().port());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let nothing_listens = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let slow = answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).await;
        let public_only = caller_host_client("enrichd-test").unwrap();
        let listed = listed_host_client("enrichd-test").unwrap();
        let refused = send(public_only.get(refused_name), &context()).await;
        let not_listening = send(listed.get(nothing_listens), &context()).await;
        // Its deadline starts now, not before the other two calls (which may take a while on
        // a loaded machine): it must pass while the request is under way, not before.
        let short = EnrichContext::new(
            reqwest::Client::new(),
            Instant::now() + Duration::from_millis(200),
        );
        let too_slow = send(listed.get(slow.uri()), &short).await;

        let errors = [refused, not_listening, too_slow].map(Result::unwrap_err);

        for err in &errors {
            assert_eq!(err, &unreachable_host());
        }
        let err = unreachable_host();
        assert_eq!(
            (err.code, err.retryable, err.subject_caused, err.retry_after),
            (ErrorCode::Connection, false, true, None)
        );
        assert_eq!(
            err.message,
            "the host named by the subject could not be reached"
        );
    }

    #[tokio::test]
    async fn any_status_comes_back_and_redirects_are_not_followed() {
        let server =
            answering(ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:1/"))
                .await;
        let client = listed_host_client("enrichd-test").unwrap();

        let response = send(client.get(server.uri()), &context()).await.unwrap();

        assert_eq!(response.status.as_u16(), 302);
        let request = &server.received_requests().await.unwrap()[0];
        assert_eq!(
            request.headers.get("user-agent").unwrap().to_str().unwrap(),
            "enrichd-test"
        );
    }

    #[tokio::test]
    async fn other_failures_keep_their_code_and_blame_the_subject() {
        let server = answering(ResponseTemplate::new(200).set_body_string("x".repeat(100))).await;
        let client = listed_host_client("enrichd-test").unwrap();
        let ctx = context().with_max_response_bytes(10);

        let err = send(client.get(server.uri()), &ctx).await.unwrap_err();

        assert_eq!(err.code, ErrorCode::BadResponse);
        assert!(err.subject_caused);
        assert!(!err.retryable);
    }
}
