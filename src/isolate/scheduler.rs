//! Isolate threads and the scheduler that sends each request to the thread
//! owning its worker version's isolate.
//!
//! Each isolate thread runs a current-thread tokio runtime with a `LocalSet`;
//! every isolate on it is a local task that owns its `JsRuntime` and takes
//! requests from its own inbox. A request crosses threads once, by channel.
//! An isolate that fails is dropped, and the next request for its version
//! starts a new one.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::runtime::{StartError, StopReason, WorkerIsolate};
use crate::ops::{RequestHead, RequestInbox, WorkerReply};
use crate::worker::WorkerVersion;

#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// Number of isolate threads; 0 means one per CPU core.
    pub threads: usize,
}

/// Hands requests to isolate threads. Cheap to share behind an `Arc`.
pub struct Scheduler {
    threads: Vec<mpsc::UnboundedSender<(Arc<WorkerVersion>, RequestHead)>>,
}

impl Scheduler {
    pub fn new(options: SchedulerOptions) -> std::io::Result<Self> {
        let count = if options.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            options.threads
        };
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let (sender, receiver) = mpsc::unbounded_channel();
            std::thread::Builder::new()
                .name(format!("ridge-isolates-{index}"))
                .spawn(move || isolate_thread(receiver))?;
            threads.push(sender);
        }
        Ok(Self { threads })
    }

    /// Sends a request to the isolate of `version`, starting one if needed.
    /// The answer arrives on `head.reply`; if the isolate dies first, that
    /// sender is dropped.
    pub fn dispatch(&self, version: Arc<WorkerVersion>, head: RequestHead) {
        let mut hasher = DefaultHasher::new();
        version.id.hash(&mut hasher);
        let thread = &self.threads[(hasher.finish() % self.threads.len() as u64) as usize];
        // The thread only stops when the scheduler is dropped.
        let _ = thread.send((version, head));
    }
}

fn isolate_thread(mut requests: mpsc::UnboundedReceiver<(Arc<WorkerVersion>, RequestHead)>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("isolate thread runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let mut isolates: HashMap<String, mpsc::UnboundedSender<RequestHead>> = HashMap::new();
        while let Some((version, head)) = requests.recv().await {
            let inbox = isolates
                .entry(version.id.clone())
                .or_insert_with(|| spawn_isolate(version.clone()));
            if let Err(mpsc::error::SendError(head)) = inbox.send(head) {
                // The isolate has stopped since its last request: start a new one.
                let inbox = spawn_isolate(version.clone());
                let _ = inbox.send(head);
                isolates.insert(version.id.clone(), inbox);
            }
        }
    });
}

fn spawn_isolate(version: Arc<WorkerVersion>) -> mpsc::UnboundedSender<RequestHead> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::task::spawn_local(async move {
        let inbox = RequestInbox::new(receiver);
        match WorkerIsolate::start(version.clone(), inbox.clone()).await {
            Ok(isolate) => match isolate.run().await {
                Ok(()) => {}
                Err(StopReason::Limit(limit)) => {
                    tracing::warn!(worker = %version.name, version = %version.id, "{limit}; isolate discarded");
                }
                Err(StopReason::Failed(error)) => {
                    tracing::error!(worker = %version.name, version = %version.id, %error, "isolate discarded");
                }
            },
            Err(error) => {
                tracing::error!(worker = %version.name, version = %version.id, %error, "worker failed to start");
                // Every request already waiting gets the start error.
                let message = format!("Worker failed to start: {error}");
                let limit = matches!(error, StartError::Limit(_));
                inbox.fail_waiting(|| {
                    if limit {
                        WorkerReply::LimitExceeded(message.clone())
                    } else {
                        WorkerReply::Error(message.clone())
                    }
                });
            }
        }
    });
    sender
}
