//! What a Mastodon handle (`user@instance`) can be, and which instances the connector may call:
//! the checks that keep a caller-supplied handle from steering requests to internal hosts.

/// Top-level names that are never a public Mastodon instance: special-use names (RFC 6761,
/// RFC 6762, `.internal`, `.arpa`, `.onion`) and the private ones networks commonly use.
const PRIVATE_TOP_LEVEL_NAMES: &[&str] = &[
    "localhost",
    "local",
    "internal",
    "arpa",
    "invalid",
    "test",
    "onion",
    "lan",
    "home",
    "corp",
];

/// A handle split into its parts: the username as written and the instance in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Handle<'a> {
    pub(crate) user: &'a str,
    pub(crate) instance: String,
}

impl Handle<'_> {
    /// `user@instance`, the form Mastodon's `acct` takes for an account of any server.
    pub(crate) fn acct(&self) -> String {
        format!("{}@{}", self.user, self.instance)
    }
}

/// Split `user@instance` (a leading `@` allowed) when the user is 1–30 ASCII letters, digits or
/// underscores, as Mastodon allows, and the instance a DNS host name ([`is_host_name`]).
pub(crate) fn parse(handle: &str) -> Option<Handle<'_>> {
    let handle = handle.strip_prefix('@').unwrap_or(handle);
    let (user, instance) = handle.split_once('@')?;
    let user_ok = (1..=30).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (user_ok && is_host_name(instance)).then(|| Handle {
        user,
        instance: instance.to_ascii_lowercase(),
    })
}

/// Whether `name` is a DNS host name: at most 253 characters of dot-separated labels, each 1–63
/// ASCII letters, digits or hyphens, not starting or ending with a hyphen. No port, no brackets,
/// no trailing dot, no user info; internationalised names must be written in punycode
/// (`xn--...`).
pub(crate) fn is_host_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether a host name may be a public instance: it has a dot, its last label is not all
/// digits (that is an IPv4 address), and it is not under a special-use or private top-level
/// name such as `localhost` or `.internal`.
pub(crate) fn is_public_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let Some((_, top)) = name.rsplit_once('.') else {
        return false;
    };
    is_host_name(&name)
        && !top.bytes().all(|b| b.is_ascii_digit())
        && !PRIVATE_TOP_LEVEL_NAMES.contains(&top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_split_with_or_without_a_leading_at_sign() {
        for text in ["Gargron@mastodon.social", "@Gargron@Mastodon.Social"] {
            let handle = parse(text).unwrap();
            assert_eq!(handle.user, "Gargron");
            assert_eq!(handle.instance, "mastodon.social");
            assert_eq!(handle.acct(), "Gargron@mastodon.social");
        }
        let longest = format!("{}@xn--mstdn-gra.example", "a".repeat(30));
        assert!(parse(&longest).is_some());
    }

    #[test]
    fn malformed_handles_are_refused() {
        let long_user = format!("{}@mastodon.social", "a".repeat(31));
        for text in [
            "",
            "Gargron",
            "@Gargron",
            "Gargron@",
            "@mastodon.social",
            "Gar-gron@mastodon.social",
            "Gargron@mastodon.social@evil.example",
            "Gargron@mastodon.social:8443",
            "Gargron@mastodon.social/path",
            "Gargron@mastodon.social.",
            "Gargron@[::1]",
            "Gargron@-mastodon.social",
            "Gargron@mastödon.social",
            "Gargron@user:pass@host.example",
            long_user.as_str(),
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn only_public_looking_names_are_public() {
        for name in [
            "mastodon.social",
            "fosstodon.org",
            "a.b.c.example",
            "xn--8ca.example",
        ] {
            assert!(is_public_name(name), "{name}");
        }
        for name in [
            "localhost",
            "api.localhost",
            "printer.local",
            "mastodon.internal",
            "1.0.0.127.in-addr.arpa",
            "127.0.0.1",
            "10.0.0.1",
            "intranet",
            "nas.lan",
            "mastodon.corp",
            "example.test",
            "abc.onion",
            "Mastodon.LOCAL",
        ] {
            assert!(!is_public_name(name), "{name}");
        }
    }
}
