//! Validated request values: handlers receive these, never raw strings.

mod credits;
mod enrich_request;
pub mod fields;
mod identifiers;
mod overrides;
mod tenant;

pub use credits::{MAX_CREDITS, credits, micros, valid_credits};
pub use enrich_request::{EnrichRequest, EnrichRequestBody, Priority, add_identifiers};
pub use identifiers::{UserId, parse_email, parse_handle, parse_phone};
pub use overrides::{MAX_OVERRIDES, Overrides};
pub use tenant::{Tenant, UserKey};

use enrichd_sdk::Subject;

/// The most handles a subject may carry, in a request and as remembered for a user (enrichd
/// knows a handful of platforms; this leaves room for declarative connectors).
pub const MAX_HANDLES: usize = 32;

/// `subject` when every identifier in it is one a request could have carried (it was read
/// back from the cache, which may hold anything): else `None`.
pub fn checked_subject(subject: Subject) -> Option<Subject> {
    UserId::parse(&subject.user_id).ok()?;
    if let Some(email) = &subject.email {
        parse_email(email).ok()?;
    }
    if let Some(phone) = &subject.phone {
        parse_phone(phone).ok()?;
    }
    if subject.handles.len() > MAX_HANDLES {
        return None;
    }
    for (platform, handle) in &subject.handles {
        parse_handle(platform, handle).ok()?;
    }
    Some(subject)
}

/// A request field that failed validation, named as the caller wrote it (`handles.github`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subjects_a_request_could_carry_pass() {
        let good = Subject::new("u-1")
            .with_email("ada@example.com")
            .with_phone("+442071838750")
            .with_handle("github", "ada");
        assert_eq!(checked_subject(good.clone()), Some(good));
        for bad in [
            Subject::new("a b"),
            Subject::new("u-1").with_email("nope"),
            Subject::new("u-1").with_phone("12"),
            Subject::new("u-1").with_handle("Bad Platform", "x"),
        ] {
            assert_eq!(checked_subject(bad.clone()), None, "{bad:?}");
        }
        let mut full = Subject::new("u-1");
        for i in 0..MAX_HANDLES {
            full = full.with_handle(format!("p{i}"), "x");
        }
        assert!(
            checked_subject(full.clone()).is_some(),
            "exactly the cap passes"
        );
        let crowded = full.with_handle("one_more", "x");
        assert_eq!(checked_subject(crowded), None);
    }
}
