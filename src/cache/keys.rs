//! Redis key layout. Every key of a user starts with the configured prefix and holds the user
//! id verbatim in a hash tag, `enrichd:{u-42}:profile`, so operators can find and erase a
//! user's keys and Redis Cluster keeps them in one slot (multi-key operations stay legal).

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

    /// Every key that may hold something about a user.
    pub fn all_of(&self, user_id: &str) -> Vec<String> {
        vec![self.profile(user_id)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_the_user_id_in_a_hash_tag() {
        let keys = Keys::new("enrichd:");
        assert_eq!(keys.profile("u-42"), "enrichd:{u-42}:profile");
        assert!(keys.all_of("u-42").iter().all(|k| k.contains("{u-42}")));
    }
}
