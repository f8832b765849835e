//! The lock of one filter configuration, re-entrant on its own thread.
//!
//! Envoy calls a dynamic module from every worker thread at once, and one
//! Portico engine (one plugin instance, as one wasm VM) serves them all, so
//! each hook runs holding its configuration's lock. A hook may cause Envoy
//! to call another hook of the same configuration on the same thread before
//! it returns (a resumed stream runs on, a callout fails at once); that
//! call takes the lock again instead of dead-locking, and the engine's own
//! `RefCell`s refuse what would really be re-entrant.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

fn this_thread() -> u64 {
    THREAD.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

pub(super) struct ReentrantLock {
    mutex: Mutex<()>,
    /// The thread holding `mutex`, 0 when none.
    owner: AtomicU64,
}

impl ReentrantLock {
    pub(super) const fn new() -> Self {
        ReentrantLock {
            mutex: Mutex::new(()),
            owner: AtomicU64::new(0),
        }
    }

    pub(super) fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        let me = this_thread();
        // Only this thread ever stores its own id, so seeing it means this
        // thread holds the mutex further up its stack.
        if self.owner.load(Ordering::Acquire) == me {
            return f();
        }
        let guard = self.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        self.owner.store(me, Ordering::Release);
        let out = f();
        self.owner.store(0, Ordering::Release);
        drop(guard);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn re_enters_on_its_own_thread_and_excludes_others() {
        let lock = Arc::new(ReentrantLock::new());
        let inner = lock.with(|| lock.with(|| 7));
        assert_eq!(inner, 7);
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (lock, counter) = (Arc::clone(&lock), Arc::clone(&counter));
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        lock.with(|| {
                            // A non-atomic read-modify-write: only exclusion keeps it exact.
                            let v = counter.load(Ordering::Relaxed);
                            std::hint::spin_loop();
                            counter.store(v + 1, Ordering::Relaxed);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 4000);
    }
}
