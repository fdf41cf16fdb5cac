//! Live tail: every finished request of a worker, with its console output
//! and uncaught exceptions, streamed to the clients watching that worker
//! (`ridge tail`, through the admin API).
//!
//! A tail must never slow the worker down: each watcher has a bounded
//! buffer, events that do not fit are dropped and counted, and the watcher
//! is told how many it missed once it catches up.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use prometheus_client::metrics::counter::Counter;

/// Events buffered per watcher before new ones are dropped.
pub const TAIL_BUFFER: usize = 256;

/// One console line a worker wrote while handling a request.
#[derive(Clone, Debug, Serialize)]
pub struct TailLog {
    /// "debug", "log", "warn" or "error".
    pub level: &'static str,
    pub message: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// A Durable Object, as tail events name it.
#[derive(Debug, Serialize)]
pub struct TailObject<'a> {
    pub class: &'a str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

/// What a watcher receives for each finished request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TailEvent<'a> {
    /// Always "event" (tail streams also carry "connected" and "dropped").
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub worker: &'a str,
    pub version: &'a str,
    /// Milliseconds since the Unix epoch, when the request arrived.
    pub event_timestamp: i64,
    /// "fetch", "scheduled", "rpc", "alarm", "websocket" (a
    /// hibernatable WebSocket's message or close) or "queue".
    pub event_type: &'static str,
    /// A fetch's method and URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    /// A scheduled run's cron expression and schedule point (milliseconds
    /// since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<i64>,
    /// An RPC call's method (Cloudflare's `rpcMethod`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_method: Option<&'a str>,
    /// The Durable Object an RPC call, alarm or WebSocket event ran on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<TailObject<'a>>,
    /// A queue batch's queue and size (workerd's `queue`, `batchSize`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Who called, over a service binding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<&'a str>,
    /// A fetch's response status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// "ok", "exception", "exceeded CPU", …
    pub outcome: &'a str,
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub subrequests: u32,
    pub logs: &'a [TailLog],
    pub exceptions: &'a [String],
}

/// What a watcher asked to see.
#[derive(Clone, Debug, Default)]
pub struct TailFilter {
    /// `Some(true)`: only successful requests; `Some(false)`: only failed
    /// ones (an exception, a limit, or a 5xx status).
    pub ok: Option<bool>,
    /// Only these methods (uppercase); empty: all.
    pub methods: Vec<String>,
    /// Only requests whose URL, logs or exceptions contain this text.
    pub search: Option<String>,
    /// The share of matching requests to send, from 0 to 1.
    pub sampling_rate: f64,
}

impl TailFilter {
    fn accepts(&self, event: &TailEvent<'_>, request_id: u64) -> bool {
        let failed = event.outcome != "ok" || event.status.is_some_and(|status| status >= 500);
        if self.ok.is_some_and(|ok| ok == failed) {
            return false;
        }
        if !self.methods.is_empty()
            && !self
                .methods
                .iter()
                .any(|m| Some(m.as_str()) == event.method)
        {
            return false;
        }
        if let Some(text) = &self.search {
            let found = event.url.is_some_and(|url| url.contains(text.as_str()))
                || event.logs.iter().any(|l| l.message.contains(text.as_str()))
                || event.exceptions.iter().any(|e| e.contains(text.as_str()));
            if !found {
                return false;
            }
        }
        if self.sampling_rate < 1.0 {
            // Spread by request number, so that sampling is even and cheap.
            let mut hasher = DefaultHasher::new();
            request_id.hash(&mut hasher);
            let draw = hasher.finish() as f64 / u64::MAX as f64;
            return draw < self.sampling_rate;
        }
        true
    }
}

struct Watcher {
    filter: TailFilter,
    events: mpsc::Sender<Bytes>,
    dropped: Arc<AtomicU64>,
}

/// The watchers of every worker on this node.
pub struct TailHub {
    watchers: RwLock<HashMap<String, Vec<Watcher>>>,
    /// Counts events dropped for watchers that could not keep up.
    dropped: Counter,
}

/// A watcher's side: events as JSON lines, and how many were dropped.
pub struct TailSubscription {
    pub events: mpsc::Receiver<Bytes>,
    pub dropped: Arc<AtomicU64>,
}

impl TailHub {
    /// A hub with no watchers; drops are counted in `dropped`.
    pub fn new(dropped: Counter) -> Self {
        Self {
            watchers: RwLock::default(),
            dropped,
        }
    }

    /// Starts watching `worker`; dropping the subscription stops it.
    pub fn subscribe(&self, worker: &str, filter: TailFilter) -> TailSubscription {
        let (events, receiver) = mpsc::channel(TAIL_BUFFER);
        let dropped = Arc::new(AtomicU64::new(0));
        self.watchers
            .write()
            .expect("tail lock")
            .entry(worker.to_string())
            .or_default()
            .push(Watcher {
                filter,
                events,
                dropped: dropped.clone(),
            });
        TailSubscription {
            events: receiver,
            dropped,
        }
    }

    /// Whether anyone watches `worker` (console output is only kept then).
    pub fn is_watched(&self, worker: &str) -> bool {
        self.watchers
            .read()
            .expect("tail lock")
            .get(worker)
            .is_some_and(|w| !w.is_empty())
    }

    /// Sends `event` to the watchers of its worker that want it.
    pub fn publish(&self, event: &TailEvent<'_>, request_id: u64) {
        let mut gone = false;
        {
            let watchers = self.watchers.read().expect("tail lock");
            let Some(watchers) = watchers.get(event.worker) else {
                return;
            };
            let mut line: Option<Bytes> = None;
            for watcher in watchers {
                if !watcher.filter.accepts(event, request_id) {
                    continue;
                }
                let line = line.get_or_insert_with(|| {
                    let mut json = serde_json::to_vec(event).expect("tail event serializes");
                    json.push(b'\n');
                    Bytes::from(json)
                });
                match watcher.events.try_send(line.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        watcher.dropped.fetch_add(1, Ordering::Relaxed);
                        self.dropped.inc();
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
                }
            }
        }
        if gone {
            self.prune(event.worker);
        }
    }

    /// Forgets the watchers of `worker` whose clients went away.
    pub fn prune(&self, worker: &str) {
        let mut watchers = self.watchers.write().expect("tail lock");
        if let Some(list) = watchers.get_mut(worker) {
            list.retain(|w| !w.events.is_closed());
            if list.is_empty() {
                watchers.remove(worker);
            }
        }
    }
}
