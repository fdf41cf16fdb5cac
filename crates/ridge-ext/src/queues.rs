//! Queues in the worker: the ops behind a producer binding
//! (`env.JOBS.send(body)`, see `js/queues/09_queues.js`), addressed by its
//! index in the binding list, and the verdicts a `queue()` handler gives
//! its batch (`message.ack()`, `batch.retryAll()`, …), recorded as they are
//! made. The node's queues are behind a [`QueueHost`] (ridge-runtime's
//! `isolate/bindings/queues.rs`); this file only moves values across.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use deno_core::op2;
use deno_core::JsBuffer;
use deno_core::OpState;
use deno_core::ResourceId;
use deno_error::JsErrorBox;
use ridge_core::queue::{BatchVerdicts, Verdict};

use crate::http::{CpuLedger, Trigger};
use crate::kv::HostFuture;

/// A message as the worker sends it: content type, serialized body, and
/// its own delay (seconds) if it has one.
pub type OutgoingMessage = (String, Bytes, Option<f64>);

/// One `send()` or `sendBatch()`.
pub struct QueueSend {
    pub messages: Vec<OutgoingMessage>,
    pub batch: bool,
    /// `sendBatch(messages, { delaySeconds })`.
    pub batch_delay_seconds: Option<f64>,
    /// Where the send happened in a trace: kept with the messages.
    pub traceparent: Option<String>,
}

/// What producer bindings need from the node.
pub trait QueueHost {
    /// Stores the messages of one send (all or none); `delivery_delay` is
    /// the binding's default delay.
    fn send(&self, queue: &str, delivery_delay: Option<u32>, send: QueueSend) -> HostFuture<()>;
}

/// A worker's producer bindings, by binding index: the queue and its
/// default delay.
pub struct QueueBindings {
    /// `None` where the node keeps no queues.
    pub host: Option<Rc<dyn QueueHost>>,
    pub queues: Vec<Option<(String, Option<u32>)>>,
}

/// A batch for a consumer's `queue()` handler: the messages, and where the
/// handler's verdicts are recorded for the node to settle the batch by.
#[derive(Clone, Debug)]
pub struct QueueBatch {
    pub queue: String,
    pub messages: Vec<DeliveredMessage>,
    pub verdicts: Arc<Mutex<BatchVerdicts>>,
    /// The trace of the send that produced its first message, which the
    /// batch's invocation continues.
    pub traceparent: Option<String>,
}

/// One message as the handler gets it.
#[derive(Clone, Debug)]
pub struct DeliveredMessage {
    pub id: String,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub content_type: String,
    pub body: Bytes,
    pub attempts: u32,
}

/// Per message `[contentType, length, delaySeconds or null]`, the
/// batch's delaySeconds or null, and the `traceparent` of the send's span
/// (or null), which the consumer's invocation continues.
type SendLayout = (
    Vec<(String, usize, Option<f64>)>,
    Option<f64>,
    Option<String>,
);

/// Sends the messages of one `send()` or `sendBatch()`: their bodies
/// back to back in `bodies`, laid out as `layout` says. Resolves once they
/// are stored.
#[op2]
pub async fn op_ridge_queue_send(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[buffer] bodies: JsBuffer,
    #[serde] layout: SendLayout,
    batch: bool,
) -> Result<(), JsErrorBox> {
    let (messages, batch_delay_seconds, traceparent) = layout;
    let (host, queue, delivery_delay) = {
        let state = state.borrow();
        let bindings = state.borrow::<QueueBindings>();
        let binding = bindings.queues.get(index as usize).cloned().flatten();
        let Some((queue, delay)) = binding else {
            return Err(JsErrorBox::type_error("not a queue binding"));
        };
        let host = bindings
            .host
            .clone()
            .ok_or_else(|| JsErrorBox::generic("this node keeps no queues"))?;
        (host, queue, delay)
    };
    let all = Bytes::copy_from_slice(&bodies);
    let mut offset = 0;
    let mut outgoing = Vec::with_capacity(messages.len());
    for (content_type, length, delay) in messages {
        let end = offset + length;
        if end > all.len() {
            return Err(JsErrorBox::type_error(
                "message bodies are shorter than said",
            ));
        }
        outgoing.push((content_type, all.slice(offset..end), delay));
        offset = end;
    }
    let send = QueueSend {
        messages: outgoing,
        batch,
        batch_delay_seconds,
        traceparent,
    };
    host.send(&queue, delivery_delay, send).await
}

/// Records a verdict of the batch of invocation `rid`: for message
/// `index`, or (index -1) for the whole batch; `ack`, or a retry after
/// `delay_seconds` (null: the consumer's `retry_delay`). JavaScript
/// applies the precedence between calls and sends only those that count.
#[op2(fast)]
pub fn op_ridge_queue_verdict(
    state: &OpState,
    #[smi] rid: ResourceId,
    #[smi] index: i32,
    ack: bool,
    delay_seconds: i32,
) {
    let verdict = if ack {
        Verdict::Ack
    } else {
        Verdict::Retry {
            delay_seconds: u32::try_from(delay_seconds).ok(),
        }
    };
    state.borrow::<CpuLedger>().update(rid, |record| {
        if let Trigger::Queue { verdicts, .. } = &record.trigger {
            let mut verdicts = verdicts.lock().expect("verdicts lock");
            match usize::try_from(index) {
                Ok(index) => {
                    if let Some(slot) = verdicts.messages.get_mut(index) {
                        *slot = Some(verdict);
                    }
                }
                Err(_) => verdicts.batch = Some(verdict),
            }
        }
    });
}
