//! Which handles can be GitHub logins, checked before spending a rate-limited call on them.

/// Whether `handle` can be a GitHub login: 1–39 ASCII letters, digits and hyphens.
///
/// GitHub's sign-up rule is stricter (no leading, trailing or consecutive hyphen), but
/// accounts created under older rules still exist (`foo-`, `-Jerry-`, `0----0`), and refusing
/// them would report real people as unknown. Anything this accepts is also a safe path
/// segment.
pub(crate) fn is_plausible_login(handle: &str) -> bool {
    (1..=39).contains(&handle.len())
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_grandfathered_logins_pass() {
        let max = "a".repeat(39);
        for login in [
            "octocat",
            "a",
            "Mona-Lisa",
            "foo-",
            "-Jerry-",
            "0----0",
            max.as_str(),
        ] {
            assert!(is_plausible_login(login), "{login}");
        }
    }

    #[test]
    fn what_cannot_be_a_login_is_refused() {
        let long = "a".repeat(40);
        let cases = [
            "",
            long.as_str(),
            "octo cat",
            "octo_cat",
            "octo.cat",
            "ada@example.com",
            "../users",
            "octocat/repos",
            "zoë",
            "@octocat",
        ];
        for handle in cases {
            assert!(!is_plausible_login(handle), "{handle}");
        }
    }
}
