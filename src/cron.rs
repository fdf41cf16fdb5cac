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

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::clock::Clock;
use crate::server::EdgeHandler;
use crate::store::Store;

/// How often the runner looks for due crons.
const TICK: Duration = Duration::from_secs(1);

/// Parses a cron expression the way Cloudflare writes them: five fields
/// (minute hour day-of-month month day-of-week), with names (`MON`, `JAN`),
/// ranges, steps, lists, `L`, `W` and `#`.
pub fn parse(expression: &str) -> Result<Cron, String> {
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "{expression:?} must have 5 fields (minute hour day-of-month month day-of-week), found {fields}"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|error| format!("{expression:?} is not a valid cron expression: {error}"))
}

/// The latest point of `cron`'s schedule in `(after, until]`, if any.
fn due(cron: &Cron, after: i64, until: i64) -> Option<i64> {
    let until_time = DateTime::<Utc>::from_timestamp_millis(until)?;
    let point = cron.find_previous_occurrence(&until_time, true).ok()?;
    // Whole seconds: croner keeps the milliseconds of the time it started from.
    let point = point.timestamp() * 1000;
    (point > after).then_some(point)
}

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
                // One claim per run however the expression is spaced (two
                // versions may write it differently during a rollout).
                let expression = expression.split_whitespace().collect::<Vec<_>>().join(" ");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn parses_cloudflare_style_expressions() {
        for ok in [
            "*/5 * * * *",
            "0 12 * * MON-FRI",
            "15 3 L * *",
            "0 0 1 JAN,JUL *",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert!(parse("* * * *").unwrap_err().contains("found 4"));
        assert!(parse("0 0 * * * *").unwrap_err().contains("found 6"));
        assert!(parse("61 * * * *")
            .unwrap_err()
            .contains("not a valid cron expression"));
    }

    #[test]
    fn only_the_latest_missed_point_is_due() {
        let cron = parse("*/5 * * * *").unwrap();
        let start = ms("2026-11-22T10:01:00Z");
        assert_eq!(due(&cron, start, ms("2026-11-22T10:04:59Z")), None);
        assert_eq!(
            due(&cron, start, ms("2026-11-22T10:05:00Z")),
            Some(ms("2026-11-22T10:05:00Z"))
        );
        // An hour without a look: one run (the latest), not twelve.
        assert_eq!(
            due(&cron, start, ms("2026-11-22T11:02:00Z")),
            Some(ms("2026-11-22T11:00:00Z"))
        );
        // A point already run is not due again.
        assert_eq!(
            due(
                &cron,
                ms("2026-11-22T10:05:00Z"),
                ms("2026-11-22T10:06:00Z")
            ),
            None
        );
    }
}
