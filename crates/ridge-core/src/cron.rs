//! Cron expressions as Cloudflare writes them (UTC, five fields) and when
//! one is due. The runner that fires them lives with the node.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
pub use croner::Cron;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("{expression:?} must have 5 fields (minute hour day-of-month month day-of-week), found {found}")]
    FieldCount { expression: String, found: usize },
    #[error("{expression:?} is not a valid cron expression: {problem}")]
    Invalid { expression: String, problem: String },
}

/// Parses a cron expression the way Cloudflare writes them: five fields
/// (minute hour day-of-month month day-of-week), with names (`MON`, `JAN`),
/// ranges, steps, lists, `L`, `W` and `#`.
pub fn parse(expression: &str) -> Result<Cron, CronError> {
    let found = expression.split_whitespace().count();
    if found != 5 {
        return Err(CronError::FieldCount {
            expression: expression.to_string(),
            found,
        });
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|error| CronError::Invalid {
            expression: expression.to_string(),
            problem: error.to_string(),
        })
}

/// The latest point of `cron`'s schedule in `(after, until]` (milliseconds
/// since the epoch), if any.
pub fn due(cron: &Cron, after: i64, until: i64) -> Option<i64> {
    let until_time = DateTime::<Utc>::from_timestamp_millis(until)?;
    let point = cron.find_previous_occurrence(&until_time, true).ok()?;
    // Whole seconds: croner keeps the milliseconds of the time it started from.
    let point = point.timestamp() * 1000;
    (point > after).then_some(point)
}

/// An expression with its fields separated by single spaces: one claim per
/// run however the expression is spaced (two versions may write it
/// differently during a rollout).
pub fn normalize(expression: &str) -> String {
    expression.split_whitespace().collect::<Vec<_>>().join(" ")
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
        assert!(parse("* * * *")
            .unwrap_err()
            .to_string()
            .contains("found 4"));
        assert!(parse("0 0 * * * *")
            .unwrap_err()
            .to_string()
            .contains("found 6"));
        assert!(parse("61 * * * *")
            .unwrap_err()
            .to_string()
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

    #[test]
    fn normalizes_spacing() {
        assert_eq!(normalize(" */5  *\t* * *"), "*/5 * * * *");
    }
}
