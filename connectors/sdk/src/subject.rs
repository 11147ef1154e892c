//! The person being enriched, as a connector sees it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ConnectorError, Identifier};

/// A user and the identifiers the caller knows for them.
///
/// enrichd validates every field before a connector sees it: `user_id` is 1–128 characters of
/// `A-Za-z0-9._:@-`, `email` is a syntactically valid address, `phone` is E.164 (`+` and
/// digits), and handle platforms are lower-case names. Treat `email` and `phone` as personal
/// data: never log them, never put them in an error message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Social handles by platform, e.g. `github → octocat`, `mastodon → Gargron@mastodon.social`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub handles: BTreeMap<String, String>,
}

impl Subject {
    /// A subject with only a user id.
    pub fn new(user_id: impl Into<String>) -> Subject {
        Subject {
            user_id: user_id.into(),
            ..Subject::default()
        }
    }

    /// Builder-style: set the email.
    pub fn with_email(mut self, email: impl Into<String>) -> Subject {
        self.email = Some(email.into());
        self
    }

    /// Builder-style: set the phone number.
    pub fn with_phone(mut self, phone: impl Into<String>) -> Subject {
        self.phone = Some(phone.into());
        self
    }

    /// Builder-style: add a handle.
    pub fn with_handle(
        mut self,
        platform: impl Into<String>,
        handle: impl Into<String>,
    ) -> Subject {
        self.handles.insert(platform.into(), handle.into());
        self
    }

    /// The value of one identifier, if the subject carries it.
    pub fn identifier(&self, id: &Identifier) -> Option<&str> {
        match id {
            Identifier::UserId => Some(&self.user_id),
            Identifier::Email => self.email.as_deref(),
            Identifier::Phone => self.phone.as_deref(),
            Identifier::Handle(platform) => self.handles.get(platform).map(String::as_str),
        }
    }

    /// The value of `id`, or a `not_found` error saying that the subject lacks it ("the subject
    /// has no email, which a HubSpot lookup needs"), for a connector called `upstream`.
    ///
    /// enrichd calls a connector only when the subject carries its required identifiers; this
    /// keeps `enrich` total anyway.
    pub fn require(&self, id: &Identifier, upstream: &str) -> Result<&str, ConnectorError> {
        self.identifier(id).ok_or_else(|| ConnectorError {
            message: format!("the subject has no {id}, which a {upstream} lookup needs"),
            ..ConnectorError::not_found()
        })
    }

    /// Whether the subject carries every identifier of `required`.
    pub fn has_all(&self, required: &[Identifier]) -> bool {
        required.iter().all(|id| self.identifier(id).is_some())
    }

    /// Whether the subject carries any identifier besides its user id.
    pub fn has_identifiers(&self) -> bool {
        self.email.is_some() || self.phone.is_some() || !self.handles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_looked_up_by_kind() {
        let subject = Subject::new("u-1")
            .with_email("ada@example.com")
            .with_handle("github", "ada");
        assert_eq!(
            subject.identifier(&Identifier::Email),
            Some("ada@example.com")
        );
        assert_eq!(
            subject.identifier(&Identifier::Handle("github".into())),
            Some("ada")
        );
        assert_eq!(subject.identifier(&Identifier::Phone), None);
        assert!(subject.has_all(&[Identifier::Email, Identifier::UserId]));
        assert!(!subject.has_all(&[Identifier::Email, Identifier::Phone]));
    }

    #[test]
    fn a_missing_required_identifier_is_not_found_naming_it() {
        let subject = Subject::new("u-1").with_email("ada@example.com");
        assert_eq!(
            subject.require(&Identifier::Email, "HubSpot"),
            Ok("ada@example.com")
        );
        let err = subject.require(&Identifier::Phone, "HubSpot").unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::NotFound);
        assert_eq!(
            err.message,
            "the subject has no phone, which a HubSpot lookup needs"
        );
    }
}
