//! Locks: the standard library's (futex-based, never poisoned for our purposes) on Linux,
//! spin locks from the `spin` crate without `std`. One API for both: `lock`, `read` and
//! `write` return the guard directly.

#[cfg(feature = "std")]
mod imp {
    /// A mutual-exclusion lock; a panic while holding it does not poison it for others (the
    /// data it protects stays consistent at every await-free step).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) const fn new(value: T) -> Mutex<T> {
            Mutex(std::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    /// A reader-writer lock, not poisoned by panics (as [`Mutex`]).
    #[derive(Debug, Default)]
    pub(crate) struct RwLock<T>(std::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }

        pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    pub(crate) use spin::{Mutex, RwLock};
}

pub(crate) use imp::{Mutex, RwLock};
