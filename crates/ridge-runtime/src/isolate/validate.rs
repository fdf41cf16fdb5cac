//! Checks an uploaded version before it is stored: its modules must compile
//! and link within the bundle, its top level must run within the startup
//! limit, and it must have a fetch handler. Done by starting it in a
//! throwaway isolate on a thread of its own.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::bindings::Services;
use super::runtime::{StartError, WorkerIsolate};
use crate::worker::WorkerVersion;
use ridge_ext::InvocationInbox;

/// `Err` says why it does not start: V8's message (module, line and column
/// for syntax errors), or the limit its top level exceeded.
pub async fn check_version(version: Arc<WorkerVersion>) -> Result<(), StartError> {
    let (sender, receiver) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("ridge-validate".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let result = match runtime {
                Ok(runtime) => tokio::task::LocalSet::new().block_on(&runtime, async {
                    let (_requests, inbox) = mpsc::unbounded_channel();
                    // Top-level code has no request to do I/O for: no KV,
                    // and a Cache API nothing can reach afterwards.
                    let services = Services::without_kv(1024 * 1024);
                    WorkerIsolate::start(version, InvocationInbox::new(inbox), &services)
                        .await
                        .map(drop)
                }),
                Err(error) => Err(StartError::Internal(format!(
                    "cannot start a validation runtime: {error}"
                ))),
            };
            let _ = sender.send(result);
        });
    if let Err(error) = spawned {
        return Err(StartError::Internal(format!(
            "cannot start a validation thread: {error}"
        )));
    }
    receiver.await.unwrap_or_else(|_| {
        Err(StartError::Internal(
            "the validation isolate crashed".into(),
        ))
    })
}
