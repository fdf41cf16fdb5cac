//! Placement: which isolate thread serves an invocation of a worker
//! version. The scheduler asks its [`Placement`] for every invocation, so
//! a policy that gives a hot version several isolates (on several threads)
//! is a new implementation here, not a change to the scheduler.

use std::hash::BuildHasher;

use crate::worker::WorkerVersion;

/// Decides where invocations of a version run.
pub trait Placement: Send + Sync {
    /// The isolate thread (an index below `threads`) for the next
    /// invocation of `version`.
    fn thread_for(&self, version: &WorkerVersion, threads: usize) -> usize;
}

/// One isolate per version, always on the thread its isolate key hashes to:
/// requests for a version interleave on that isolate at `await` points.
pub struct HashPlacement;

impl Placement for HashPlacement {
    fn thread_for(&self, version: &WorkerVersion, threads: usize) -> usize {
        // A fixed seed: every caller must pick the same thread. (foldhash:
        // this runs on every request's path.)
        let hash = foldhash::fast::FixedState::default().hash_one(&version.id);
        (hash % threads as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_always_lands_on_the_same_thread() {
        let placement = HashPlacement;
        let mut used = std::collections::HashSet::new();
        for index in 0..32 {
            let version =
                WorkerVersion::from_module(&format!("w{index}"), "export default {}", &[]);
            let thread = placement.thread_for(&version, 4);
            assert!(thread < 4);
            assert_eq!(placement.thread_for(&version, 4), thread);
            used.insert(thread);
        }
        // 32 versions spread over more than one of 4 threads.
        assert!(used.len() > 1, "{used:?}");
    }
}
