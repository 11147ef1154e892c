//! What an X username can be, checked before any call so that a malformed handle costs no
//! request of the app's quota.

/// The username in `handle`, without the `@` people often write before it, when it matches
/// X's own pattern `^[A-Za-z0-9_]{1,15}$` (the one the API enforces with a 400). Anything this
/// returns is also a safe path segment.
pub(crate) fn parse(handle: &str) -> Option<&str> {
    let username = handle.strip_prefix('@').unwrap_or(handle);
    let valid = (1..=15).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some(username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_pass_with_or_without_an_at_sign() {
        let longest = "a".repeat(15);
        for (handle, username) in [
            ("XDevelopers", "XDevelopers"),
            ("@XDevelopers", "XDevelopers"),
            ("jack", "jack"),
            ("_", "_"),
            ("a_1", "a_1"),
            (longest.as_str(), longest.as_str()),
        ] {
            assert_eq!(parse(handle), Some(username), "{handle}");
        }
    }

    #[test]
    fn what_cannot_be_a_username_is_refused() {
        let long = "a".repeat(16);
        for handle in [
            "",
            "@",
            "@@jack",
            long.as_str(),
            "x-dev",
            "x.dev",
            "x dev",
            "zoë",
            "../2/tweets",
            "jack/likes",
            "ada@example.com",
        ] {
            assert_eq!(parse(handle), None, "{handle}");
        }
    }
}
