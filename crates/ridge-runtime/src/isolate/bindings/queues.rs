//! Queue producer bindings: the node's `Queues` as one worker version's
//! ops (ridge-ext `queues.rs`) see them. A refused send (its size, count
//! or delay) is the `Error` Cloudflare throws; each message sent counts
//! in the `ridge_queue_messages_total` metric and in the worker's usage.

use std::rc::Rc;
use std::sync::Arc;

use deno_core::OpState;
use deno_error::JsErrorBox;
use ridge_core::Binding;
use ridge_ext::kv::HostFuture;
use ridge_ext::queues::{QueueBindings, QueueHost, QueueSend};
use ridge_queues::{Outgoing, QueueError, Queues, Send};

use crate::observe::Observers;
use crate::worker::WorkerVersion;

/// Gives the ops the worker's producer bindings, by binding index.
pub(super) fn install(
    state: &mut OpState,
    version: &WorkerVersion,
    queues: Option<Arc<Queues>>,
    observers: &Observers,
) {
    state.put(QueueBindings {
        host: queues.map(|queues| {
            Rc::new(QueueAdapter {
                queues,
                worker: version.name.clone(),
                version: version.version_id.clone(),
                observers: observers.clone(),
            }) as Rc<dyn QueueHost>
        }),
        queues: version
            .bindings
            .iter()
            .map(|binding| match binding {
                Binding::Queue {
                    queue,
                    delivery_delay,
                    ..
                } => Some((queue.clone(), *delivery_delay)),
                _ => None,
            })
            .collect(),
    });
}

struct QueueAdapter {
    queues: Arc<Queues>,
    worker: String,
    version: String,
    observers: Observers,
}

impl QueueHost for QueueAdapter {
    fn send(&self, queue: &str, delivery_delay: Option<u32>, send: QueueSend) -> HostFuture<()> {
        let (queues, observers, queue) = (
            self.queues.clone(),
            self.observers.clone(),
            queue.to_string(),
        );
        let (worker, version) = (self.worker.clone(), self.version.clone());
        let count = send.messages.len() as u64;
        let send = Send {
            messages: send
                .messages
                .into_iter()
                .map(|(content_type, body, delay_seconds)| Outgoing {
                    body,
                    content_type,
                    delay_seconds,
                })
                .collect(),
            batch: send.batch,
            batch_delay_seconds: send.batch_delay_seconds,
            default_delay_seconds: delivery_delay,
            traceparent: send.traceparent,
        };
        Box::pin(async move {
            match queues.send(&queue, send).await {
                Ok(()) => {
                    observers.metrics.queue_messages(&queue, "sent", count);
                    observers
                        .usage
                        .record(&worker, &version, |row| row.queue_messages += count as i64);
                    Ok(())
                }
                Err(QueueError::TooLarge(message) | QueueError::InvalidDelay(message)) => {
                    Err(JsErrorBox::generic(message))
                }
                Err(error) => Err(JsErrorBox::generic(format!("Queue send failed: {error}"))),
            }
        })
    }
}
