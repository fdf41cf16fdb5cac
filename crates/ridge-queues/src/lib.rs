//! Cloudflare Queues over Ridge's store: what a send may carry (the
//! limits, with the messages workers see on Cloudflare's local runtime),
//! message ids and delays, leases for consumers inside Ridge and for pull
//! consumers outside it, and what becomes of each message of a consumed
//! batch (acknowledged, retried later, dead-lettered or dropped). The
//! consumer loop that turns messages into `queue()` invocations is
//! ridge-node's; the store (`ridge_store::queues`) only persists.

use std::sync::Arc;

use bytes::Bytes;
use ridge_core::queue::{BatchVerdicts, Verdict};
use ridge_core::{Clock, QueueConsumer};
pub use ridge_store::queues::Settled;
use ridge_store::queues::{LeasedMessage, NewMessage, QueueInfo, QueueStore, Settlement};
use ridge_store::StoreError;
use tokio::sync::broadcast;

/// The largest message, in bytes as stored (after serialization).
pub const MAX_MESSAGE_BYTES: usize = 128_000;
/// The most messages one `sendBatch()` may carry.
pub const MAX_BATCH_MESSAGES: usize = 100;
/// The most bytes one `sendBatch()` may carry (256 KB and 32 KB of
/// allowance for serialization, as Cloudflare's local runtime counts).
pub const MAX_BATCH_BYTES: usize = 288_000;
/// The most messages one pull may lease.
pub const MAX_PULL_MESSAGES: u32 = 100;
/// A pull's lease when the request names none: 30 s, as Cloudflare's.
pub const DEFAULT_VISIBILITY_MS: u64 = 30_000;
/// The longest lease a pull may take: 12 hours.
pub const MAX_VISIBILITY_MS: u64 = 12 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A send refused for its size or count: the message names which and
    /// says "Queue send failed: …" as Cloudflare's does.
    #[error("{0}")]
    TooLarge(String),
    /// A send refused for its delay, in the same form.
    #[error("{0}")]
    InvalidDelay(String),
    #[error("invalid queue name {name:?}: it {problem}")]
    InvalidName { name: String, problem: &'static str },
    #[error("invalid {field}: {problem}")]
    InvalidRequest { field: String, problem: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message as a worker sends it: the serialized body, its content type
/// (checked by JavaScript), and its own delay if it has one.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub body: Bytes,
    pub content_type: String,
    pub delay_seconds: Option<f64>,
}

/// One send: `send()` (one message) or `sendBatch()`, with the delays that
/// apply to messages without their own.
#[derive(Clone, Debug)]
pub struct Send {
    pub messages: Vec<Outgoing>,
    /// Whether it is a `sendBatch()`, for the error messages.
    pub batch: bool,
    /// `sendBatch(messages, { delaySeconds })`.
    pub batch_delay_seconds: Option<f64>,
    /// The producer binding's `delivery_delay`.
    pub default_delay_seconds: Option<u32>,
    /// The trace the send belongs to, kept with each message.
    pub traceparent: Option<String>,
}

/// A pull consumer's answer for one message: acknowledged, or retried
/// after `delay_seconds`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullAck {
    pub lease_id: String,
    pub retry_delay_seconds: Option<u32>,
}

/// The node's queues: sends, leases and settlements over the store.
pub struct Queues {
    store: Arc<dyn QueueStore>,
    clock: Clock,
    /// The node's main runtime, where sends do their store I/O.
    runtime: tokio::runtime::Handle,
}

impl Queues {
    /// Queues over `store`; must be called on the node's main runtime.
    pub fn new(store: Arc<dyn QueueStore>, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            store,
            clock,
            runtime: tokio::runtime::Handle::current(),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Creates a queue; false if it existed.
    pub async fn create(&self, name: &str) -> Result<bool, QueueError> {
        check_name(name)?;
        Ok(self.store.create_queue(name, self.now_ms()).await?)
    }

    pub async fn delete(&self, name: &str) -> Result<(), QueueError> {
        Ok(self.store.delete_queue(name).await?)
    }

    /// Every queue with its counts.
    pub async fn list(&self) -> Result<Vec<QueueInfo>, QueueError> {
        Ok(self.store.queues(self.now_ms(), None).await?)
    }

    /// One queue with its counts.
    pub async fn info(&self, name: &str) -> Result<QueueInfo, QueueError> {
        self.store
            .queues(self.now_ms(), Some(name))
            .await?
            .pop()
            .ok_or_else(|| StoreError::QueueNotFound(name.to_string()).into())
    }

    /// Deletes a queue's messages; returns how many.
    pub async fn purge(&self, name: &str) -> Result<u64, QueueError> {
        Ok(self.store.purge_queue(name).await?)
    }

    /// Names of queues that got messages.
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.store.queue_changes()
    }

    /// Checks a send against Cloudflare's limits and stores its messages,
    /// all or none; returns once they are durable.
    pub async fn send(&self, queue: &str, send: Send) -> Result<(), QueueError> {
        let now = self.now_ms();
        let call = if send.batch { "sendBatch" } else { "send" };
        let refused =
            |problem: String| QueueError::TooLarge(format!("Queue {call} failed: {problem}"));
        if send.batch && send.messages.len() > MAX_BATCH_MESSAGES {
            return Err(refused(format!(
                "batch message count of {} exceeds limit of {MAX_BATCH_MESSAGES}",
                send.messages.len()
            )));
        }
        let mut total = 0;
        let mut messages = Vec::with_capacity(send.messages.len());
        for message in send.messages {
            let size = message.body.len();
            if size > MAX_MESSAGE_BYTES {
                return Err(refused(if send.batch {
                    format!("message in batch has length {size} bytes which exceeds single message size limit of {MAX_MESSAGE_BYTES}")
                } else {
                    format!("message length of {size} bytes exceeds limit of {MAX_MESSAGE_BYTES}")
                }));
            }
            total += size;
            let delay = match message.delay_seconds.or(send.batch_delay_seconds) {
                Some(delay) => delay_ms(delay).ok_or_else(|| {
                    QueueError::InvalidDelay(format!(
                        "Queue {call} failed: message delay {delay} is invalid: it must be a whole number of seconds from 0 to {}",
                        QueueConsumer::MAX_DELAY_S
                    ))
                })?,
                None => i64::from(send.default_delay_seconds.unwrap_or(0)) * 1000,
            };
            messages.push(NewMessage {
                id: random_id(),
                body: message.body,
                content_type: message.content_type,
                sent_at_ms: now,
                ready_at_ms: now + delay,
                traceparent: send.traceparent.clone(),
            });
        }
        if send.batch && total > MAX_BATCH_BYTES {
            return Err(refused(format!(
                "batch size of {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        // Store I/O runs on the node's main runtime, whichever isolate
        // thread sends (as KV's does): a busy isolate thread must not
        // stall a connection other threads share.
        let (store, queue) = (self.store.clone(), queue.to_string());
        self.runtime
            .spawn(async move { store.send(&queue, messages).await })
            .await
            .map_err(|error| StoreError::Backend(error.to_string()))??;
        Ok(())
    }

    /// When each of the first `limit` messages becomes deliverable.
    pub async fn readiness(&self, queue: &str, limit: u32) -> Result<Vec<i64>, QueueError> {
        Ok(self.store.readiness(queue, limit).await?)
    }

    /// Leases up to `limit` deliverable messages for `lease_ms`; returns
    /// the lease's id with them.
    pub async fn lease(
        &self,
        queue: &str,
        limit: u32,
        lease_ms: u64,
    ) -> Result<(String, Vec<LeasedMessage>), QueueError> {
        let lease = random_id();
        let now = self.now_ms();
        let until = now.saturating_add(lease_ms as i64);
        let messages = self.store.lease(queue, limit, now, until, &lease).await?;
        Ok((lease, messages))
    }

    /// Settles a batch `consumer`'s handler was given (`handler_ok`: it
    /// returned without throwing), by its verdicts: a message to retry
    /// that used its last retry goes to the dead-letter queue, or is
    /// dropped when there is none. Returns what the store changed (a
    /// message whose lease ran out meanwhile is not counted).
    pub async fn settle_batch(
        &self,
        consumer: &QueueConsumer,
        lease: &str,
        messages: &[LeasedMessage],
        verdicts: &BatchVerdicts,
        handler_ok: bool,
    ) -> Result<Settled, QueueError> {
        let now = self.now_ms();
        let mut settlements = Vec::with_capacity(messages.len());
        for (index, message) in messages.iter().enumerate() {
            let settlement = match verdicts.outcome(index, handler_ok) {
                Verdict::Ack => Settlement::Ack,
                Verdict::Retry { .. } if message.attempts > consumer.retries() => {
                    match &consumer.dead_letter_queue {
                        Some(queue) => Settlement::DeadLetter {
                            queue: queue.clone(),
                        },
                        None => Settlement::Drop,
                    }
                }
                Verdict::Retry { delay_seconds } => {
                    let delay = delay_seconds.or(consumer.retry_delay).unwrap_or(0);
                    Settlement::Retry {
                        ready_at_ms: now + i64::from(delay) * 1000,
                    }
                }
            };
            settlements.push((message.id.clone(), settlement));
        }
        Ok(self
            .store
            .settle(&consumer.queue, lease, now, settlements)
            .await?)
    }

    /// A pull consumer's lease of up to `batch_size` messages for
    /// `visibility_ms`: each message with its own lease id.
    pub async fn pull(
        &self,
        queue: &str,
        batch_size: Option<u32>,
        visibility_ms: Option<u64>,
    ) -> Result<Vec<(String, LeasedMessage)>, QueueError> {
        let batch_size = batch_size.unwrap_or(5);
        if !(1..=MAX_PULL_MESSAGES).contains(&batch_size) {
            return Err(QueueError::InvalidRequest {
                field: "batch_size".into(),
                problem: format!("{batch_size} is not from 1 to {MAX_PULL_MESSAGES}"),
            });
        }
        let visibility = visibility_ms.unwrap_or(DEFAULT_VISIBILITY_MS);
        if !(1..=MAX_VISIBILITY_MS).contains(&visibility) {
            return Err(QueueError::InvalidRequest {
                field: "visibility_timeout_ms".into(),
                problem: format!("{visibility} is not from 1 to {MAX_VISIBILITY_MS}"),
            });
        }
        let (lease, messages) = self.lease(queue, batch_size, visibility).await?;
        // Pulling from a queue that does not exist is an error, not an
        // empty answer (asked only then: counting is not free).
        if messages.is_empty() {
            self.info(queue).await?;
        }
        Ok(messages
            .into_iter()
            .map(|message| (format!("{lease}{}", message.id), message))
            .collect())
    }

    /// A pull consumer's acknowledgements and retries, by lease id (a
    /// message whose lease ran out is left alone: it is delivered again).
    /// Returns what was changed.
    pub async fn acknowledge(
        &self,
        queue: &str,
        answers: &[PullAck],
    ) -> Result<Settled, QueueError> {
        let now = self.now_ms();
        let mut settled = Settled::default();
        let mut by_lease: std::collections::BTreeMap<&str, Vec<(String, Settlement)>> =
            Default::default();
        for answer in answers {
            let (lease, id) =
                split_lease_id(&answer.lease_id).ok_or_else(|| QueueError::InvalidRequest {
                    field: "lease_id".into(),
                    problem: format!("{:?} is not a lease id this node gave", answer.lease_id),
                })?;
            let settlement = match answer.retry_delay_seconds {
                None => Settlement::Ack,
                Some(delay) if delay <= QueueConsumer::MAX_DELAY_S => Settlement::Retry {
                    ready_at_ms: now + i64::from(delay) * 1000,
                },
                Some(delay) => {
                    return Err(QueueError::InvalidRequest {
                        field: "delay_seconds".into(),
                        problem: format!("{delay} is not from 0 to {}", QueueConsumer::MAX_DELAY_S),
                    })
                }
            };
            by_lease
                .entry(lease)
                .or_default()
                .push((id.to_string(), settlement));
        }
        for (lease, settlements) in by_lease {
            let done = self.store.settle(queue, lease, now, settlements).await?;
            settled.acked += done.acked;
            settled.retried += done.retried;
        }
        Ok(settled)
    }
}

fn check_name(name: &str) -> Result<(), QueueError> {
    ridge_core::names::validate_queue_name(name).map_err(|problem| QueueError::InvalidName {
        name: name.to_string(),
        problem,
    })
}

/// A delay given in seconds, in milliseconds, if it is a whole number of
/// seconds in range.
fn delay_ms(seconds: f64) -> Option<i64> {
    let in_range = (0.0..=f64::from(QueueConsumer::MAX_DELAY_S)).contains(&seconds);
    (in_range && seconds.fract() == 0.0).then(|| seconds as i64 * 1000)
}

/// 32 random hex digits: a message or lease id, as Cloudflare's look.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the system's random source");
    hex::encode(bytes)
}

/// A pull lease id: the lease's 32 hex digits, then the message's.
fn split_lease_id(lease_id: &str) -> Option<(&str, &str)> {
    let ok = lease_id.len() == 64 && lease_id.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| lease_id.split_at(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_whole_seconds_in_range() {
        assert_eq!(delay_ms(0.0), Some(0));
        assert_eq!(delay_ms(86_400.0), Some(86_400_000));
        assert_eq!(delay_ms(1.5), None);
        assert_eq!(delay_ms(-1.0), None);
        assert_eq!(delay_ms(86_401.0), None);
        assert_eq!(delay_ms(f64::NAN), None);
    }

    #[test]
    fn lease_ids_split_into_lease_and_message() {
        let (lease, id) = (random_id(), random_id());
        let joined = format!("{lease}{id}");
        assert_eq!(split_lease_id(&joined), Some((&lease[..], &id[..])));
        assert_eq!(split_lease_id("short"), None);
        assert_eq!(split_lease_id(&"z".repeat(64)), None);
    }
}
