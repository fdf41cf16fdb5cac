//! Ridge's vocabulary as plain data, shared by every other crate: what a
//! worker is asked to do ([`invocation`]) and how it went, the limits it runs
//! under ([`limits`]), what its `env` holds ([`bindings`]), what a queue
//! consumer decided about its batch ([`queue`]), cron expressions
//! ([`cron`]), the wall clock ([`clock`]) and compatibility flags
//! ([`compat`]).
//!
//! Nothing here touches V8 or the network: this crate depends on neither
//! deno_core nor hyper, so the storage, KV and deploy crates can use it.

pub mod bindings;
pub mod clock;
pub mod compat;
pub mod cron;
pub mod invocation;
pub mod limits;
pub mod names;
pub mod queue;
pub mod ttl;

pub use bindings::{
    Binding, BindingError, DurableObjectBinding, KvNamespaceBinding, QueueConsumer,
    QueueProducerBinding, ServiceBinding,
};
pub use clock::Clock;
pub use compat::{Compatibility, NodeCompat};
pub use invocation::{EventKind, Outcome, ScheduledEvent};
pub use limits::{LimitExceeded, Limits};
