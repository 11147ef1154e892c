//! Parsing of user ids, emails, phone numbers and social handles.

use std::fmt;

use email_address::{EmailAddress, Options};

/// A user id: 1–128 characters of `A-Za-z0-9._:@-`. It appears verbatim in cache keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(text: &str) -> Result<UserId, String> {
        if text.is_empty() || text.len() > 128 {
            return Err(format!(
                "must be 1-128 characters long, got {}",
                text.chars().count()
            ));
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-');
        if !text.chars().all(allowed) {
            return Err("may only contain A-Z, a-z, 0-9 and . _ : @ -".into());
        }
        Ok(UserId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address as a mailbox (`ada@example.com`): no display name, no domain literal, a
/// dotted domain, at most 254 characters, no surrounding spaces.
pub fn parse_email(text: &str) -> Result<String, String> {
    let options = Options {
        minimum_sub_domains: 2,
        allow_domain_literal: false,
        allow_display_text: false,
    };
    if text.len() > 254 || text.trim() != text {
        return Err("is not a valid email address".into());
    }
    EmailAddress::parse_with_options(text, options)
        .map(|_| text.to_owned())
        .map_err(|_| "is not a valid email address, e.g. ada@example.com".into())
}

/// A phone number in E.164 form: `+`, then 7–15 digits, the first not 0.
pub fn parse_phone(text: &str) -> Result<String, String> {
    let digits = text.strip_prefix('+').unwrap_or("");
    let valid = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(text.to_owned())
    } else {
        Err("must be in E.164 form, e.g. +442071838750".into())
    }
}

/// A social handle: platform `[a-z0-9_]{1,32}`, value 1–256 printable characters without
/// spaces. Platform-specific syntax (a GitHub login, `user@instance`) is the connector's
/// business.
pub fn parse_handle(platform: &str, handle: &str) -> Result<(String, String), String> {
    let platform_ok = (1..=32).contains(&platform.len())
        && platform
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !platform_ok {
        return Err("platform names are 1-32 characters of a-z, 0-9 and _".into());
    }
    let handle_ok = !handle.is_empty()
        && handle.chars().count() <= 256
        && !handle.chars().any(|c| c.is_whitespace() || c.is_control());
    if !handle_ok {
        return Err("must be 1-256 characters without spaces".into());
    }
    Ok((platform.to_owned(), handle.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_follow_the_contract() {
        for ok in ["u-42", "a", "team:u.1_x@y-z", &"x".repeat(128)] {
            assert!(UserId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "with space",
            "slash/no",
            "brace{",
            "é",
            &"x".repeat(129),
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_must_be_plain_mailboxes() {
        for ok in ["ada@example.com", "a.b+tag@sub.example.org"] {
            assert!(parse_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            " ada@example.com",
            "Ada <ada@example.com>",
            "ada@[127.0.0.1]",
            "a@b@example.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_must_be_e164() {
        assert!(parse_phone("+442071838750").is_ok());
        for bad in [
            "442071838750",
            "+0123456789",
            "+44 20 7183 8750",
            "+12",
            "+1234567890123456",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn handles_need_a_sane_platform_and_value() {
        assert!(parse_handle("github", "octocat").is_ok());
        assert!(parse_handle("mastodon", "Gargron@mastodon.social").is_ok());
        assert!(parse_handle("GitHub", "octocat").is_err());
        assert!(parse_handle("github", "").is_err());
        assert!(parse_handle("github", "two words").is_err());
    }
}
