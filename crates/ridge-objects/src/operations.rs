//! What operators do to the objects a node stores (`ridge do`, through
//! the admin API): list a class's objects, delete one. A deletion is also
//! announced to the isolates holding the worker's objects ([`Deletions`]),
//! which drop the instance and close the database they may hold open.
//! And what a node does to them as it stops: checkpoint every write-ahead
//! log, so that the next start does not replay them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::{AlarmOwner, ObjectStore, StorageError};

/// One stored object, as `ridge do list` shows it.
#[derive(Debug, serde::Serialize)]
pub struct StoredObject {
    pub id: String,
    /// Its database's size on disk (with its write-ahead log).
    pub bytes: u64,
    /// When its alarm is set for (ms since the Unix epoch), if it has one.
    pub alarm: Option<i64>,
}

/// The objects deleted while the node runs, numbered, for isolates to
/// catch up with.
#[derive(Default)]
pub struct Deletions {
    count: AtomicU64,
    deleted: Mutex<Vec<AlarmOwner>>,
}

impl Deletions {
    /// How many objects were deleted so far: an isolate that saw this many
    /// has nothing to catch up with.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// The objects of `worker` deleted after the first `seen`, and how many
    /// were deleted in all.
    pub fn since(&self, worker: &str, seen: u64) -> (u64, Vec<(String, String)>) {
        let deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner());
        let found = deleted
            .iter()
            .skip(seen as usize)
            .filter(|owner| owner.worker == worker)
            .map(|owner| (owner.class.clone(), owner.id.clone()))
            .collect();
        (deleted.len() as u64, found)
    }

    fn record(&self, owner: AlarmOwner) {
        let mut deleted = self.deleted.lock().unwrap_or_else(|p| p.into_inner());
        deleted.push(owner);
        self.count.store(deleted.len() as u64, Ordering::Release);
    }
}

impl ObjectStore {
    /// The objects of class `class` of worker `worker` stored here, by id.
    pub fn list(&self, worker: &str, class: &str) -> Result<Vec<StoredObject>, StorageError> {
        let Some(folder) = self.folder(worker, class)? else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StorageError::Folder {
                    path: folder,
                    source,
                })
            }
        };
        let mut objects = Vec::new();
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = file.strip_suffix(".sqlite") else {
                continue;
            };
            let size = |suffix: &str| {
                std::fs::metadata(folder.join(format!("{id}{suffix}"))).map_or(0, |m| m.len())
            };
            let owner = owner(worker, class, id);
            objects.push(StoredObject {
                id: id.to_string(),
                bytes: size(".sqlite") + size(".sqlite-wal"),
                alarm: self.alarms().get(&owner)?,
            });
        }
        objects.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(objects)
    }

    /// Deletes object `id` of class `class` of worker `worker`: its
    /// database and its alarm. False if nothing was stored for it.
    pub fn delete(&self, worker: &str, class: &str, id: &str) -> Result<bool, StorageError> {
        check_id(id)?;
        let Some(folder) = self.folder(worker, class)? else {
            return Ok(false);
        };
        let owner = owner(worker, class, id);
        let had_alarm = self.alarms().get(&owner)?.is_some();
        self.alarms().delete(&owner)?;
        let mut existed = had_alarm;
        for suffix in [".sqlite", ".sqlite-wal", ".sqlite-shm"] {
            let path = folder.join(format!("{id}{suffix}"));
            match std::fs::remove_file(&path) {
                Ok(()) => existed = true,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StorageError::Folder { path, source }),
            }
        }
        if existed {
            self.deletions().record(owner);
        }
        Ok(existed)
    }
}

impl ObjectStore {
    /// Moves every write-ahead log under the store (the objects' and the
    /// alarm table's) into its database and empties it (the isolates'
    /// connections stay open: the process is about to end). Otherwise the
    /// next open of a database whose log was left full replays it (about
    /// 5 ms for 10 MB). Returns how many logs were emptied.
    pub fn checkpoint_all(&self) -> usize {
        self.root.as_deref().map_or(0, checkpoint_under)
    }
}

/// Checkpoints the non-empty write-ahead logs under `folder`, at any depth.
fn checkpoint_under(folder: &std::path::Path) -> usize {
    let mut emptied = 0;
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            emptied += checkpoint_under(&path);
            continue;
        }
        let full = path.extension().is_some_and(|e| e == "sqlite-wal")
            && entry.metadata().is_ok_and(|m| m.len() > 0);
        if !full {
            continue;
        }
        let database = path.with_extension("sqlite");
        // Never a new file, and no wait on a database still being written
        // (its log is replayed at the next start instead).
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let busy = rusqlite::Connection::open_with_flags(&database, flags).and_then(|connection| {
            connection.busy_timeout(std::time::Duration::ZERO)?;
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            })
        });
        match busy {
            Ok(0) => emptied += 1,
            Ok(_) => {
                tracing::debug!(database = %database.display(), "still being written; not checkpointed")
            }
            Err(error) => {
                tracing::warn!(database = %database.display(), %error, "cannot checkpoint")
            }
        }
    }
    emptied
}

fn owner(worker: &str, class: &str, id: &str) -> AlarmOwner {
    AlarmOwner {
        worker: worker.to_string(),
        class: class.to_string(),
        id: id.to_string(),
    }
}

/// Ids are 64 lowercase hex digits (path-safe).
pub(crate) fn check_id(id: &str) -> Result<(), StorageError> {
    if id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StorageError::InvalidId)
    }
}
