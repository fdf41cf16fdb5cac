//! Everything that touches V8: isolates made from the startup snapshot,
//! the limit enforcer, the module loader, worker snapshots, the bindings a
//! worker's isolate gets, and the scheduler that places invocations on
//! isolate threads ([`isolate`]); the worker version as isolates run it
//! ([`worker`]); and what a node reports of the invocations it runs
//! ([`observe`]: logs, metrics, tail, usage, traces).

pub mod isolate;
pub mod observe;
pub mod worker;
