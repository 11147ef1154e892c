//! A registry of per-user shared state that lives only while something uses it: entries are
//! held weakly, so a user's entry goes when the last piece of work about them lets go of it,
//! and the registry prunes itself as it grows. It is bounded by the work in flight, however
//! many users callers name.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

/// The smallest size at which the registry is pruned.
const PRUNE_FLOOR: usize = 1024;

/// Per-user `T`s, shared by everything working on the same user at the same time.
pub struct PerUser<T> {
    live: Mutex<Live<T>>,
}

struct Live<T> {
    entries: HashMap<String, Weak<T>>,
    /// Prune dead entries when the map reaches this size.
    prune_at: usize,
}

impl<T> Default for PerUser<T> {
    fn default() -> Self {
        PerUser {
            live: Mutex::new(Live {
                entries: HashMap::new(),
                prune_at: PRUNE_FLOOR,
            }),
        }
    }
}

impl<T: Default> PerUser<T> {
    fn live(&self) -> std::sync::MutexGuard<'_, Live<T>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user's entry, created if nobody holds one.
    pub fn hold(&self, user_id: &str) -> Arc<T> {
        let mut live = self.live();
        if let Some(entry) = live.entries.get(user_id).and_then(Weak::upgrade) {
            return entry;
        }
        if live.entries.len() >= live.prune_at {
            live.entries.retain(|_, entry| entry.strong_count() > 0);
            live.prune_at = (live.entries.len() * 2).max(PRUNE_FLOOR);
        }
        let entry = Arc::new(T::default());
        live.entries
            .insert(user_id.to_owned(), Arc::downgrade(&entry));
        entry
    }

    /// The user's entry if someone holds it.
    pub fn get(&self, user_id: &str) -> Option<Arc<T>> {
        self.live().entries.get(user_id).and_then(Weak::upgrade)
    }

    /// Take the user's entry out (its holders keep it; the next [`hold`](Self::hold) gets a
    /// new one).
    pub fn take(&self, user_id: &str) -> Option<Arc<T>> {
        self.live()
            .entries
            .remove(user_id)
            .and_then(|w| w.upgrade())
    }

    /// Users with an entry now, live or not yet pruned (for tests).
    pub fn tracked(&self) -> usize {
        self.live().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn holders_of_the_same_user_share_one_entry() {
        let registry: PerUser<AtomicU32> = PerUser::default();
        let a = registry.hold("u-1");
        let b = registry.hold("u-1");
        a.fetch_add(1, Ordering::SeqCst);
        assert_eq!(b.load(Ordering::SeqCst), 1);
        assert!(!Arc::ptr_eq(&a, &registry.hold("u-2")));
        assert!(registry.get("u-1").is_some());
    }

    #[test]
    fn an_entry_nobody_holds_is_gone() {
        let registry: PerUser<AtomicU32> = PerUser::default();
        registry.hold("u-1").fetch_add(1, Ordering::SeqCst);
        assert!(registry.get("u-1").is_none());
        assert_eq!(registry.hold("u-1").load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_taken_entry_stays_with_its_holders_and_the_next_is_new() {
        let registry: PerUser<AtomicU32> = PerUser::default();
        let held = registry.hold("u-1");
        let taken = registry.take("u-1").unwrap();
        assert!(Arc::ptr_eq(&held, &taken));
        assert!(!Arc::ptr_eq(&held, &registry.hold("u-1")));
        assert!(registry.take("nobody").is_none());
    }

    #[test]
    fn it_prunes_only_at_the_floor_then_at_twice_what_is_held() {
        let registry: PerUser<AtomicU32> = PerUser::default();
        let dead = |name: &str, count: usize| {
            for i in 0..count {
                drop(registry.hold(&format!("{name}-{i}")));
            }
        };
        let kept: Vec<Arc<AtomicU32>> =
            (0..600).map(|i| registry.hold(&format!("k-{i}"))).collect();
        dead("a", PRUNE_FLOOR - 600);
        assert_eq!(
            registry.tracked(),
            PRUNE_FLOOR,
            "nothing pruned below the floor"
        );
        dead("b", 1);
        assert_eq!(registry.tracked(), 601, "pruned at the floor");
        // The next prune waits for twice the 600 held.
        dead("c", 598);
        assert_eq!(registry.tracked(), 1199);
        dead("d", 2);
        assert_eq!(registry.tracked(), 601);
        assert_eq!(kept.len(), 600);
    }

    #[test]
    fn the_registry_stays_bounded_by_what_is_held() {
        let registry: PerUser<AtomicU32> = PerUser::default();
        let kept: Vec<Arc<AtomicU32>> = (0..10).map(|i| registry.hold(&format!("k-{i}"))).collect();
        for i in 0..20 * PRUNE_FLOOR {
            drop(registry.hold(&format!("u-{i}")));
        }
        assert!(
            registry.tracked() <= PRUNE_FLOOR + 10,
            "{}",
            registry.tracked()
        );
        for (i, entry) in kept.iter().enumerate() {
            assert!(Arc::ptr_eq(entry, &registry.hold(&format!("k-{i}"))));
        }
    }
}
