//! Cron triggers: `[triggers] crons` in `ridge.toml` run a worker's
//! `scheduled(event, env, ctx)` handler on schedule (UTC, five fields, as on
//! Cloudflare).
//!
//! Every node runs a [`CronRunner`]. Once a second it looks for schedule
//! points that have passed since its last look and runs the latest one per
//! cron: runs missed while a node was down are not made up, as on
//! Cloudflare. With a store, a run first claims its (worker, cron, time) row,
//! so each run happens once across all the nodes sharing the store.

use std::sync::Arc;
use std::time::Duration;

use ridge_core::clock::Clock;
use ridge_core::cron::{due, normalize, parse};
use ridge_server::EdgeHandler;
use ridge_store::Store;

/// How often the runner looks for due crons.
const TICK: Duration = Duration::from_secs(1);

/// Runs the crons of the workers a node serves (see the module comment).
pub struct CronRunner {
    handler: Arc<EdgeHandler>,
    /// Where runs are claimed; `None` on a node that shares nothing.
    claims: Option<Arc<dyn Store>>,
    clock: Clock,
}

impl CronRunner {
    pub fn new(handler: Arc<EdgeHandler>, claims: Option<Arc<dyn Store>>, clock: Clock) -> Self {
        Self {
            handler,
            claims,
            clock,
        }
    }

    /// Runs crons from now on, in the background.
    pub fn start(self) {
        tokio::spawn(async move {
            let mut checked = self.clock.now_ms();
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now = self.clock.now_ms();
                if now > checked {
                    self.run_due(checked, now);
                    checked = now;
                }
            }
        });
    }

    /// Starts the runs due in `(after, until]`.
    fn run_due(&self, after: i64, until: i64) {
        for worker in self.handler.workers() {
            for expression in &worker.crons {
                // Validated at deploy; a version from an older Ridge may not be.
                let cron = match parse(expression) {
                    Ok(cron) => cron,
                    Err(error) => {
                        tracing::warn!(worker = %worker.name, "{error}");
                        continue;
                    }
                };
                let Some(scheduled) = due(&cron, after, until) else {
                    continue;
                };
                let (handler, claims) = (self.handler.clone(), self.claims.clone());
                let worker = worker.clone();
                let expression = normalize(expression);
                tokio::spawn(async move {
                    if let Some(store) = claims {
                        match store
                            .claim_cron_run(&worker.name, &expression, scheduled)
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => return,
                            Err(error) => {
                                tracing::warn!(worker = %worker.name, cron = %expression, %error, "cannot claim a cron run; skipped");
                                return;
                            }
                        }
                    }
                    handler.run_scheduled(worker, &expression, scheduled).await;
                });
            }
        }
    }
}
