//! Redis key layout. Every key of a user starts with the configured prefix and holds the user
//! id verbatim in a hash tag, `enrichd:{u-42}:profile`, so operators can find and erase a
//! user's keys and Redis Cluster keeps them in one slot (multi-key commands stay legal).

/// Builds the keys of one deployment.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// The merged profile of a user (a hash: `body`, `fresh_until`, `subject`).
    pub fn profile(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:profile", self.prefix)
    }

    /// One connector's last answer about a user (JSON).
    pub fn source(&self, user_id: &str, connector: &str) -> String {
        format!("{}{{{user_id}}}:source:{connector}", self.prefix)
    }

    /// The lock of the replica fanning out for a user.
    pub fn lock(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:lock", self.prefix)
    }

    /// Every key that may hold something about a user, given the connectors that may have
    /// answered about them.
    pub fn all_of<'a>(
        &self,
        user_id: &str,
        connectors: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut keys = vec![self.profile(user_id), self.lock(user_id)];
        keys.extend(connectors.into_iter().map(|c| self.source(user_id, c)));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_the_user_id_in_a_hash_tag() {
        let keys = Keys::new("enrichd:");
        assert_eq!(keys.profile("u-42"), "enrichd:{u-42}:profile");
        assert_eq!(
            keys.source("u-42", "github"),
            "enrichd:{u-42}:source:github"
        );
        assert!(
            keys.all_of("u-42", ["github"])
                .iter()
                .all(|k| k.contains("{u-42}"))
        );
    }
}
