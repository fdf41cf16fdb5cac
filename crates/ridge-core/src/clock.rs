//! Wall-clock time for the parts of Ridge that act on dates: KV expiration
//! and cron triggers. Tests move it forward to see keys expire and crons
//! fire without waiting minutes: `RIDGE_TEST_CLOCK_OFFSET_FILE` names a file
//! holding seconds to add to the system clock, read at every call.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Names the test clock's offset file (see the module comment).
pub const OFFSET_FILE_ENV: &str = "RIDGE_TEST_CLOCK_OFFSET_FILE";

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_file: Option<PathBuf>,
}

impl Clock {
    /// The system clock, moved by the offset file if the environment names one.
    pub fn from_env() -> Self {
        Self {
            offset_file: std::env::var_os(OFFSET_FILE_ENV).map(PathBuf::from),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let offset_seconds = self
            .offset_file
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        unix_now_ms() + offset_seconds * 1000
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// Milliseconds since the Unix epoch, by the system clock.
pub fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, by the system clock.
pub fn unix_now() -> i64 {
    unix_now_ms().div_euclid(1000)
}
