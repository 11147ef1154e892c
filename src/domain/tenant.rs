//! Tenants, and a user as one tenant knows them ([`UserKey`]): everything enrichd holds about a
//! user is held under that key, so two tenants naming the same user id never meet.

use std::{
    fmt,
    sync::{Arc, LazyLock},
};

/// A tenant's name: 1–32 characters of `a-z0-9_-`. Keys without one belong to `default`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

impl Tenant {
    /// The tenant of plain-string keys, of admin tokens without `x-enrichd-tenant`, and of
    /// every deployment that never configured one.
    pub const DEFAULT_NAME: &'static str = "default";

    pub fn default_tenant() -> Tenant {
        // Shared: the default tenant is named on every request of a deployment without
        // tenants, and a clone is a reference count, not an allocation.
        static DEFAULT: LazyLock<Tenant> =
            LazyLock::new(|| Tenant(Arc::from(Tenant::DEFAULT_NAME)));
        DEFAULT.clone()
    }

    /// A tenant name, checked.
    pub fn parse(text: &str) -> Result<Tenant, String> {
        let well_formed = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if well_formed {
            Ok(Tenant(Arc::from(text)))
        } else {
            Err("must be 1-32 characters of a-z, 0-9, `_` and `-`".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        &*self.0 == Tenant::DEFAULT_NAME
    }
}

impl Default for Tenant {
    fn default() -> Tenant {
        Tenant::default_tenant()
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user of one tenant: what enrichd keys everything it holds about a user under — the
/// in-process tier, coalescing, erasure fences, events, and (through `keys::Keys`, the one
/// place that knows the Redis layout) the Redis keys — so that nothing about one tenant's user
/// is ever shared with another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey(String);

impl UserKey {
    /// `user_id` (already validated) of `tenant`.
    pub fn new(tenant: &Tenant, user_id: &str) -> UserKey {
        // A tenant name holds no `:`, so the first one separates the two.
        UserKey(format!("{tenant}:{user_id}"))
    }

    /// The user of the default tenant (deployments without tenants, tests).
    pub fn of_default(user_id: &str) -> UserKey {
        UserKey::new(&Tenant::default_tenant(), user_id)
    }

    /// The key as text, unique per tenant and user id (for in-process maps).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn split(&self) -> (&str, &str) {
        self.0.split_once(':').unwrap_or(("", &self.0))
    }

    /// The tenant the key is for.
    pub fn tenant(&self) -> Tenant {
        Tenant(Arc::from(self.split().0))
    }

    /// The tenant the key is for, unless it is the default one.
    pub fn tenant_name(&self) -> Option<&str> {
        let (tenant, _) = self.split();
        (tenant != Tenant::DEFAULT_NAME).then_some(tenant)
    }

    /// The user id the key is for.
    pub fn user_id(&self) -> &str {
        self.split().1
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_short_lowercase_words() {
        for good in ["default", "marketing", "team-2", "a", &"x".repeat(32)] {
            assert!(Tenant::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Marketing", "a b", "a:b", "a{b}", &"x".repeat(33)] {
            assert!(Tenant::parse(bad).is_err(), "{bad}");
        }
        assert!(Tenant::default().is_default());
        assert!(!Tenant::parse("marketing").unwrap().is_default());
    }

    #[test]
    fn a_user_key_is_its_tenant_and_user_id() {
        let default = UserKey::of_default("u:42");
        assert_eq!(default.user_id(), "u:42");
        assert_eq!(default.tenant_name(), None);
        assert!(default.tenant().is_default());
        let marketing = UserKey::new(&Tenant::parse("marketing").unwrap(), "u:42");
        assert_eq!(marketing.user_id(), "u:42");
        assert_eq!(marketing.tenant_name(), Some("marketing"));
        assert_eq!(marketing.tenant().as_str(), "marketing");
        assert_ne!(default, marketing);
        assert_ne!(default.as_str(), marketing.as_str());
    }
}
