//! Durable Object storage: each object has a SQLite database of its own
//! (a file under the node's data folder, or memory), which its code reads
//! and writes synchronously, so that no other event reaches the object
//! while a storage operation runs. The SQL API (`ctx.storage.sql`) runs on
//! it as written; the key-value API keeps V8-serialized values in a table
//! of its own, `_cf_KV`, as Cloudflare's SQLite-backed objects do. Alarms
//! are kept apart, in one table for the node (`alarms.rs`).

mod alarms;
mod operations;

pub use alarms::{AfterRun, AlarmOwner, Alarms, DueAlarm, MAX_RETRIES};
pub use operations::{Deletions, StoredObject};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection, OptionalExtension};

/// Largest key of the key-value API, in bytes (Cloudflare's limit).
pub const MAX_KEY_BYTES: usize = 2048;
/// Largest value of the key-value API, in bytes (Cloudflare's limit for
/// SQLite-backed objects).
pub const MAX_VALUE_BYTES: usize = 2 * 1024 * 1024;
/// Keys one `get`, `put` or `delete` may name (Cloudflare's limit).
pub const MAX_KEYS: usize = 128;
/// How long one `sql.exec()` may run: it runs inside an op, where the CPU
/// watchdog cannot stop it, so SQLite interrupts it itself.
pub const MAX_EXEC_TIME: Duration = Duration::from_secs(2);
/// Bytes of rows one `sql.exec()` may return (they are held outside the
/// isolate's heap until JS takes them).
pub const MAX_RESULT_BYTES: usize = 32 * 1024 * 1024;
/// Pragmas the SQL API may run: reads of the schema, as on Cloudflare.
const ALLOWED_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
];

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{}", sqlite_message(.0))]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Keys cannot be larger than {MAX_KEY_BYTES} bytes (this one is {0} bytes).")]
    KeyTooLarge(usize),
    #[error("Values cannot be larger than {MAX_VALUE_BYTES} bytes (this one is {0} bytes).")]
    ValueTooLarge(usize),
    #[error("A single operation may name at most {MAX_KEYS} keys ({0} given).")]
    TooManyKeys(usize),
    #[error("Durable Object ids are 64 hexadecimal digits")]
    InvalidId,
    #[error("invalid Durable Object class name {0:?}")]
    InvalidClass(String),
    #[error("invalid worker name {0:?}")]
    InvalidWorker(String),
    #[error("The SQL query ran for more than {} s and was interrupted.", MAX_EXEC_TIME.as_secs())]
    TooSlow,
    #[error("The SQL query's results are larger than {} MiB.", MAX_RESULT_BYTES >> 20)]
    ResultTooLarge,
    #[error("To execute a transaction, please use the state.storage.transaction() or state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements. The JavaScript API is safer because it will automatically roll back on exceptions, and because it interacts correctly with Durable Objects' automatic atomic write coalescing.")]
    TransactionStatement,
}

/// The savepoints Ridge itself opens around an object's writes: one for
/// the writes of a turn of its event loop (so that they commit together,
/// as Cloudflare's write coalescing does), and one per `transaction()`
/// (which nests). The worker's own SQL may not open or end any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Savepoint {
    BeginTurn,
    CommitTurn,
    BeginTransaction,
    CommitTransaction,
    RollBackTransaction,
}

impl Savepoint {
    fn statement(self) -> &'static str {
        match self {
            Savepoint::BeginTurn => "SAVEPOINT ridge_turn",
            Savepoint::CommitTurn => "RELEASE ridge_turn",
            Savepoint::BeginTransaction => "SAVEPOINT ridge_transaction",
            Savepoint::CommitTransaction => "RELEASE ridge_transaction",
            Savepoint::RollBackTransaction => {
                "ROLLBACK TO ridge_transaction; RELEASE ridge_transaction"
            }
        }
    }
}

/// SQLite's message for a statement it refused, worded as workerd words
/// it: the message, where in the statement, and the result code's name
/// ("no such column: x at offset 7: SQLITE_ERROR").
fn sqlite_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqlInputError {
            error, msg, offset, ..
        } => format!("{msg} at offset {offset}: {}", code_name(error)),
        rusqlite::Error::SqliteFailure(error, Some(msg)) => format!("{msg}: {}", code_name(error)),
        rusqlite::Error::InvalidParameterCount(..) => {
            "Wrong number of parameter bindings for SQL query.".into()
        }
        error => error.to_string(),
    }
}

/// The name of an error's primary result code (`SQLITE_ERROR`, …).
fn code_name(error: &rusqlite::ffi::Error) -> &'static str {
    const NAMES: [&str; 27] = [
        "SQLITE_OK",
        "SQLITE_ERROR",
        "SQLITE_INTERNAL",
        "SQLITE_PERM",
        "SQLITE_ABORT",
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
        "SQLITE_NOMEM",
        "SQLITE_READONLY",
        "SQLITE_INTERRUPT",
        "SQLITE_IOERR",
        "SQLITE_CORRUPT",
        "SQLITE_NOTFOUND",
        "SQLITE_FULL",
        "SQLITE_CANTOPEN",
        "SQLITE_PROTOCOL",
        "SQLITE_EMPTY",
        "SQLITE_SCHEMA",
        "SQLITE_TOOBIG",
        "SQLITE_CONSTRAINT",
        "SQLITE_MISMATCH",
        "SQLITE_MISUSE",
        "SQLITE_NOLFS",
        "SQLITE_AUTH",
        "SQLITE_FORMAT",
        "SQLITE_RANGE",
        "SQLITE_NOTADB",
    ];
    NAMES
        .get((error.extended_code & 0xff) as usize)
        .copied()
        .unwrap_or("SQLITE_ERROR")
}

/// Where a node keeps its objects' databases, and their alarms.
#[derive(Clone)]
pub struct ObjectStore {
    /// `None`: databases in memory, gone with the isolate.
    root: Option<PathBuf>,
    alarms: Arc<Alarms>,
    deletions: Arc<Deletions>,
}

impl ObjectStore {
    /// Databases under `root` (`<root>/<worker>/<class>/<id>.sqlite`),
    /// alarms in `<root>/alarms.sqlite`.
    pub fn on_disk(root: PathBuf) -> Result<Self, StorageError> {
        let alarms = Arc::new(Alarms::open(Some(&root))?);
        Ok(Self {
            root: Some(root),
            alarms,
            deletions: Arc::default(),
        })
    }

    /// Databases and alarms in memory.
    pub fn in_memory() -> Self {
        Self {
            root: None,
            alarms: Arc::new(Alarms::open(None).expect("an in-memory SQLite database opens")),
            deletions: Arc::default(),
        }
    }

    /// Whether databases outlive their connections (on disk); one in
    /// memory is gone once closed.
    pub fn is_persistent(&self) -> bool {
        self.root.is_some()
    }

    /// The alarms of every object of the node.
    pub fn alarms(&self) -> &Arc<Alarms> {
        &self.alarms
    }

    /// The objects deleted by operators while the node runs.
    pub fn deletions(&self) -> &Deletions {
        &self.deletions
    }

    /// The folder of class `class` of worker `worker` (names checked, so
    /// path-safe); `None` in memory.
    fn folder(&self, worker: &str, class: &str) -> Result<Option<PathBuf>, StorageError> {
        if ridge_core::names::validate_worker_name(worker).is_err() {
            return Err(StorageError::InvalidWorker(worker.to_string()));
        }
        if !ridge_core::names::is_class_name(class) {
            return Err(StorageError::InvalidClass(class.to_string()));
        }
        Ok(self.root.as_ref().map(|root| root.join(worker).join(class)))
    }

    /// Opens (creating it on first use) the database of object `id` of
    /// class `class` of worker `worker` (a name checked to be one, which
    /// makes it path-safe); the class must be an identifier, the id 64 hex
    /// digits.
    pub fn open(
        &self,
        worker: &str,
        class: &str,
        id: &str,
    ) -> Result<ObjectDatabase, StorageError> {
        operations::check_id(id)?;
        let connection = match self.folder(worker, class)? {
            None => Connection::open_in_memory()?,
            Some(folder) => open_file(&folder, &format!("{id}.sqlite"))?,
        };
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
        )?;
        ObjectDatabase::guarded(connection)
    }
}

/// Opens (creating them if needed) database `file` in `folder`, in WAL
/// mode: a commit is durable once it returns, even if the process is
/// killed right after (not across power loss, which synchronous = FULL
/// would add at a cost per commit).
pub(crate) fn open_file(folder: &Path, file: &str) -> Result<Connection, StorageError> {
    std::fs::create_dir_all(folder).map_err(|source| StorageError::Folder {
        path: folder.to_path_buf(),
        source,
    })?;
    let connection = Connection::open(folder.join(file))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
}

/// A value of the SQL API, either way.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What `sql.exec()` gives: the last statement's columns and rows, and
/// the rows every statement read and wrote.
#[derive(Debug, Default)]
pub struct SqlResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    pub rows_read: u64,
    pub rows_written: u64,
}

/// `list()`'s options, as the key-value API takes them (and as JS passes
/// them: camelCase).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListOptions {
    pub start: Option<String>,
    pub start_after: Option<String>,
    pub end: Option<String>,
    pub prefix: Option<String>,
    pub reverse: bool,
    pub limit: Option<u32>,
}

/// One object's database.
pub struct ObjectDatabase {
    connection: Connection,
    /// Set while the worker's own SQL runs: what it may do is narrower.
    running_user_sql: Arc<AtomicBool>,
    /// Set when the worker's SQL tried to open or end a transaction.
    refused_transaction: Arc<AtomicBool>,
    /// When the running `sql.exec()` must stop (ms since `epoch`; 0: none).
    deadline_ms: Arc<AtomicU64>,
    epoch: Instant,
}

impl ObjectDatabase {
    /// Guards `connection` for the worker's own SQL: no other database
    /// files (ATTACH, VACUUM INTO), no pragmas but schema reads, no
    /// extensions, no `_cf_` tables (the key-value API's), and no query
    /// past [`MAX_EXEC_TIME`].
    fn guarded(connection: Connection) -> Result<Self, StorageError> {
        connection.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
        let running_user_sql = Arc::new(AtomicBool::new(false));
        let user = running_user_sql.clone();
        let refused_transaction = Arc::new(AtomicBool::new(false));
        let refused = refused_transaction.clone();
        connection.authorizer(Some(move |context: AuthContext<'_>| {
            if !user.load(Ordering::Relaxed) {
                return Authorization::Allow;
            }
            if let AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } = context.action {
                refused.store(true, Ordering::Relaxed);
                return Authorization::Deny;
            }
            if allowed(&context.action) {
                Authorization::Allow
            } else {
                Authorization::Deny
            }
        }));
        let deadline_ms = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let deadline = deadline_ms.clone();
        connection.progress_handler(
            10_000,
            Some(move || {
                let deadline = deadline.load(Ordering::Relaxed);
                deadline != 0 && epoch.elapsed().as_millis() as u64 > deadline
            }),
        );
        Ok(Self {
            connection,
            running_user_sql,
            refused_transaction,
            deadline_ms,
            epoch,
        })
    }

    /// Runs `query` (one or more statements, each run before the next is
    /// read; `params` bind those that take parameters) and returns the
    /// last statement's rows.
    pub fn exec(&self, query: &str, params: &[SqlValue]) -> Result<SqlResult, StorageError> {
        self.running_user_sql.store(true, Ordering::Relaxed);
        let deadline = self.epoch.elapsed() + MAX_EXEC_TIME;
        self.deadline_ms
            .store(deadline.as_millis() as u64, Ordering::Relaxed);
        let result = self.run(query, params);
        self.running_user_sql.store(false, Ordering::Relaxed);
        self.deadline_ms.store(0, Ordering::Relaxed);
        if self.refused_transaction.swap(false, Ordering::Relaxed) {
            return Err(StorageError::TransactionStatement);
        }
        match result {
            Err(StorageError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)))
                if failure.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Err(StorageError::TooSlow)
            }
            result => result,
        }
    }

    fn run(&self, query: &str, params: &[SqlValue]) -> Result<SqlResult, StorageError> {
        let mut result = SqlResult::default();
        let mut bytes = 0;
        let mut batch = rusqlite::Batch::new(&self.connection, query);
        while let Some(mut statement) = batch.next()? {
            let bound: &[SqlValue] = if statement.parameter_count() > 0 {
                params
            } else {
                &[]
            };
            let columns: Vec<String> = statement
                .column_names()
                .into_iter()
                .map(str::to_string)
                .collect();
            let before = self.connection.total_changes();
            let mut rows = statement.query(params_from_iter(bound.iter().map(to_sqlite)))?;
            let mut read = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(columns.len());
                for column in 0..columns.len() {
                    let value = from_sqlite(row.get_ref(column)?);
                    bytes += match &value {
                        SqlValue::Text(text) => text.len(),
                        SqlValue::Blob(blob) => blob.len(),
                        _ => 8,
                    };
                    values.push(value);
                }
                if bytes > MAX_RESULT_BYTES {
                    return Err(StorageError::ResultTooLarge);
                }
                read.push(values);
            }
            drop(rows);
            result.rows_read += read.len() as u64;
            result.rows_written += self.connection.total_changes().saturating_sub(before);
            result.columns = columns;
            result.rows = read;
        }
        Ok(result)
    }

    /// Opens or ends one of Ridge's own savepoints. SQLite may have rolled
    /// the whole transaction back already (a statement interrupted, `INSERT
    /// OR ROLLBACK`): then there is nothing left to end. A commit that
    /// fails rolls everything back, so that the next turn starts outside
    /// any transaction.
    pub fn savepoint(&self, savepoint: Savepoint) -> Result<(), StorageError> {
        if savepoint != Savepoint::BeginTurn
            && savepoint != Savepoint::BeginTransaction
            && self.connection.is_autocommit()
        {
            return Ok(());
        }
        let result = match savepoint {
            // One statement, run on every turn that writes: prepared once.
            Savepoint::BeginTurn | Savepoint::CommitTurn => self
                .connection
                .prepare_cached(savepoint.statement())
                .and_then(|mut statement| statement.execute([]))
                .map(drop),
            _ => self.connection.execute_batch(savepoint.statement()),
        };
        if result.is_err() && savepoint == Savepoint::CommitTurn {
            let _ = self.connection.execute_batch("ROLLBACK");
        }
        Ok(result?)
    }

    /// Whether no transaction is open (none of Ridge's savepoints): the
    /// database can be closed without losing writes.
    pub fn is_idle(&self) -> bool {
        self.connection.is_autocommit()
    }

    /// The values of `keys` that exist, in the order asked.
    pub fn get(&self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        check_keys(keys.iter())?;
        let mut statement = self
            .connection
            .prepare_cached("SELECT value FROM _cf_KV WHERE key = ?1")?;
        let mut found = Vec::new();
        for key in keys {
            let value: Option<Vec<u8>> = statement.query_row([key], |row| row.get(0)).optional()?;
            if let Some(value) = value {
                found.push((key.clone(), value));
            }
        }
        Ok(found)
    }

    /// Writes `entries` in one transaction.
    pub fn put(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), StorageError> {
        check_keys(entries.iter().map(|(key, _)| key))?;
        if let Some((_, value)) = entries
            .iter()
            .find(|(_, value)| value.len() > MAX_VALUE_BYTES)
        {
            return Err(StorageError::ValueTooLarge(value.len()));
        }
        let transaction = self.connection.savepoint()?;
        {
            let mut statement = transaction.prepare_cached(
                "INSERT INTO _cf_KV (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in entries {
                statement.execute((key, value))?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Deletes `keys` in one transaction; returns how many existed.
    pub fn delete(&mut self, keys: &[String]) -> Result<usize, StorageError> {
        check_keys(keys.iter())?;
        let transaction = self.connection.savepoint()?;
        let mut deleted = 0;
        {
            let mut statement = transaction.prepare_cached("DELETE FROM _cf_KV WHERE key = ?1")?;
            for key in keys {
                deleted += statement.execute([key])?;
            }
        }
        transaction.commit()?;
        Ok(deleted)
    }

    /// The entries `options` select, in key order (or reversed).
    pub fn list(&self, options: &ListOptions) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let mut conditions = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(start) = &options.start {
            conditions.push("key >= ?");
            params.push(Value::Text(start.clone()));
        }
        if let Some(after) = &options.start_after {
            conditions.push("key > ?");
            params.push(Value::Text(after.clone()));
        }
        if let Some(end) = &options.end {
            conditions.push("key < ?");
            params.push(Value::Text(end.clone()));
        }
        if let Some(prefix) = &options.prefix {
            conditions.push("substr(key, 1, length(?)) = ?");
            params.push(Value::Text(prefix.clone()));
            params.push(Value::Text(prefix.clone()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let order = if options.reverse { "DESC" } else { "ASC" };
        let limit = options.limit.map_or(-1, i64::from);
        let query =
            format!("SELECT key, value FROM _cf_KV {filter} ORDER BY key {order} LIMIT {limit}");
        let mut statement = self.connection.prepare(&query)?;
        let rows = statement.query_map(params_from_iter(params), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes everything the object stored: its key-value entries and
    /// its own tables.
    pub fn delete_all(&mut self) -> Result<(), StorageError> {
        let tables: Vec<String> = self
            .connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_cf_KV'")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let transaction = self.connection.savepoint()?;
        for table in tables {
            transaction.execute_batch(&format!("DROP TABLE \"{}\"", table.replace('"', "\"\"")))?;
        }
        transaction.execute_batch("DELETE FROM _cf_KV")?;
        transaction.commit()?;
        Ok(())
    }

    /// The database's size in bytes (`sql.databaseSize`).
    pub fn size(&self) -> Result<u64, StorageError> {
        let pages: u64 = self
            .connection
            .query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let page_size: u64 = self
            .connection
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        Ok(pages * page_size)
    }
}

/// Whether the worker's own SQL may do `action`.
fn allowed(action: &AuthAction<'_>) -> bool {
    let internal = |table: &str| table.len() >= 4 && table[..4].eq_ignore_ascii_case("_cf_");
    match action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => false,
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => {
            pragma_value.is_none()
                && ALLOWED_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str())
        }
        AuthAction::Function { function_name } => {
            !function_name.eq_ignore_ascii_case("load_extension")
        }
        AuthAction::Read { table_name, .. }
        | AuthAction::Insert { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::Delete { table_name }
        | AuthAction::CreateTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::CreateIndex { table_name, .. }
        | AuthAction::DropIndex { table_name, .. }
        | AuthAction::CreateTrigger { table_name, .. }
        | AuthAction::DropTrigger { table_name, .. } => !internal(table_name),
        _ => true,
    }
}

fn check_keys<'a>(keys: impl ExactSizeIterator<Item = &'a String>) -> Result<(), StorageError> {
    if keys.len() > MAX_KEYS {
        return Err(StorageError::TooManyKeys(keys.len()));
    }
    for key in keys {
        if key.len() > MAX_KEY_BYTES {
            return Err(StorageError::KeyTooLarge(key.len()));
        }
    }
    Ok(())
}

fn to_sqlite(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(n) => Value::Integer(*n),
        SqlValue::Real(n) => Value::Real(*n),
        SqlValue::Text(text) => Value::Text(text.clone()),
        SqlValue::Blob(bytes) => Value::Blob(bytes.clone()),
    }
}

fn from_sqlite(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Integer(n),
        ValueRef::Real(n) => SqlValue::Real(n),
        ValueRef::Text(text) => SqlValue::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn entry(key: &str, value: &[u8]) -> (String, Vec<u8>) {
        (key.to_string(), value.to_vec())
    }

    #[test]
    fn key_value_entries_round_trip_and_list_in_order() {
        let mut db = ObjectStore::in_memory().open("w", "C", ID).unwrap();
        db.put(&[
            entry("b", b"2"),
            entry("a", b"1"),
            entry("c", b"3"),
            entry("ab", b"4"),
        ])
        .unwrap();
        assert_eq!(
            db.get(&["a".into(), "zz".into()]).unwrap(),
            [entry("a", b"1")]
        );
        let keys = |options: ListOptions| -> Vec<String> {
            db.list(&options)
                .unwrap()
                .into_iter()
                .map(|(key, _)| key)
                .collect()
        };
        assert_eq!(keys(ListOptions::default()), ["a", "ab", "b", "c"]);
        let prefix = ListOptions {
            prefix: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(keys(prefix), ["a", "ab"]);
        let range = ListOptions {
            start_after: Some("a".into()),
            end: Some("c".into()),
            ..Default::default()
        };
        assert_eq!(keys(range), ["ab", "b"]);
        let last = ListOptions {
            reverse: true,
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(keys(last), ["c"]);
        assert_eq!(db.delete(&["a".into(), "nope".into()]).unwrap(), 1);
        assert!(matches!(
            db.put(&[entry(&"k".repeat(2049), b"")]),
            Err(StorageError::KeyTooLarge(2049))
        ));
    }

    #[test]
    fn sql_runs_statements_and_counts_rows() {
        let mut db = ObjectStore::in_memory().open("w", "C", ID).unwrap();
        let created = db
            .exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB); INSERT INTO t (name) VALUES ('x')", &[])
            .unwrap();
        assert_eq!(created.rows_written, 1);
        db.exec(
            "INSERT INTO t (name, data) VALUES (?, ?)",
            &[SqlValue::Text("y".into()), SqlValue::Blob(vec![1, 2])],
        )
        .unwrap();
        let result = db
            .exec("SELECT id, name, data FROM t ORDER BY id", &[])
            .unwrap();
        assert_eq!(result.columns, ["id", "name", "data"]);
        assert_eq!(result.rows_read, 2);
        assert_eq!(
            result.rows[1],
            [
                SqlValue::Integer(2),
                SqlValue::Text("y".into()),
                SqlValue::Blob(vec![1, 2])
            ]
        );
        assert!(db
            .exec("SELECT nope FROM t", &[])
            .unwrap_err()
            .to_string()
            .contains("no such column"));
        db.delete_all().unwrap();
        assert!(db.exec("SELECT * FROM t", &[]).is_err());
    }

    #[test]
    fn the_workers_sql_stays_inside_its_database() {
        let mut db = ObjectStore::in_memory().open("w", "C", ID).unwrap();
        db.put(&[entry("k", b"v")]).unwrap();
        for refused in [
            "ATTACH DATABASE '/tmp/x.db' AS x",
            "VACUUM INTO '/tmp/copy.db'",
            "PRAGMA journal_mode = DELETE",
            "SELECT * FROM _cf_KV",
            "DELETE FROM _CF_kv",
            "SELECT load_extension('x')",
        ] {
            assert!(db.exec(refused, &[]).is_err(), "{refused} ran");
        }
        assert_eq!(
            db.exec("PRAGMA table_list", &[]).unwrap().columns[1],
            "name"
        );
        // Transactions are Ridge's own; the key-value API works inside one.
        assert!(matches!(
            db.exec("SAVEPOINT outer_work", &[]),
            Err(StorageError::TransactionStatement)
        ));
        db.savepoint(Savepoint::BeginTransaction).unwrap();
        db.put(&[entry("k2", b"w")]).unwrap();
        db.savepoint(Savepoint::CommitTransaction).unwrap();
        assert!(db.is_idle());
        assert_eq!(db.get(&["k".into(), "k2".into()]).unwrap().len(), 2);
        let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
        assert!(matches!(db.exec(endless, &[]), Err(StorageError::TooSlow)));
        assert!(matches!(
            ObjectStore::in_memory().open("w", "../x", ID),
            Err(StorageError::InvalidClass(_))
        ));
    }

    #[test]
    fn a_statement_that_rolls_everything_back_leaves_nothing_open() {
        let db = ObjectStore::in_memory().open("w", "C", ID).unwrap();
        db.exec("CREATE TABLE t (x UNIQUE)", &[]).unwrap();
        db.savepoint(Savepoint::BeginTurn).unwrap();
        db.exec("INSERT INTO t VALUES (1)", &[]).unwrap();
        assert!(db
            .exec("INSERT OR ROLLBACK INTO t VALUES (1)", &[])
            .is_err());
        // The turn is gone with its first write; ending it is not an error.
        db.savepoint(Savepoint::CommitTurn).unwrap();
        assert!(db.is_idle());
        let count = db.exec("SELECT count(*) FROM t", &[]).unwrap();
        assert_eq!(count.rows[0][0], SqlValue::Integer(0));
    }

    #[test]
    fn a_database_on_disk_outlives_its_connection() {
        let root = std::env::temp_dir().join(format!("ridge-objects-test-{}", std::process::id()));
        let store = ObjectStore::on_disk(root.clone()).unwrap();
        store
            .open("w", "C", ID)
            .unwrap()
            .put(&[entry("kept", b"yes")])
            .unwrap();
        assert_eq!(
            store
                .open("w", "C", ID)
                .unwrap()
                .get(&["kept".into()])
                .unwrap(),
            [entry("kept", b"yes")]
        );
        assert!(matches!(
            store.open("w", "C", "../x"),
            Err(StorageError::InvalidId)
        ));
        std::fs::remove_dir_all(root).unwrap();
    }
}
