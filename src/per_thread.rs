//! One value per thread and Tokio runtime, for clients whose connections are driven by tasks
//! on the runtime that opened them: each actix worker is a runtime of its own, so a client
//! shared by all workers makes one worker's request wake another worker's thread (a write to
//! its eventfd, a context switch) to send and again to answer. Held this way, a worker's
//! requests run on connections its own runtime drives. A holder used from N threads keeps at
//! most N values, each dropped with its thread or, on that thread's next use of any holder,
//! once its holder is gone.

use std::{
    any::Any,
    cell::RefCell,
    sync::{Arc, Weak},
};

use tokio::runtime::{Handle, Id};

/// Hands each thread (and runtime on it) its own `T`, made on first use there.
pub struct PerThread<T> {
    /// Alive while the holder is: its identity in each thread's list.
    alive: Arc<()>,
    _values: std::marker::PhantomData<fn() -> T>,
}

/// One thread's value of one holder, made on one runtime.
struct Held {
    holder: Weak<()>,
    runtime: Id,
    value: Box<dyn Any>,
}

thread_local! {
    /// This thread's values, one per holder at most.
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
}

impl<T: Clone + 'static> PerThread<T> {
    /// Nothing is made here, on this thread or any other.
    pub fn new() -> PerThread<T> {
        PerThread {
            alive: Arc::new(()),
            _values: std::marker::PhantomData,
        }
    }

    /// This thread's value, made by `make` when the thread has none for this holder or has
    /// it from a runtime that has since been replaced (its connections died with it). `None`
    /// outside a Tokio runtime: there is nothing to keep a value for.
    pub fn get_or_make<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Option<Result<T, E>> {
        let runtime = Handle::try_current().ok()?.id();
        Some(HELD.with_borrow_mut(|held| {
            let mine = |value: &Held| std::ptr::eq(value.holder.as_ptr(), Arc::as_ptr(&self.alive));
            if let Some(value) = held.iter().find(|value| mine(value))
                && value.runtime == runtime
                && let Some(value) = value.value.downcast_ref::<T>()
            {
                return Ok(value.clone());
            }
            held.retain(|value| value.holder.strong_count() > 0 && !mine(value));
            let value = make()?;
            held.push(Held {
                holder: Arc::downgrade(&self.alive),
                runtime,
                value: Box::new(value.clone()),
            });
            Ok(value)
        }))
    }
}

impl<T: Clone + 'static> Default for PerThread<T> {
    fn default() -> Self {
        PerThread::new()
    }
}

#[cfg(test)]
mod tests {
    use std::{
        convert::Infallible,
        sync::atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    fn held() -> usize {
        HELD.with_borrow(Vec::len)
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    /// A value that counts how often it was made.
    fn counted(made: &AtomicUsize) -> Result<usize, Infallible> {
        Ok(made.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[test]
    fn a_thread_keeps_one_value_per_holder_and_drops_those_of_holders_that_are_gone() {
        current_thread().block_on(async {
            let made = AtomicUsize::new(0);
            let before = held();
            let first = PerThread::new();
            assert_eq!(first.get_or_make(|| counted(&made)), Some(Ok(1)));
            assert_eq!(first.get_or_make(|| counted(&made)), Some(Ok(1)));
            assert_eq!(held(), before + 1);
            let second = PerThread::new();
            assert_eq!(second.get_or_make(|| counted(&made)), Some(Ok(2)));
            assert_eq!(held(), before + 2);
            drop(first);
            let third = PerThread::new();
            assert_eq!(third.get_or_make(|| counted(&made)), Some(Ok(3)));
            assert_eq!(
                held(),
                before + 2,
                "the value of the dropped holder is released"
            );
        });
    }

    #[test]
    fn each_thread_and_each_new_runtime_gets_its_own_value() {
        let holder = Arc::new(PerThread::new());
        let made = Arc::new(AtomicUsize::new(0));
        let before = held();
        let mut values = Vec::new();
        for _ in 0..3 {
            let runtime = current_thread();
            values.push(runtime.block_on(async { holder.get_or_make(|| counted(&made)) }));
            assert_eq!(
                held(),
                before + 1,
                "the value of the replaced runtime is replaced"
            );
        }
        let other = std::thread::spawn({
            let (holder, made) = (holder.clone(), made.clone());
            move || current_thread().block_on(async { holder.get_or_make(|| counted(&made)) })
        });
        values.push(other.join().unwrap());
        assert_eq!(values, [1, 2, 3, 4].map(|n| Some(Ok(n))));
    }

    #[test]
    fn nothing_is_made_outside_a_runtime_and_a_failure_is_not_kept() {
        let holder = PerThread::<usize>::new();
        assert_eq!(holder.get_or_make(|| Ok::<_, ()>(1)), None);
        current_thread().block_on(async {
            assert_eq!(holder.get_or_make(|| Err("refused")), Some(Err("refused")));
            assert_eq!(holder.get_or_make(|| Ok::<_, &str>(7)), Some(Ok(7)));
            assert_eq!(holder.get_or_make(|| Ok::<_, &str>(8)), Some(Ok(7)));
        });
    }
}
