//! Usage metering: per worker version and hour, the requests, CPU and wall
//! time, subrequests, KV operations and bytes in and out. Requests add to
//! counters in memory (a short lock, no I/O); a background task adds them to
//! the store's hourly rows every flush interval, where the counts of every
//! node meet. A failed flush keeps the counts for the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ridge_store::operations::UsageRow;
use ridge_store::Store;

type Pending = HashMap<(String, String, i64), UsageRow>;

/// The pending row of `worker`'s `version` for `hour`, created empty.
fn row<'a>(pending: &'a mut Pending, worker: &str, version: &str, hour: i64) -> &'a mut UsageRow {
    pending
        .entry((worker.to_string(), version.to_string(), hour))
        .or_insert_with(|| UsageRow {
            worker: worker.to_string(),
            version: version.to_string(),
            hour,
            ..Default::default()
        })
}

/// The counts of this node not yet flushed, by (worker, version, hour).
#[derive(Default)]
pub struct UsageMeter {
    pending: Mutex<Pending>,
    /// Off until a store to flush to is attached: a node without one
    /// keeps no usage.
    enabled: OnceLock<()>,
}

impl UsageMeter {
    /// Adds to the current hour's counts of `worker`'s `version`.
    pub fn record(&self, worker: &str, version: &str, count: impl FnOnce(&mut UsageRow)) {
        if self.enabled.get().is_none() {
            return;
        }
        let hour = ridge_core::clock::unix_now().div_euclid(3600) * 3600;
        let mut pending = self.pending.lock().expect("usage lock");
        count(row(&mut pending, worker, version, hour));
    }

    /// Adds the pending counts to the store; on failure they stay pending.
    pub async fn flush(&self, store: &dyn Store) {
        let rows: Vec<UsageRow> = {
            let mut pending = self.pending.lock().expect("usage lock");
            std::mem::take(&mut *pending).into_values().collect()
        };
        if rows.is_empty() {
            return;
        }
        if let Err(error) = store.add_usage(&rows).await {
            tracing::warn!(%error, rows = rows.len(), "cannot record usage; will retry");
            let mut pending = self.pending.lock().expect("usage lock");
            for unsent in &rows {
                row(&mut pending, &unsent.worker, &unsent.version, unsent.hour).add(unsent);
            }
        }
    }

    /// Starts recording, and flushing to `store` every `interval` until the
    /// returned task is aborted.
    pub fn start_flushing(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let _ = self.enabled.set(());
        let meter = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                meter.flush(store.as_ref()).await;
            }
        })
    }
}
