//! V8 isolates: creating them from the startup snapshot, loading a worker's
//! modules into one, and scheduling requests onto isolate threads.

mod backoff;
pub mod bindings;
pub mod limits;
pub mod loader;
pub mod placement;
pub mod runtime;
pub mod scheduler;
pub mod snapshot;
mod snapshot_sidecar;
pub mod typescript;
pub mod validate;
pub mod worker_snapshot;

pub use bindings::{Directory, Services, WorkerDirectory};
pub use scheduler::{Scheduler, SchedulerOptions};
