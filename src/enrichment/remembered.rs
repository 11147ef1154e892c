//! The identifiers remembered for a user (those the cached profile was built from) against those
//! a caller sends now.

use enrichd_sdk::Subject;

use crate::{
    cache::CachedProfile,
    domain::{MAX_HANDLES, UserKey},
};

/// The identifiers remembered for `user` in their cached profile (just the user id when
/// there is none, or when what is stored is not theirs).
pub(super) fn remembered_of(cached: Option<&CachedProfile>, user: &UserKey) -> Subject {
    cached
        .and_then(CachedProfile::subject)
        .filter(|subject| subject.user_id == user.user_id())
        .unwrap_or_else(|| Subject::new(user.user_id()))
}

/// Whether a profile built from `remembered` identifiers answers a caller sending `subject`'s:
/// every identifier sent must be one remembered (a caller sending none accepts any profile).
pub(super) fn covers(remembered: Option<&Subject>, subject: &Subject) -> bool {
    if !subject.has_identifiers() {
        return true;
    }
    let Some(remembered) = remembered else {
        return false;
    };
    let same = |sent: &Option<String>, kept: &Option<String>| sent.is_none() || sent == kept;
    same(&subject.email, &remembered.email)
        && same(&subject.phone, &remembered.phone)
        && subject
            .handles
            .iter()
            .all(|(platform, handle)| remembered.handles.get(platform) == Some(handle))
}

/// The identifiers remembered for a user, updated with those the caller sent now; at most
/// [`MAX_HANDLES`] handles are remembered, those sent now first.
pub(super) fn remembered_with(remembered: Option<Subject>, sent: Subject) -> Subject {
    let Some(remembered) = remembered else {
        return sent;
    };
    let mut subject = sent;
    subject.email = subject.email.or(remembered.email);
    subject.phone = subject.phone.or(remembered.phone);
    for (platform, handle) in remembered.handles {
        if subject.handles.len() >= MAX_HANDLES {
            break;
        }
        subject.handles.entry(platform).or_insert(handle);
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_answers_callers_sending_the_same_or_no_identifiers() {
        let built_from = Subject::new("u-1")
            .with_email("ada@example.com")
            .with_handle("github", "ada");
        let remembered = Some(&built_from);
        assert!(covers(remembered, &Subject::new("u-1")));
        assert!(covers(
            remembered,
            &Subject::new("u-1").with_email("ada@example.com")
        ));
        assert!(!covers(
            remembered,
            &Subject::new("u-1").with_email("new@example.com")
        ));
        assert!(!covers(
            remembered,
            &Subject::new("u-1").with_handle("x", "ada")
        ));
        assert!(!covers(
            None,
            &Subject::new("u-1").with_email("ada@example.com")
        ));
    }

    #[test]
    fn remembered_identifiers_are_updated_by_the_new_ones() {
        let remembered = Subject::new("u-1")
            .with_email("old@example.com")
            .with_handle("github", "ada");
        let sent = Subject::new("u-1")
            .with_email("new@example.com")
            .with_handle("x", "ada_x");
        let subject = remembered_with(Some(remembered), sent);
        assert_eq!(subject.email.as_deref(), Some("new@example.com"));
        assert_eq!(subject.handles.len(), 2);
    }

    #[test]
    fn remembered_handles_are_capped_keeping_those_sent_now() {
        let mut remembered = Subject::new("u-1").with_phone("+442071838750");
        for i in 0..MAX_HANDLES {
            remembered = remembered.with_handle(format!("old{i}"), "h");
        }
        let sent = Subject::new("u-1").with_handle("github", "ada");
        let subject = remembered_with(Some(remembered), sent);
        assert_eq!(subject.handles.len(), MAX_HANDLES);
        assert_eq!(subject.handles["github"], "ada");
        assert_eq!(subject.phone.as_deref(), Some("+442071838750"));
    }
}
