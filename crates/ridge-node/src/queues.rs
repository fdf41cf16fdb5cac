//! Queue consumers: every node runs a [`QueueRunner`] for the consumers
//! of the workers it serves. For each consumed queue it leases a batch
//! once `max_batch_size` messages are deliverable, or once the oldest
//! deliverable one has waited `max_batch_timeout`, and runs the worker's
//! `queue()` handler on it, up to `max_concurrency` batches at once. When
//! the handler is done, each message is acknowledged, retried later, or
//! (after its last retry) moved to the dead-letter queue or dropped, as
//! its verdicts say (ridge-queues).
//!
//! The runner looks again when a message is sent (on any node sharing the
//! store), when a batch ends, when a delayed message or a partial batch
//! comes due, and at least once a second (a lease that ran out because
//! its node died makes messages deliverable without a notice).
//! Messages are leased for the worker's wall-clock limit and a margin,
//! so a message is with one consumer at a time across the nodes: a lease
//! ends only if its consumer could not settle it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ridge_core::queue::BatchVerdicts;
use ridge_core::QueueConsumer;
use ridge_ext::queues::{DeliveredMessage, QueueBatch};
use ridge_queues::Queues;
use ridge_runtime::observe::metrics::QueueLabels;
use ridge_runtime::observe::Observers;
use ridge_runtime::worker::WorkerVersion;
use ridge_server::EdgeHandler;
use ridge_store::queues::LeasedMessage;
use tokio::sync::Notify;

/// The longest the runner waits without looking again.
const LONGEST_WAIT_MS: i64 = 1000;
/// How long a lease outlasts the worker's wall-clock limit: time to
/// settle the batch after the handler is stopped.
const LEASE_MARGIN_MS: u64 = 5_000;
/// How often the queue gauges (backlog, in flight, oldest) are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(5);

/// Runs the queue consumers of a node's workers (see the module comment).
pub struct QueueRunner {
    handler: Arc<EdgeHandler>,
    queues: Arc<Queues>,
    observers: Observers,
    /// Batches running, by queue.
    running: Arc<Mutex<HashMap<String, u32>>>,
    /// Told when a batch ends.
    finished: Arc<Notify>,
    /// The queues the gauges were last set for.
    gauged: Mutex<Vec<String>>,
}

impl QueueRunner {
    pub fn new(handler: Arc<EdgeHandler>, queues: Arc<Queues>, observers: Observers) -> Self {
        Self {
            handler,
            queues,
            observers,
            running: Arc::default(),
            finished: Arc::default(),
            gauged: Mutex::default(),
        }
    }

    /// Consumes from now on, in the background.
    pub fn start(self) {
        tokio::spawn(async move {
            let mut sent = self.queues.changes();
            let mut gauges = tokio::time::interval(GAUGES_EVERY);
            loop {
                let now = self.queues.now_ms();
                let next = self.start_due().await.unwrap_or(i64::MAX);
                let wait = next.saturating_sub(now).clamp(0, LONGEST_WAIT_MS) as u64;
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                    // A send, or notices lost (lagged): look again either way.
                    _ = sent.recv() => {}
                    () = self.finished.notified() => {}
                    _ = gauges.tick() => self.refresh_gauges().await,
                }
            }
        });
    }

    /// Starts every batch that is due; returns when the runner should look
    /// again at the latest (ms since the epoch), if something is waiting.
    async fn start_due(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        for worker in self.handler.workers() {
            for consumer in &worker.queue_consumers {
                if let Some(at) = self.fill(&worker, consumer).await {
                    next = Some(next.map_or(at, |next| next.min(at)));
                }
            }
        }
        next
    }

    /// Starts batches of `consumer`'s queue while they are due and its
    /// concurrency allows; returns when the next one comes due.
    async fn fill(&self, worker: &Arc<WorkerVersion>, consumer: &QueueConsumer) -> Option<i64> {
        let queue = &consumer.queue;
        let size = consumer.batch_size();
        loop {
            if self.running(queue) >= consumer.concurrency() {
                return None;
            }
            let readiness = match self.queues.readiness(queue, size).await {
                Ok(readiness) => readiness,
                Err(error) => {
                    tracing::error!(%queue, %error, "cannot read the queue");
                    return None;
                }
            };
            let now = self.queues.now_ms();
            let ready = readiness.iter().take_while(|at| **at <= now).count();
            let first = *readiness.first()?;
            if ready == 0 {
                return Some(first);
            }
            // A partial batch waits until its oldest message has waited
            // the batch timeout.
            let due = first.saturating_add(consumer.batch_timeout_ms());
            if ready < size as usize && due > now {
                return Some(due);
            }
            let lease_ms = worker.limits.wall_ms + LEASE_MARGIN_MS;
            let (lease, messages) = match self.queues.lease(queue, size, lease_ms).await {
                Ok(leased) => leased,
                Err(error) => {
                    tracing::error!(%queue, %error, "cannot lease messages");
                    return None;
                }
            };
            if messages.is_empty() {
                // Another node is leasing them: look again shortly.
                return Some(now + 50);
            }
            // Counted under the lock: batches end while this one was leased.
            *self
                .running
                .lock()
                .expect("running batches")
                .entry(queue.clone())
                .or_default() += 1;
            let batch = Batch {
                handler: self.handler.clone(),
                queues: self.queues.clone(),
                observers: self.observers.clone(),
                worker: worker.clone(),
                consumer: consumer.clone(),
                lease,
                messages,
            };
            let (running, finished) = (self.running.clone(), self.finished.clone());
            tokio::spawn(async move {
                let queue = batch.consumer.queue.clone();
                batch.run().await;
                if let Some(count) = running.lock().expect("running batches").get_mut(&queue) {
                    *count = count.saturating_sub(1);
                }
                finished.notify_one();
            });
        }
    }

    fn running(&self, queue: &str) -> u32 {
        let running = self.running.lock().expect("running batches");
        running.get(queue).copied().unwrap_or(0)
    }

    /// Sets each queue's backlog, in-flight and oldest-message gauges, and
    /// drops those of queues deleted since.
    async fn refresh_gauges(&self) {
        let Ok(queues) = self.queues.list().await else {
            return;
        };
        let metrics = &self.observers.metrics;
        let names: Vec<String> = queues.iter().map(|queue| queue.name.clone()).collect();
        let previous = std::mem::replace(&mut *self.gauged.lock().expect("gauged"), names);
        for gone in previous
            .into_iter()
            .filter(|name| !queues.iter().any(|q| &q.name == name))
        {
            let labels = QueueLabels { queue: gone };
            metrics.queue_backlog.remove(&labels);
            metrics.queue_in_flight.remove(&labels);
            metrics.queue_oldest_age.remove(&labels);
        }
        let now = self.queues.now_ms();
        for queue in queues {
            let labels = QueueLabels {
                queue: queue.name.clone(),
            };
            metrics
                .queue_backlog
                .get_or_create(&labels)
                .set(queue.backlog);
            metrics
                .queue_in_flight
                .get_or_create(&labels)
                .set(queue.in_flight);
            let age = queue
                .oldest_sent_at_ms
                .map_or(0, |sent| (now - sent) / 1000);
            metrics.queue_oldest_age.get_or_create(&labels).set(age);
        }
    }
}

/// One leased batch on its way through a worker's `queue()` handler.
struct Batch {
    handler: Arc<EdgeHandler>,
    queues: Arc<Queues>,
    observers: Observers,
    worker: Arc<WorkerVersion>,
    consumer: QueueConsumer,
    lease: String,
    messages: Vec<LeasedMessage>,
}

impl Batch {
    /// Runs the handler, then settles every message by its verdicts.
    async fn run(self) {
        let verdicts = Arc::new(Mutex::new(BatchVerdicts::new(self.messages.len())));
        let batch = QueueBatch {
            queue: self.consumer.queue.clone(),
            messages: self
                .messages
                .iter()
                .map(|message| DeliveredMessage {
                    id: message.id.clone(),
                    timestamp_ms: message.sent_at_ms,
                    content_type: message.content_type.clone(),
                    body: message.body.clone(),
                    attempts: message.attempts,
                })
                .collect(),
            verdicts: verdicts.clone(),
            traceparent: self.messages.first().and_then(|m| m.traceparent.clone()),
        };
        let delivered = self.messages.len() as i64;
        self.observers
            .usage
            .record(&self.worker.name, &self.worker.version_id, |row| {
                row.queue_messages += delivered
            });
        let outcome = self.handler.run_queue_batch(&self.worker, batch).await;
        let verdicts = verdicts.lock().expect("verdicts").clone();
        let queue = &self.consumer.queue;
        let worker = &self.worker.name;
        let settled = self
            .queues
            .settle_batch(
                &self.consumer,
                &self.lease,
                &self.messages,
                &verdicts,
                outcome.is_ok(),
            )
            .await;
        let settled = match settled {
            Ok(settled) => settled,
            Err(error) => {
                tracing::error!(%worker, %queue, %error, "cannot settle a batch; its messages are delivered again when their lease ends");
                return;
            }
        };
        let metrics = &self.observers.metrics;
        metrics.queue_messages(queue, "acked", settled.acked as u64);
        metrics.queue_messages(queue, "retried", settled.retried as u64);
        metrics.queue_messages(queue, "dead_lettered", settled.dead_lettered as u64);
        metrics.queue_messages(queue, "dropped", settled.dropped as u64);
        let attempts = self.consumer.retries() + 1;
        if let Some(dead_letter_queue) = &self.consumer.dead_letter_queue {
            if settled.dead_lettered > 0 {
                tracing::warn!(%worker, %queue, %dead_letter_queue, messages = settled.dead_lettered, "messages moved to the dead-letter queue after {attempts} failed attempts");
            }
        }
        if settled.dropped > 0 {
            tracing::error!(%worker, %queue, messages = settled.dropped, "messages dropped after {attempts} failed attempts (the consumer has no dead_letter_queue)");
        }
    }
}
