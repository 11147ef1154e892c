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

    /// What [`source`](Self::source) puts before the connector's name (for scripts that
    /// build source keys from the names in the [`sources`](Self::sources) index).
    pub fn source_prefix(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:source:", self.prefix)
    }

    /// The set of connectors that have an answer about a user stored (so that an erasure
    /// finds them all, also those of connectors no longer configured).
    pub fn sources(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:sources", self.prefix)
    }

    /// The lock of the replica fanning out for a user.
    pub fn lock(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:lock", self.prefix)
    }

    /// The erasure fence of a user: a random token that each erasure replaces, checked by
    /// every write (see `cache::fence`). It holds nothing about the user.
    pub fn fence(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:erased", self.prefix)
    }

    /// The pub/sub channel replicas tell each other things on.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// One connector's cluster-wide rate-limit window number `window`.
    pub fn rate_window(&self, connector: &str, window: u64) -> String {
        format!("{}ratelimit:{{{connector}}}:{window}", self.prefix)
    }

    /// The runtime state of the connectors (enabled or disabled by an operator).
    pub fn runtime_state(&self) -> String {
        format!("{}connectors:state", self.prefix)
    }

    /// Every key that may hold something about a user, given the connectors that may have
    /// answered about them (besides those the [`sources`](Self::sources) index names).
    pub fn all_of<'a>(
        &self,
        user_id: &str,
        connectors: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut keys = vec![
            self.profile(user_id),
            self.lock(user_id),
            self.sources(user_id),
        ];
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
        assert_eq!(keys.fence("u-42"), "enrichd:{u-42}:erased");
        assert_eq!(keys.sources("u-42"), "enrichd:{u-42}:sources");
        assert_eq!(
            format!("{}github", keys.source_prefix("u-42")),
            keys.source("u-42", "github")
        );
        let all = keys.all_of("u-42", ["github"]);
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|k| k.contains("{u-42}")));
    }
}
