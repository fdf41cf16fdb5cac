//! Durable Object alarms: at most one per object, kept in one table for the
//! whole node (`<root>/alarms.sqlite`), so the node's alarm runner finds
//! the next one due without opening every object's database. An alarm is
//! durable once `setAlarm()` returns (WAL, as object storage).
//!
//! A run takes its alarm ([`Alarms::take_due`]) and ends with
//! [`Alarms::finish`]: a success deletes it, a failure schedules a retry
//! with exponential back-off (2 s, 4 s, … as on Cloudflare) until
//! [`MAX_RETRIES`] retries failed. Each `setAlarm()` gives the alarm a new
//! version (never reused), so a run that ends never undoes a newer
//! `setAlarm()` or `deleteAlarm()` its handler made. Runs in progress are known only in
//! memory: after a crash, an alarm whose run was cut short runs again
//! (at least once, as on Cloudflare).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::StorageError;

/// Retries of a failing alarm before it is given up (Cloudflare's count).
pub const MAX_RETRIES: u32 = 6;
/// The first retry's delay; each next one doubles it.
const FIRST_RETRY_MS: i64 = 2_000;

/// Which object an alarm belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AlarmOwner {
    pub worker: String,
    pub class: String,
    pub id: String,
}

/// An alarm whose time came, taken by a run.
#[derive(Clone, Debug)]
pub struct DueAlarm {
    pub owner: AlarmOwner,
    /// The name the object's id was made from, if any (`ctx.id.name`).
    pub name: Option<String>,
    /// The time it was due (ms since the Unix epoch).
    pub time_ms: i64,
    /// Earlier runs of this alarm that failed.
    pub retries: u32,
    /// The version the run took; [`Alarms::finish`] acts only if it is
    /// still the alarm's.
    version: i64,
}

/// What became of an alarm after its run.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterRun {
    /// Done: deleted (or replaced by one the handler set).
    Done,
    /// Failed; it runs again at this time (ms since the Unix epoch).
    Retry(i64),
    /// Failed for the last time; deleted.
    GivenUp,
}

/// The alarms of a node's objects.
pub struct Alarms {
    inner: Mutex<Inner>,
    /// Woken when an alarm is set or a run ends: the runner's next wake-up
    /// may have moved earlier.
    changed: tokio::sync::Notify,
}

struct Inner {
    connection: Connection,
    /// Alarms being run, with the version each run took.
    running: HashMap<AlarmOwner, i64>,
    /// The version the next `setAlarm()` gets: versions are never reused
    /// (a deleted alarm set again is a new one), so that a run's end
    /// touches only the alarm it ran.
    next_version: i64,
}

impl Alarms {
    /// The alarm table in `folder` (created if missing); in memory if `None`.
    pub(crate) fn open(folder: Option<&Path>) -> Result<Self, StorageError> {
        let connection = match folder {
            None => Connection::open_in_memory()?,
            Some(folder) => crate::open_file(folder, "alarms.sqlite")?,
        };
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS alarms (
                worker TEXT NOT NULL,
                class TEXT NOT NULL,
                id TEXT NOT NULL,
                name TEXT,
                time_ms INTEGER NOT NULL,
                retries INTEGER NOT NULL DEFAULT 0,
                version INTEGER NOT NULL,
                PRIMARY KEY (worker, class, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS alarms_by_time ON alarms (time_ms);",
        )?;
        let next_version: i64 = connection.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM alarms",
            [],
            |row| row.get(0),
        )?;
        Ok(Self {
            inner: Mutex::new(Inner {
                connection,
                running: HashMap::new(),
                next_version,
            }),
            changed: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the table as SQLite left it:
        // still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets `owner`'s alarm to `time_ms` (replacing any), for an object
    /// whose id was made from `name`.
    pub fn set(
        &self,
        owner: &AlarmOwner,
        name: Option<&str>,
        time_ms: i64,
    ) -> Result<(), StorageError> {
        let mut inner = self.lock();
        let version = inner.next_version;
        inner.next_version += 1;
        inner.connection.execute(
            "INSERT INTO alarms (worker, class, id, name, time_ms, retries, version)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
             ON CONFLICT (worker, class, id) DO UPDATE
             SET name = excluded.name, time_ms = excluded.time_ms, retries = 0, version = excluded.version",
            params![owner.worker, owner.class, owner.id, name, time_ms, version],
        )?;
        drop(inner);
        self.changed.notify_one();
        Ok(())
    }

    /// `owner`'s alarm time, if it has one that is not running now (an
    /// alarm handler sees none of its own, as on Cloudflare).
    pub fn get(&self, owner: &AlarmOwner) -> Result<Option<i64>, StorageError> {
        let inner = self.lock();
        let found: Option<(i64, i64)> = inner
            .connection
            .query_row(
                "SELECT time_ms, version FROM alarms WHERE worker = ?1 AND class = ?2 AND id = ?3",
                params![owner.worker, owner.class, owner.id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(found.and_then(|(time, version)| {
            (inner.running.get(owner) != Some(&version)).then_some(time)
        }))
    }

    /// Deletes `owner`'s alarm, if it has one.
    pub fn delete(&self, owner: &AlarmOwner) -> Result<(), StorageError> {
        self.lock().connection.execute(
            "DELETE FROM alarms WHERE worker = ?1 AND class = ?2 AND id = ?3",
            params![owner.worker, owner.class, owner.id],
        )?;
        Ok(())
    }

    /// Deletes every alarm of `worker` (the worker was deleted).
    pub fn delete_worker(&self, worker: &str) -> Result<(), StorageError> {
        self.lock()
            .connection
            .execute("DELETE FROM alarms WHERE worker = ?1", [worker])?;
        Ok(())
    }

    /// Takes the alarms due by `now_ms` whose objects run no alarm now.
    pub fn take_due(&self, now_ms: i64) -> Result<Vec<DueAlarm>, StorageError> {
        let mut inner = self.lock();
        let due: Vec<DueAlarm> = inner
            .connection
            .prepare_cached(
                "SELECT worker, class, id, name, time_ms, retries, version FROM alarms WHERE time_ms <= ?1",
            )?
            .query_map([now_ms], |row| {
                Ok(DueAlarm {
                    owner: AlarmOwner {
                        worker: row.get(0)?,
                        class: row.get(1)?,
                        id: row.get(2)?,
                    },
                    name: row.get(3)?,
                    time_ms: row.get(4)?,
                    retries: row.get(5)?,
                    version: row.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let due: Vec<DueAlarm> = due
            .into_iter()
            .filter(|alarm| !inner.running.contains_key(&alarm.owner))
            .collect();
        for alarm in &due {
            inner.running.insert(alarm.owner.clone(), alarm.version);
        }
        Ok(due)
    }

    /// When the next alarm not running now is due (ms since the Unix
    /// epoch), if any.
    pub fn next_due(&self) -> Result<Option<i64>, StorageError> {
        let inner = self.lock();
        let mut statement = inner
            .connection
            .prepare_cached("SELECT worker, class, id, time_ms FROM alarms ORDER BY time_ms")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let owner = AlarmOwner {
                worker: row.get(0)?,
                class: row.get(1)?,
                id: row.get(2)?,
            };
            if !inner.running.contains_key(&owner) {
                return Ok(Some(row.get(3)?));
            }
        }
        Ok(None)
    }

    /// Ends `alarm`'s run without counting it (its worker is not served
    /// here now): it runs again at `at_ms`, its retries unchanged.
    pub fn postpone(&self, alarm: &DueAlarm, at_ms: i64) -> Result<(), StorageError> {
        let mut inner = self.lock();
        inner.running.remove(&alarm.owner);
        inner.connection.execute(
            "UPDATE alarms SET time_ms = ?5 WHERE worker = ?1 AND class = ?2 AND id = ?3 AND version = ?4",
            params![
                alarm.owner.worker,
                alarm.owner.class,
                alarm.owner.id,
                alarm.version,
                at_ms
            ],
        )?;
        drop(inner);
        self.changed.notify_one();
        Ok(())
    }

    /// Ends `alarm`'s run, which succeeded or not, at `now_ms`.
    pub fn finish(
        &self,
        alarm: &DueAlarm,
        succeeded: bool,
        now_ms: i64,
    ) -> Result<AfterRun, StorageError> {
        let mut inner = self.lock();
        inner.running.remove(&alarm.owner);
        let key = params![
            alarm.owner.worker,
            alarm.owner.class,
            alarm.owner.id,
            alarm.version
        ];
        let after = if succeeded || alarm.retries >= MAX_RETRIES {
            inner.connection.execute(
                "DELETE FROM alarms WHERE worker = ?1 AND class = ?2 AND id = ?3 AND version = ?4",
                key,
            )?;
            if succeeded {
                AfterRun::Done
            } else {
                AfterRun::GivenUp
            }
        } else {
            let at = now_ms + (FIRST_RETRY_MS << alarm.retries);
            let changed = inner.connection.execute(
                "UPDATE alarms SET time_ms = ?5, retries = retries + 1
                 WHERE worker = ?1 AND class = ?2 AND id = ?3 AND version = ?4",
                params![
                    alarm.owner.worker,
                    alarm.owner.class,
                    alarm.owner.id,
                    alarm.version,
                    at
                ],
            )?;
            // The handler set or deleted the alarm before it failed: that
            // stands, and nothing is retried.
            if changed == 0 {
                AfterRun::Done
            } else {
                AfterRun::Retry(at)
            }
        };
        drop(inner);
        self.changed.notify_one();
        Ok(after)
    }

    /// Waits until an alarm is set or a run ends.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(id: &str) -> AlarmOwner {
        AlarmOwner {
            worker: "w".into(),
            class: "C".into(),
            id: id.into(),
        }
    }

    #[test]
    fn runs_retries_and_newer_alarms() {
        let alarms = Alarms::open(None).unwrap();
        alarms.set(&owner("a"), Some("a"), 100).unwrap();
        alarms.set(&owner("b"), None, 300).unwrap();
        assert_eq!(alarms.next_due().unwrap(), Some(100));
        assert!(alarms.take_due(50).unwrap().is_empty());

        // A running alarm is not taken twice, nor shown to its handler.
        let due = alarms.take_due(150).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].name.as_deref(), Some("a"));
        assert!(alarms.take_due(150).unwrap().is_empty());
        assert_eq!(alarms.get(&owner("a")).unwrap(), None);
        assert_eq!(alarms.next_due().unwrap(), Some(300));

        // A failure retries after 2 s, then 4 s.
        assert_eq!(
            alarms.finish(&due[0], false, 1_000).unwrap(),
            AfterRun::Retry(3_000)
        );
        assert_eq!(alarms.get(&owner("a")).unwrap(), Some(3_000));
        let due = alarms.take_due(3_000).unwrap();
        assert_eq!(due.len(), 2);
        let a = due.iter().find(|alarm| alarm.owner.id == "a").unwrap();
        assert_eq!(a.retries, 1);
        assert_eq!(
            alarms.finish(a, false, 3_000).unwrap(),
            AfterRun::Retry(7_000)
        );

        // A handler that sets a new alarm keeps it, whatever its run does.
        let b = due.iter().find(|alarm| alarm.owner.id == "b").unwrap();
        alarms.set(&owner("b"), None, 9_000).unwrap();
        assert_eq!(alarms.get(&owner("b")).unwrap(), Some(9_000));
        assert_eq!(alarms.finish(b, true, 3_000).unwrap(), AfterRun::Done);
        assert_eq!(alarms.get(&owner("b")).unwrap(), Some(9_000));
    }

    #[test]
    fn an_alarm_deleted_and_set_again_during_its_run_stays() {
        let alarms = Alarms::open(None).unwrap();
        alarms.set(&owner("a"), None, 0).unwrap();
        let due = alarms.take_due(0).unwrap();
        alarms.delete(&owner("a")).unwrap();
        alarms.set(&owner("a"), None, 5_000).unwrap();
        assert_eq!(alarms.get(&owner("a")).unwrap(), Some(5_000));
        assert_eq!(alarms.finish(&due[0], true, 10).unwrap(), AfterRun::Done);
        assert_eq!(alarms.get(&owner("a")).unwrap(), Some(5_000));
        let due = alarms.take_due(5_000).unwrap();
        alarms.postpone(&due[0], 60_000).unwrap();
        assert_eq!(alarms.get(&owner("a")).unwrap(), Some(60_000));
        assert_eq!(alarms.take_due(60_000).unwrap()[0].retries, 0);
    }

    #[test]
    fn gives_up_after_the_last_retry() {
        let alarms = Alarms::open(None).unwrap();
        alarms.set(&owner("a"), None, 0).unwrap();
        let mut now = 0;
        for retry in 0..MAX_RETRIES {
            let due = alarms.take_due(now).unwrap();
            assert_eq!(due[0].retries, retry);
            match alarms.finish(&due[0], false, now).unwrap() {
                AfterRun::Retry(at) => now = at,
                other => panic!("retry {retry}: {other:?}"),
            }
        }
        let due = alarms.take_due(now).unwrap();
        assert_eq!(
            alarms.finish(&due[0], false, now).unwrap(),
            AfterRun::GivenUp
        );
        assert_eq!(alarms.next_due().unwrap(), None);
        assert_eq!(alarms.get(&owner("a")).unwrap(), None);
    }
}
