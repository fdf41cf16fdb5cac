//! What the store keeps for Queues: the queues and their messages. A
//! message is leased to one consumer at a time: leasing sets its
//! `ready_at` to the lease's end, so a message is deliverable exactly when
//! `ready_at` has passed, whether it was just sent, delayed, retried, or
//! leased by a consumer that died. Semantics (limits, batching, verdicts)
//! live in ridge-queues; this is only persistence.

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use super::StoreError;

/// A message being sent, with its id and times already chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub id: String,
    pub body: Bytes,
    /// "text", "json", "bytes" or "v8": how `body` is decoded.
    pub content_type: String,
    /// Milliseconds since the Unix epoch.
    pub sent_at_ms: i64,
    /// When it may first be delivered (later than `sent_at_ms` when delayed).
    pub ready_at_ms: i64,
    /// The W3C `traceparent` of the send, when it was traced.
    pub traceparent: Option<String>,
}

/// A message leased to a consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct LeasedMessage {
    pub id: String,
    pub body: Bytes,
    pub content_type: String,
    pub sent_at_ms: i64,
    /// Deliveries so far, this one included (1 on the first).
    pub attempts: u32,
    pub traceparent: Option<String>,
}

/// What becomes of a leased message once its consumer is done with it.
#[derive(Clone, Debug, PartialEq)]
pub enum Settlement {
    /// Processed: deleted.
    Ack,
    /// Delivered again from `ready_at_ms` on.
    Retry { ready_at_ms: i64 },
    /// Moved to another queue (created if it does not exist), its
    /// attempts starting over.
    DeadLetter { queue: String },
    /// Deleted after its last retry, with no queue to move it to.
    Drop,
}

/// How many messages a settlement changed, by what became of them (a
/// message no longer under the lease is not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub acked: usize,
    pub retried: usize,
    pub dead_lettered: usize,
    pub dropped: usize,
}

/// A queue with its counts, as `ridge queues list` and `info` show it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QueueInfo {
    pub name: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// Messages not yet acknowledged (in flight and delayed included).
    pub backlog: i64,
    /// Messages leased to a consumer now.
    pub in_flight: i64,
    /// Messages that cannot be delivered yet (sent or retried with a delay).
    pub delayed: i64,
    /// When the oldest message of the backlog was sent (ms since the epoch).
    pub oldest_sent_at_ms: Option<i64>,
    /// Messages that failed their last retry: moved to the dead-letter
    /// queue or dropped.
    pub dead_lettered: i64,
}

#[async_trait::async_trait]
pub trait QueueStore: Send + Sync {
    /// Creates a queue; false if it existed already.
    async fn create_queue(&self, name: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Deletes a queue and its messages; `QueueNotFound` if there is none.
    async fn delete_queue(&self, name: &str) -> Result<(), StoreError>;
    /// Every queue (or only the one named `only`) with its counts at
    /// `now_ms`, by name.
    async fn queues(&self, now_ms: i64, only: Option<&str>) -> Result<Vec<QueueInfo>, StoreError>;
    /// Deletes every message of a queue; returns how many.
    async fn purge_queue(&self, name: &str) -> Result<u64, StoreError>;
    /// Adds messages to a queue in one transaction: all are stored, or
    /// none (`QueueNotFound` if the queue does not exist). Other nodes
    /// hear of it through [`QueueStore::queue_changes`].
    async fn send(&self, queue: &str, messages: Vec<NewMessage>) -> Result<(), StoreError>;
    /// When each of the first `limit` messages (by `ready_at`) becomes
    /// deliverable, earliest first: what a consumer decides to wait or
    /// lease by.
    async fn readiness(&self, queue: &str, limit: u32) -> Result<Vec<i64>, StoreError>;
    /// Leases up to `limit` deliverable messages (oldest first) under
    /// `lease` until `until_ms`, counting an attempt for each. Across
    /// nodes, a message is leased by one caller at a time.
    async fn lease(
        &self,
        queue: &str,
        limit: u32,
        now_ms: i64,
        until_ms: i64,
        lease: &str,
    ) -> Result<Vec<LeasedMessage>, StoreError>;
    /// Settles messages of `lease`; a message no longer under that lease
    /// (its lease ran out and another consumer took it) is left alone.
    /// Returns what was changed.
    async fn settle(
        &self,
        queue: &str,
        lease: &str,
        now_ms: i64,
        settlements: Vec<(String, Settlement)>,
    ) -> Result<Settled, StoreError>;
    /// Names of queues that got messages (on any node, for a shared store).
    fn queue_changes(&self) -> broadcast::Receiver<String>;
}
