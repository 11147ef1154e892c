//! What a Mastodon handle (`user@instance`) can be: the user as Mastodon allows it, and an
//! instance the connector may call. Which instances those are is the settings' decision
//! ([`crate::settings::ValidSettings::callable_instance`]), on top of the SDK's
//! [`enrichd_sdk::hosts`] rules: a caller-supplied handle must not steer requests to internal
//! hosts.

/// A handle that may be looked up: the username as written and the instance normalised (lower
/// case, punycode) as the request's URL will hold it.
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

/// Why a handle is not looked up. Only two answers, whatever the reason within each: a caller
/// learns nothing about how its instance was read or where it points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not `user@...` with a user of 1–30 ASCII letters, digits or underscores.
    Malformed,
    /// The instance is not one the connector may call.
    InstanceRefused,
}

/// Split `user@instance` (a leading `@` allowed) at the first `@` when the user is 1–30 ASCII
/// letters, digits or underscores, as Mastodon allows, and `callable` returns the instance's
/// normalised host: the instance itself is never trusted as written.
pub(crate) fn parse(
    handle: &str,
    callable: impl FnOnce(&str) -> Option<String>,
) -> Result<Handle<'_>, Refusal> {
    let handle = handle.strip_prefix('@').unwrap_or(handle);
    let (user, instance) = handle.split_once('@').ok_or(Refusal::Malformed)?;
    let user_ok = (1..=30).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !user_ok {
        return Err(Refusal::Malformed);
    }
    let instance = callable(instance).ok_or(Refusal::InstanceRefused)?;
    Ok(Handle { user, instance })
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::hosts::caller_host;

    use super::*;

    fn public(handle: &str) -> Result<Handle<'_>, Refusal> {
        parse(handle, |instance| caller_host(instance).ok())
    }

    #[test]
    fn handles_split_with_or_without_a_leading_at_sign() {
        for text in ["Gargron@mastodon.social", "@Gargron@Mastodon.Social"] {
            let handle = public(text).unwrap();
            assert_eq!(handle.user, "Gargron");
            assert_eq!(handle.instance, "mastodon.social");
            assert_eq!(handle.acct(), "Gargron@mastodon.social");
        }
        let longest = format!("{}@xn--mstdn-gra.example", "a".repeat(30));
        assert!(public(&longest).is_ok());
    }

    #[test]
    fn the_instance_is_normalised_as_the_url_will_hold_it() {
        let handle = public("Gargron@MASTÖDON.social").unwrap();
        assert_eq!(handle.instance, "xn--mastdon-d1a.social");
    }

    #[test]
    fn malformed_users_are_refused_before_the_instance_is_looked_at() {
        let long_user = format!("{}@mastodon.social", "a".repeat(31));
        for text in [
            "",
            "Gargron",
            "@Gargron",
            "@mastodon.social",
            "Gar-gron@mastodon.social",
            "Gar.gron@mastodon.social",
            long_user.as_str(),
        ] {
            let parsed = parse(text, |_| panic!("{text}: the instance was looked at"));
            assert_eq!(parsed, Err(Refusal::Malformed), "{text}");
        }
    }

    #[test]
    fn instances_that_are_no_public_host_are_refused_alike() {
        for text in [
            "Gargron@",
            "Gargron@mastodon.social@evil.example",
            "Gargron@mastodon.social:8443",
            "Gargron@mastodon.social/path",
            "Gargron@mastodon.social.",
            "Gargron@[::1]",
            "Gargron@-mastodon.social",
            "Gargron@user:pass@host.example",
            "u@localhost",
            "u@127.0.0.1",
            "u@127.0.0.0x1",
            "u@0x7f.0.0.0x1",
            "u@169.254.169.0xfe",
            "u@127.1.0x0",
            "u@a.0x1",
            "u@2130706433",
            "u@printer.local",
        ] {
            assert_eq!(public(text), Err(Refusal::InstanceRefused), "{text}");
        }
    }
}
