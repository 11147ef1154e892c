//! Redis key layout: the only place that knows it (cache, coordination, connector state,
//! suppressions and the audit trail all take their keys from here). Every key of a user starts with the
//! configured prefix, then the tenant (none for `default`), then the user id verbatim in a hash
//! tag — `enrichd:{u-42}:profile`, `enrichd:t:marketing:{u-42}:profile` — so operators can find
//! and erase a user's keys and Redis Cluster keeps them in one slot (multi-key commands stay
//! legal). See [`UserKey`].

use crate::domain::{Tenant, UserKey};

/// The consumer group every replica reads the [jobs stream](Keys::jobs) in.
pub const JOB_WORKERS: &str = "workers";

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

    /// What every key of `user` starts with: the prefix, `t:<tenant>:` unless the tenant is
    /// `default` (whose keys are those of deployments from before tenants), and the user id
    /// in a hash tag.
    ///
    /// Built by appending (keys of a user are made several times per request, and `format!`
    /// costs several times more), `suffix` after it.
    fn user(&self, user: &UserKey, suffix: &str) -> String {
        let (id, tenant) = (user.user_id(), user.tenant_name());
        let length = tenant.map_or(0, |t| t.len() + 3) + id.len() + suffix.len() + 2;
        let mut key = String::with_capacity(self.prefix.len() + length);
        key.push_str(&self.prefix);
        if let Some(tenant) = tenant {
            key.push_str("t:");
            key.push_str(tenant);
            key.push(':');
        }
        key.push('{');
        key.push_str(id);
        key.push('}');
        key.push_str(suffix);
        key
    }

    /// Everything cached about a user: profile, subject and per-source answers in one value
    /// (see `cache::entry`).
    pub fn entry(&self, user: &UserKey) -> String {
        self.user(user, ":entry")
    }

    /// The merged profile of a user in the layout before entries (a hash: `body`,
    /// `fresh_until`, `subject`); read while it lasts, removed by the next write.
    pub fn profile(&self, user: &UserKey) -> String {
        self.user(user, ":profile")
    }

    /// One connector's last answer about a user in the layout before entries (JSON).
    pub fn source(&self, user: &UserKey, connector: &str) -> String {
        self.user(user, ":source:") + connector
    }

    /// What [`source`](Self::source) puts before the connector's name (for scripts that
    /// build source keys from the names in the [`sources`](Self::sources) index).
    pub fn source_prefix(&self, user: &UserKey) -> String {
        self.user(user, ":source:")
    }

    /// The set of connectors that have an answer about a user stored in the layout before
    /// entries (so that an erasure finds them all, also those of connectors no longer
    /// configured).
    pub fn sources(&self, user: &UserKey) -> String {
        self.user(user, ":sources")
    }

    /// A user's overrides (JSON; no expiry: they last until changed or erased).
    pub fn overrides(&self, user: &UserKey) -> String {
        self.user(user, ":overrides")
    }

    /// The lock of the replica fanning out for a user.
    pub fn lock(&self, user: &UserKey) -> String {
        self.user(user, ":lock")
    }

    /// Set while another replica waits for the profile of the replica holding the user's
    /// [`lock`](Self::lock): a first profile is announced only then (see `cache::redis`).
    pub fn waiting(&self, user: &UserKey) -> String {
        self.user(user, ":waiting")
    }

    /// The erasure fence of a user: a random token that each erasure replaces, checked by
    /// every write (see `cache::fence`). It holds nothing about the user.
    pub fn fence(&self, user: &UserKey) -> String {
        self.user(user, ":erased")
    }

    /// What `tenant` spent on `day` (`YYYY-MM-DD`, UTC): a hash of `total` and, per
    /// connector, `calls:<name>` and `cost:<name>`, in micro-credits; it expires two days on.
    pub fn spend(&self, tenant: &Tenant, day: &str) -> String {
        format!("{}spend:{{{tenant}}}:{day}", self.prefix)
    }

    /// The bulk jobs' work: one Stream of `{job, index}` entries for every job (nothing about
    /// a user), read by the consumer group [`JOB_WORKERS`].
    pub fn jobs(&self) -> String {
        format!("{}jobs", self.prefix)
    }

    /// The ids of the jobs queued or running (a set).
    pub fn jobs_active(&self) -> String {
        format!("{}jobs:active", self.prefix)
    }

    /// A tenant's jobs by creation time (a sorted set of ids, the newest
    /// [`crate::jobs::LISTED`] kept), for `GET /v1/jobs`.
    pub fn tenant_jobs(&self, tenant: &str) -> String {
        format!("{}jobs:tenant:{{{tenant}}}", self.prefix)
    }

    /// One key of bulk job `id` (`meta`, `input`, `results`, `webhook`); a job's keys share
    /// a hash tag, so its scripts may touch them together.
    pub fn job(&self, id: &str, part: &str) -> String {
        format!("{}job:{{{id}}}:{part}", self.prefix)
    }

    /// Which job results hold something about a user (a set of `<job>:<index>`), so that an
    /// erasure finds them.
    pub fn user_jobs(&self, user: &UserKey) -> String {
        self.user(user, ":jobs")
    }

    /// The pub/sub channel replicas tell each other things on.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// One connector's cluster-wide rate-limit window number `window`.
    pub fn rate_window(&self, connector: &str, window: u64) -> String {
        format!("{}ratelimit:{{{connector}}}:{window}", self.prefix)
    }

    /// The suppressed identifiers of every tenant, as keyed hashes (a set; see `privacy`).
    pub fn suppressions(&self) -> String {
        format!("{}suppressions", self.prefix)
    }

    /// The audit trail (a capped stream; see `privacy::audit`).
    pub fn audit(&self) -> String {
        format!("{}audit", self.prefix)
    }

    /// The runtime state of the connectors (enabled or disabled by an operator).
    pub fn runtime_state(&self) -> String {
        format!("{}connectors:state", self.prefix)
    }

    /// Every key that may hold something about a user, given the connectors that may have
    /// answered about them (besides those the [`sources`](Self::sources) index names).
    pub fn all_of<'a>(
        &self,
        user: &UserKey,
        connectors: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut keys = vec![
            self.entry(user),
            self.profile(user),
            self.lock(user),
            self.waiting(user),
            self.sources(user),
            self.overrides(user),
            self.user_jobs(user),
        ];
        keys.extend(connectors.into_iter().map(|c| self.source(user, c)));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_the_user_id_in_a_hash_tag() {
        let keys = Keys::new("enrichd:");
        let user = UserKey::of_default("u-42");
        assert_eq!(keys.profile(&user), "enrichd:{u-42}:profile");
        assert_eq!(keys.lock(&user), "enrichd:{u-42}:lock");
        assert_eq!(keys.waiting(&user), "enrichd:{u-42}:waiting");
        assert_eq!(keys.source(&user, "github"), "enrichd:{u-42}:source:github");
        assert_eq!(keys.fence(&user), "enrichd:{u-42}:erased");
        assert_eq!(keys.sources(&user), "enrichd:{u-42}:sources");
        assert_eq!(
            format!("{}github", keys.source_prefix(&user)),
            keys.source(&user, "github")
        );
        assert_eq!(keys.overrides(&user), "enrichd:{u-42}:overrides");
        let all = keys.all_of(&user, ["github"]);
        assert_eq!(all.len(), 8);
        assert!(all.contains(&keys.waiting(&user)), "erased with the others");
        assert_eq!(keys.entry(&user), "enrichd:{u-42}:entry");
        assert_eq!(keys.user_jobs(&user), "enrichd:{u-42}:jobs");
        assert_eq!(keys.job("j1", "meta"), "enrichd:job:{j1}:meta");
        assert!(all.iter().all(|k| k.starts_with("enrichd:{u-42}:")));
    }

    #[test]
    fn other_tenants_keys_carry_the_tenant_before_the_hash_tag() {
        let keys = Keys::new("enrichd:");
        let tenant = crate::domain::Tenant::parse("marketing").unwrap();
        let user = UserKey::new(&tenant, "u-42");
        assert_eq!(keys.profile(&user), "enrichd:t:marketing:{u-42}:profile");
        let all = keys.all_of(&user, ["github"]);
        assert!(
            all.iter()
                .all(|k| k.starts_with("enrichd:t:marketing:{u-42}:"))
        );
        assert_eq!(keys.suppressions(), "enrichd:suppressions");
        assert_eq!(keys.audit(), "enrichd:audit");
    }

    #[test]
    fn a_users_key_is_built_in_one_allocation_of_its_exact_length() {
        let keys = Keys::new("enrichd:");
        let tenant = crate::domain::Tenant::parse("marketing").unwrap();
        for user in [
            UserKey::of_default("u-42"),
            UserKey::new(&tenant, "a-much-longer-user-id"),
        ] {
            for key in [
                keys.entry(&user),
                keys.lock(&user),
                keys.source_prefix(&user),
            ] {
                assert_eq!(key.capacity(), key.len(), "{key}");
            }
        }
    }
}
