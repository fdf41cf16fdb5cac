//! Service bindings (`env.SVC`): the other workers a version calls, as
//! its ops (ridge-ext `service.rs`) see them. A call goes to whatever
//! version of the named worker the node serves at that moment, through the
//! node's [`WorkerDirectory`].

use std::rc::Rc;
use std::sync::{Arc, OnceLock, Weak};

use deno_core::OpState;
use ridge_core::Binding;
use ridge_ext::service::{ServiceBindings, ServiceHost};
use ridge_ext::{Caller, Event, RpcCall, WorkerReply};
use tokio::sync::oneshot;

use crate::worker::WorkerVersion;

/// Where service-binding calls go: the node's table of the workers it
/// serves (its edge handler), which makes the invocation and dispatches it.
pub trait WorkerDirectory: Send + Sync {
    /// Hands `event` to the current version of worker `worker`; `None`
    /// when the node serves no worker of that name.
    fn invoke(
        &self,
        worker: &str,
        event: Event,
        caller: Caller,
    ) -> Option<oneshot::Receiver<WorkerReply>>;
}

/// The node's [`WorkerDirectory`], known once its edge handler exists
/// (after the isolate threads that need it have started).
#[derive(Clone, Default)]
pub struct Directory(Arc<OnceLock<Weak<dyn WorkerDirectory>>>);

impl Directory {
    /// Sets where calls go; the first setting stays.
    pub fn set(&self, directory: Weak<dyn WorkerDirectory>) {
        let _ = self.0.set(directory);
    }

    fn get(&self) -> Option<Arc<dyn WorkerDirectory>> {
        self.0.get()?.upgrade()
    }
}

/// Gives the ops the version's service bindings, when it has any.
pub(super) fn install(state: &mut OpState, version: &WorkerVersion, directory: &Directory) {
    let has_services = version.bindings.iter().any(|binding| {
        matches!(
            binding,
            Binding::Service { .. } | Binding::DurableObjectNamespace { .. }
        )
    });
    if has_services {
        state.put(ServiceBindings(Rc::new(ServiceAdapter {
            caller: version.name.clone(),
            bindings: version.bindings.clone(),
            directory: directory.clone(),
        })));
    }
}

struct ServiceAdapter {
    /// The calling worker's name.
    caller: String,
    bindings: Vec<Binding>,
    directory: Directory,
}

impl ServiceHost for ServiceAdapter {
    fn invoke(
        &self,
        binding: u32,
        event: Event,
        depth: u32,
    ) -> Result<oneshot::Receiver<WorkerReply>, String> {
        let directory = self
            .directory
            .get()
            .ok_or_else(|| "this node is shutting down".to_string())?;
        let (name, worker, props, event) = match self.bindings.get(binding as usize) {
            Some(Binding::Service {
                name,
                service,
                entrypoint,
                props,
            }) => {
                let event = with_call(event, |call| call.entrypoint.clone_from(entrypoint));
                (name, service, props.clone(), event)
            }
            // A Durable Object's stub: the call is for an object of the
            // binding's class, in that worker.
            Some(Binding::DurableObjectNamespace {
                name,
                class_name,
                worker,
            }) => {
                let event = with_call(event, |call| {
                    if let Some(object) = &mut call.object {
                        object.class.clone_from(class_name);
                    }
                });
                (name, worker, None, event)
            }
            _ => return Err(format!("binding {binding} is not a service binding")),
        };
        let caller = Caller {
            worker: self.caller.clone(),
            depth,
            props,
        };
        directory
            .invoke(worker, event, caller)
            .ok_or_else(|| format!("binding {name}: this node serves no worker named {worker:?}"))
    }
}

/// `event` with `change` made to it when it is an RPC call.
fn with_call(event: Event, change: impl FnOnce(&mut RpcCall)) -> Event {
    match event {
        Event::Rpc(mut call) => {
            change(&mut call);
            Event::Rpc(call)
        }
        event => event,
    }
}
