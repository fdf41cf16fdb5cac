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
