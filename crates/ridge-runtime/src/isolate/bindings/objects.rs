//! Durable Objects: a version's namespace bindings (for their ids), and
//! the storage of the objects of its own classes, which live in its
//! isolate (calls reach them as RPC calls, through `service.rs`).

use std::time::Duration;

use deno_core::OpState;
use ridge_core::Binding;
use ridge_ext::objects::{ObjectNamespaces, ObjectStorage};
use ridge_objects::ObjectStore;

use crate::observe::metrics::WorkerLabels;
use crate::observe::Observers;
use crate::worker::WorkerVersion;

/// Gives the ops the version's namespaces (when it has any), and the
/// storage its own objects use (every version: another worker's binding
/// may name one of its classes).
pub(super) fn install(
    state: &mut OpState,
    version: &WorkerVersion,
    store: &ObjectStore,
    idle_timeout: Duration,
    observers: &Observers,
) {
    let namespaces: Vec<Option<(String, String)>> = version
        .bindings
        .iter()
        .map(|binding| match binding {
            Binding::DurableObjectNamespace {
                class_name, worker, ..
            } => Some((worker.clone(), class_name.clone())),
            _ => None,
        })
        .collect();
    if namespaces.iter().any(Option::is_some) {
        state.put(ObjectNamespaces(namespaces));
    }
    let alive = observers
        .metrics
        .objects_alive
        .get_or_create(&WorkerLabels {
            worker: version.name.clone(),
        })
        .clone();
    state.put(ObjectStorage::new(
        version.name.clone(),
        store.clone(),
        idle_timeout,
        Box::new(move |delta| {
            alive.inc_by(delta);
        }),
    ));
}
