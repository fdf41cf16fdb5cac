//! Durable Object alarms: every node runs an [`AlarmRunner`] over its
//! objects' alarm table (ridge-objects `Alarms`). It sleeps until the next
//! alarm is due (or one is set), takes the due ones and runs each object's
//! `alarm()` handler as an event of that object; a failed run is retried
//! with back-off, and the table outlives the process, so alarms set before
//! a restart still run.

use std::sync::Arc;
use std::time::Duration;

use ridge_core::clock::unix_now_ms;
use ridge_ext::{AlarmEvent, ObjectAddress};
use ridge_objects::{AfterRun, Alarms, DueAlarm};
use ridge_server::EdgeHandler;

/// The longest the runner sleeps without looking again (a clock that
/// jumps, a failed read of the table).
const LONGEST_SLEEP: Duration = Duration::from_secs(60);
/// How long an alarm whose worker is not served waits before it is tried
/// again.
const NOT_SERVED_WAIT_MS: i64 = 60_000;

/// Runs the alarms of a node's Durable Objects (see the module comment).
pub struct AlarmRunner {
    handler: Arc<EdgeHandler>,
    alarms: Arc<Alarms>,
}

impl AlarmRunner {
    pub fn new(handler: Arc<EdgeHandler>, alarms: Arc<Alarms>) -> Self {
        Self { handler, alarms }
    }

    /// Runs alarms from now on, in the background.
    pub fn start(self) {
        tokio::spawn(async move {
            loop {
                let now = unix_now_ms();
                match self.alarms.take_due(now) {
                    Ok(due) => {
                        for alarm in due {
                            tokio::spawn(run(self.handler.clone(), self.alarms.clone(), alarm));
                        }
                    }
                    Err(error) => tracing::error!(%error, "cannot read the alarm table"),
                }
                let sleep = match self.alarms.next_due() {
                    Ok(Some(at)) => Duration::from_millis(at.saturating_sub(now).max(0) as u64),
                    Ok(None) => LONGEST_SLEEP,
                    Err(error) => {
                        tracing::error!(%error, "cannot read the alarm table");
                        LONGEST_SLEEP
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(sleep.min(LONGEST_SLEEP)) => {}
                    () = self.alarms.changed() => {}
                }
            }
        });
    }
}

/// Runs one due alarm and records how it went.
async fn run(handler: Arc<EdgeHandler>, alarms: Arc<Alarms>, alarm: DueAlarm) {
    let event = AlarmEvent {
        object: ObjectAddress {
            class: alarm.owner.class.clone(),
            id: alarm.owner.id.clone(),
            name: alarm.name.clone(),
        },
        scheduled_time_ms: alarm.time_ms,
        retry_count: alarm.retries,
    };
    let owner = &alarm.owner;
    let Some(outcome) = handler.run_alarm(&owner.worker, event).await else {
        // A worker being reloaded, or gone: its alarms wait without using
        // their retries.
        tracing::warn!(worker = %owner.worker, class = %owner.class, id = %owner.id, "the alarm's worker is not served here; it waits a minute");
        if let Err(error) = alarms.postpone(&alarm, unix_now_ms() + NOT_SERVED_WAIT_MS) {
            tracing::error!(worker = %owner.worker, %error, "cannot record an alarm run");
        }
        return;
    };
    match alarms.finish(&alarm, outcome.is_ok(), unix_now_ms()) {
        Ok(AfterRun::Done) => {}
        Ok(AfterRun::Retry(at)) => {
            let retry_in_ms = at - unix_now_ms();
            tracing::warn!(worker = %owner.worker, class = %owner.class, id = %owner.id, retry_in_ms, "the alarm failed; it runs again later");
        }
        Ok(AfterRun::GivenUp) => {
            tracing::error!(worker = %owner.worker, class = %owner.class, id = %owner.id, retries = ridge_objects::MAX_RETRIES, "the alarm failed after its last retry; it is deleted");
        }
        Err(error) => tracing::error!(worker = %owner.worker, %error, "cannot record an alarm run"),
    }
}
