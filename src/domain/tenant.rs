//! Tenants, and a user as one tenant knows them ([`UserKey`]): everything enrichd holds about a
//! user is held under that key, so two tenants naming the same user id never meet.

use std::{fmt, sync::Arc};

use super::UserId;

/// A tenant's name: 1–32 characters of `a-z0-9_-`. Keys without one belong to `default`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

impl Tenant {
    /// The tenant of plain-string keys, of admin tokens without `x-enrichd-tenant`, and of
    /// every deployment that never configured one.
    pub const DEFAULT_NAME: &'static str = "default";

    pub fn default_tenant() -> Tenant {
        Tenant(Arc::from(Tenant::DEFAULT_NAME))
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

/// A user of one tenant, as enrichd keys what it holds about them: `{u-42}` for the default
/// tenant (the Redis layout of deployments from before tenants), `t:marketing:{u-42}`
/// otherwise. The user id sits in a Redis hash tag, so all of a user's keys share a slot.
///
/// The same text keys the in-process tier, coalescing, erasure fences and events, so that
/// nothing about one tenant's user is ever shared with another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey(String);

impl UserKey {
    /// `user_id` (already validated) of `tenant`.
    pub fn new(tenant: &Tenant, user_id: &str) -> UserKey {
        if tenant.is_default() {
            UserKey(format!("{{{user_id}}}"))
        } else {
            UserKey(format!("t:{tenant}:{{{user_id}}}"))
        }
    }

    /// The user of the default tenant (deployments without tenants, tests).
    pub fn of_default(user_id: &str) -> UserKey {
        UserKey::new(&Tenant::default_tenant(), user_id)
    }

    /// A key read back from another replica's event: its tenant and user id, checked.
    pub fn parse(text: &str) -> Option<UserKey> {
        let (tenant, rest) = match text.strip_prefix("t:") {
            Some(rest) => {
                let (tenant, rest) = rest.split_once(':')?;
                let tenant = Tenant::parse(tenant).ok()?;
                (tenant, rest)
            }
            None => (Tenant::default_tenant(), text),
        };
        let user_id = rest.strip_prefix('{')?.strip_suffix('}')?;
        UserId::parse(user_id).ok()?;
        let key = UserKey::new(&tenant, user_id);
        (key.0 == text).then_some(key)
    }

    /// The key as text: what Redis keys put after the prefix, and what in-process maps use.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant the key is for.
    pub fn tenant(&self) -> Tenant {
        self.tenant_name()
            .map_or_else(Tenant::default_tenant, |name| Tenant(Arc::from(name)))
    }

    /// The tenant the key is for, unless it is the default one.
    pub fn tenant_name(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("t:")?;
        rest.split_once(':').map(|(tenant, _)| tenant)
    }

    /// The user id the key is for.
    pub fn user_id(&self) -> &str {
        let start = self.0.find('{').map_or(0, |i| i + 1);
        &self.0[start..self.0.len() - 1]
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
    fn the_default_tenant_keeps_the_layout_of_before_tenants() {
        let default = UserKey::of_default("u-42");
        assert_eq!(default.as_str(), "{u-42}");
        assert_eq!(default.user_id(), "u-42");
        let marketing = UserKey::new(&Tenant::parse("marketing").unwrap(), "u-42");
        assert_eq!(marketing.as_str(), "t:marketing:{u-42}");
        assert_eq!(marketing.user_id(), "u-42");
        assert_eq!(marketing.tenant_name(), Some("marketing"));
        assert_eq!(default.tenant_name(), None);
        assert!(default.tenant().is_default());
        assert_eq!(marketing.tenant().as_str(), "marketing");
        assert_ne!(default, marketing);
    }

    #[test]
    fn keys_read_back_are_checked() {
        for good in ["{u-42}", "t:marketing:{u:42@x}"] {
            assert_eq!(UserKey::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "u-42",
            "{u 42}",
            "{}",
            "t:Marketing:{u}",
            "t:default:{u}",
            "t:m:{u}x",
            "t:m{u}",
            "{u}}",
            "",
        ] {
            assert_eq!(UserKey::parse(bad), None, "{bad}");
        }
    }
}
