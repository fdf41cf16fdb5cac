//! The ops behind Durable Objects (js/objects/12_objects.js): ids, and the
//! storage of the objects a worker's isolate holds. An id is 32 bytes in
//! hex: 16 that name the object (a hash of the name given to
//! `idFromName`, or random for `newUniqueId`) and 16 that bind it to its
//! namespace (worker and class), so that `idFromString` refuses an id made
//! elsewhere. Storage is each object's own SQLite database (ridge-objects),
//! used synchronously: while an operation runs, nothing else does. Alarms
//! are set in the node's alarm table (ridge-objects), which its alarm
//! runner reads.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use deno_core::op2;
use deno_core::OpState;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;
use rand_core::RngCore;
use ridge_objects::{AlarmOwner, ListOptions, ObjectDatabase, ObjectStore, Savepoint, SqlValue};
use serde::{Deserialize, Serialize};

use crate::http::{next_request_id, CpuLedger, Event, Invocation, ObjectAddress, WebSocketEvent};
use sha2::{Digest, Sha256};

/// The Durable Object namespaces of an isolate's bindings, by binding
/// index: `(worker, class)` for those that are namespaces.
pub struct ObjectNamespaces(pub Vec<Option<(String, String)>>);

/// Object databases an isolate keeps open at once.
const MAX_OPEN_DATABASES: usize = 256;

/// The storage of the objects an isolate holds: worker `worker`'s, in
/// `store`, opened on first use.
pub struct ObjectStorage {
    pub worker: String,
    pub store: ObjectStore,
    /// How long an object stays in memory without events.
    pub idle_timeout: Duration,
    open: RefCell<HashMap<(String, String), ObjectDatabase>>,
    /// The operators' deletions this isolate has caught up with.
    deletions_seen: Cell<u64>,
    /// Objects in this isolate's memory, and who hears of each change
    /// (the node's metrics).
    alive: Cell<i64>,
    on_alive: Box<dyn Fn(i64)>,
}

impl ObjectStorage {
    /// `on_alive` hears how the count of objects in memory changes.
    pub fn new(
        worker: String,
        store: ObjectStore,
        idle_timeout: Duration,
        on_alive: Box<dyn Fn(i64)>,
    ) -> Self {
        let deletions_seen = Cell::new(store.deletions().count());
        Self {
            worker,
            store,
            idle_timeout,
            open: RefCell::default(),
            deletions_seen,
            alive: Cell::new(0),
            on_alive,
        }
    }
}

impl Drop for ObjectStorage {
    /// The isolate's objects go with it.
    fn drop(&mut self) {
        (self.on_alive)(-self.alive.get());
    }
}

impl ObjectStorage {
    fn with<T>(
        &self,
        class: &str,
        id: &str,
        work: impl FnOnce(&mut ObjectDatabase) -> Result<T, ridge_objects::StorageError>,
    ) -> Result<T, JsErrorBox> {
        let mut open = self.open.borrow_mut();
        let key = (class.to_string(), id.to_string());
        if !open.contains_key(&key) {
            // Each open database holds file descriptors: past the bound,
            // one is closed (it reopens when used again). One in memory
            // would be lost.
            // A database in a transaction is not closed (its writes would
            // be lost).
            if open.len() >= MAX_OPEN_DATABASES && self.store.is_persistent() {
                let idle = open
                    .iter()
                    .find(|(_, db)| db.is_idle())
                    .map(|(k, _)| k.clone());
                if let Some(closed) = idle {
                    open.remove(&closed);
                }
            }
            let database = self
                .store
                .open(&self.worker, class, id)
                .map_err(storage_error)?;
            open.insert(key.clone(), database);
        }
        work(open.get_mut(&key).expect("opened above")).map_err(storage_error)
    }
}

fn storage_error(error: ridge_objects::StorageError) -> JsErrorBox {
    JsErrorBox::generic(error.to_string())
}

fn namespace(state: &OpState, binding: u32) -> Result<(String, String), JsErrorBox> {
    state
        .try_borrow::<ObjectNamespaces>()
        .and_then(|namespaces| namespaces.0.get(binding as usize).cloned().flatten())
        .ok_or_else(|| JsErrorBox::type_error("not a Durable Object namespace binding"))
}

/// The first 16 bytes of SHA-256 over `label`, the namespace (`worker`,
/// `class`) and `data`, separated by NULs.
fn namespace_digest(label: &[u8], worker: &str, class: &str, data: &[u8]) -> [u8; 16] {
    let digest = Sha256::new()
        .chain_update(label)
        .chain_update(worker)
        .chain_update(b"\0")
        .chain_update(class)
        .chain_update(b"\0")
        .chain_update(data)
        .finalize();
    digest[..16].try_into().expect("32-byte digest")
}

/// The 16 bytes that bind an object's 16 naming bytes to its namespace.
fn seal(worker: &str, class: &str, object: &[u8]) -> [u8; 16] {
    namespace_digest(b"ridge durable object\0", worker, class, object)
}

fn id_of(worker: &str, class: &str, object: [u8; 16]) -> String {
    let mut id = object.to_vec();
    id.extend_from_slice(&seal(worker, class, &object));
    hex::encode(id)
}

/// An id of binding `binding`'s namespace: derived from `name`, or new
/// and random when `name` is null.
#[op2]
#[string]
pub fn op_ridge_do_id(
    state: &OpState,
    #[smi] binding: u32,
    #[string] name: Option<String>,
) -> Result<String, JsErrorBox> {
    let (worker, class) = namespace(state, binding)?;
    let object = match name {
        Some(name) => namespace_digest(
            b"ridge durable object name\0",
            &worker,
            &class,
            name.as_bytes(),
        ),
        None => {
            let mut random = [0u8; 16];
            rand_core::OsRng.fill_bytes(&mut random);
            random
        }
    };
    Ok(id_of(&worker, &class, object))
}

/// Whether `id` is an id of binding `binding`'s namespace.
#[op2(fast)]
pub fn op_ridge_do_id_valid(
    state: &OpState,
    #[smi] binding: u32,
    #[string] id: &str,
) -> Result<bool, JsErrorBox> {
    let (worker, class) = namespace(state, binding)?;
    let Ok(bytes) = hex::decode(id) else {
        return Ok(false);
    };
    Ok(bytes.len() == 32
        && id.bytes().all(|b| !b.is_ascii_uppercase())
        && bytes[16..] == seal(&worker, &class, &bytes[..16]))
}

fn storage(state: &OpState) -> Result<&ObjectStorage, JsErrorBox> {
    state
        .try_borrow::<ObjectStorage>()
        .ok_or_else(|| JsErrorBox::type_error("this worker has no Durable Objects"))
}

/// A value bound to a SQL statement, as JS passes it.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum SqlParam {
    Null(()),
    Number(f64),
    Text(String),
    /// Bytes, as a plain array (from an ArrayBuffer or view).
    Bytes {
        bytes: Vec<u8>,
    },
}

/// A value of a SQL result, as JS gets it.
#[derive(Serialize)]
#[serde(untagged)]
pub enum SqlOut {
    Null(()),
    Number(f64),
    Text(String),
    Bytes(ToJsBuffer),
}

/// `sql.exec()`'s result: `[columns, rows, rowsRead, rowsWritten]`.
type SqlAnswer = (Vec<String>, Vec<Vec<SqlOut>>, f64, f64);

/// Runs `query` with `params` on object `id` of class `class`.
#[op2]
#[serde]
pub fn op_ridge_do_sql(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[string] query: &str,
    #[serde] params: Vec<SqlParam>,
) -> Result<SqlAnswer, JsErrorBox> {
    let params: Vec<SqlValue> = params
        .into_iter()
        .map(|param| match param {
            SqlParam::Null(()) => SqlValue::Null,
            SqlParam::Number(n) if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 => {
                SqlValue::Integer(n as i64)
            }
            SqlParam::Number(n) => SqlValue::Real(n),
            SqlParam::Text(text) => SqlValue::Text(text),
            SqlParam::Bytes { bytes } => SqlValue::Blob(bytes),
        })
        .collect();
    let result = storage(state)?.with(class, id, |db| db.exec(query, &params))?;
    let rows = result
        .rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|value| match value {
                    SqlValue::Null => SqlOut::Null(()),
                    SqlValue::Integer(n) => SqlOut::Number(n as f64),
                    SqlValue::Real(n) => SqlOut::Number(n),
                    SqlValue::Text(text) => SqlOut::Text(text),
                    SqlValue::Blob(bytes) => SqlOut::Bytes(bytes.into()),
                })
                .collect()
        })
        .collect();
    Ok((
        result.columns,
        rows,
        result.rows_read as f64,
        result.rows_written as f64,
    ))
}

/// How long an object of this isolate stays in memory without events, in
/// milliseconds.
#[op2(fast)]
pub fn op_ridge_do_idle_timeout(state: &OpState) -> Result<f64, JsErrorBox> {
    Ok(storage(state)?.idle_timeout.as_millis() as f64)
}

/// Closes object `id`'s database as its instance is evicted, if it is on
/// disk (one in memory would be lost; it reopens when used again). False
/// if the database is in a transaction: then the object must stay.
#[op2(fast)]
pub fn op_ridge_do_close(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
) -> Result<bool, JsErrorBox> {
    let storage = storage(state)?;
    let key = (class.to_string(), id.to_string());
    let mut open = storage.open.borrow_mut();
    if open.get(&key).is_some_and(|db| !db.is_idle()) {
        return Ok(false);
    }
    if storage.store.is_persistent() {
        open.remove(&key);
    }
    Ok(true)
}

/// Opens or ends one of Ridge's savepoints on object `id`'s database:
/// `step` is 0 to begin a turn's writes, 1 to commit them, 2 to begin a
/// transaction, 3 to commit it, 4 to roll it back.
#[op2(fast)]
pub fn op_ridge_do_savepoint(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[smi] step: u32,
) -> Result<(), JsErrorBox> {
    let savepoint = match step {
        0 => Savepoint::BeginTurn,
        1 => Savepoint::CommitTurn,
        2 => Savepoint::BeginTransaction,
        3 => Savepoint::CommitTransaction,
        4 => Savepoint::RollBackTransaction,
        _ => return Err(JsErrorBox::type_error("unknown savepoint step")),
    };
    storage(state)?.with(class, id, |db| db.savepoint(savepoint))
}

/// The size in bytes of object `id`'s database.
#[op2(fast)]
pub fn op_ridge_do_size(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
) -> Result<f64, JsErrorBox> {
    Ok(storage(state)?.with(class, id, |db| db.size())? as f64)
}

/// The stored (V8-serialized) values of `keys` that exist: `[key, value]`.
#[op2]
#[serde]
pub fn op_ridge_do_get(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[serde] keys: Vec<String>,
) -> Result<Vec<(String, ToJsBuffer)>, JsErrorBox> {
    let found = storage(state)?.with(class, id, |db| db.get(&keys))?;
    Ok(found
        .into_iter()
        .map(|(key, value)| (key, value.into()))
        .collect())
}

/// Writes `[key, value]` entries (values V8-serialized), atomically.
#[op2]
pub fn op_ridge_do_put(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[serde] entries: Vec<(String, deno_core::JsBuffer)>,
) -> Result<(), JsErrorBox> {
    let entries: Vec<(String, Vec<u8>)> = entries
        .into_iter()
        .map(|(key, value)| (key, value.to_vec()))
        .collect();
    storage(state)?.with(class, id, |db| db.put(&entries))
}

/// Deletes `keys`; returns how many existed.
#[op2]
#[smi]
pub fn op_ridge_do_delete(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[serde] keys: Vec<String>,
) -> Result<u32, JsErrorBox> {
    Ok(storage(state)?.with(class, id, |db| db.delete(&keys))? as u32)
}

/// The entries `options` select, in order: `[key, value]`.
#[op2]
#[serde]
pub fn op_ridge_do_list(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[serde] options: ListOptions,
) -> Result<Vec<(String, ToJsBuffer)>, JsErrorBox> {
    let found = storage(state)?.with(class, id, |db| db.list(&options))?;
    Ok(found
        .into_iter()
        .map(|(key, value)| (key, value.into()))
        .collect())
}

/// Deletes everything object `id` stored.
#[op2(fast)]
pub fn op_ridge_do_delete_all(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
) -> Result<(), JsErrorBox> {
    storage(state)?.with(class, id, |db| db.delete_all())
}

fn alarm_owner(storage: &ObjectStorage, class: &str, id: &str) -> AlarmOwner {
    AlarmOwner {
        worker: storage.worker.clone(),
        class: class.to_string(),
        id: id.to_string(),
    }
}

/// Object `id`'s alarm time (ms since the Unix epoch), or null.
#[op2]
pub fn op_ridge_do_alarm_get(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
) -> Result<Option<f64>, JsErrorBox> {
    let storage = storage(state)?;
    let time = storage
        .store
        .alarms()
        .get(&alarm_owner(storage, class, id))
        .map_err(storage_error)?;
    Ok(time.map(|time| time as f64))
}

/// Sets object `id`'s alarm to `time` (ms since the Unix epoch); `name` is
/// the name its id was made from, for `ctx.id.name` in `alarm()`.
#[op2]
pub fn op_ridge_do_alarm_set(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
    #[string] name: Option<String>,
    time: f64,
) -> Result<(), JsErrorBox> {
    let storage = storage(state)?;
    storage
        .store
        .alarms()
        .set(
            &alarm_owner(storage, class, id),
            name.as_deref(),
            time as i64,
        )
        .map_err(storage_error)
}

/// Deletes object `id`'s alarm, if it has one.
#[op2(fast)]
pub fn op_ridge_do_alarm_delete(
    state: &OpState,
    #[string] class: &str,
    #[string] id: &str,
) -> Result<(), JsErrorBox> {
    let storage = storage(state)?;
    storage
        .store
        .alarms()
        .delete(&alarm_owner(storage, class, id))
        .map_err(storage_error)
}

/// Opens the invocation of a hibernatable WebSocket's event (`kind`: 0
/// message, 1 close, 2 error) for object `id` of class `class`, whose id
/// was made from `name`; returns its `rid`. JS runs the object's handler
/// under it and ends it as any other event, so the event is charged,
/// limited and recorded like a request.
#[op2]
#[smi]
pub fn op_ridge_do_websocket_event(
    state: &OpState,
    #[string] class: String,
    #[string] id: String,
    #[string] name: Option<String>,
    #[smi] kind: u32,
) -> Result<ResourceId, JsErrorBox> {
    let kind = match kind {
        0 => "message",
        1 => "close",
        2 => "error",
        _ => return Err(JsErrorBox::type_error("unknown WebSocket event kind")),
    };
    // Nobody waits for the answer: the handler's outcome is recorded.
    let (reply, _) = tokio::sync::oneshot::channel();
    let invocation = Invocation {
        request_id: next_request_id(),
        route: std::sync::Arc::from("websocket"),
        event: Event::WebSocket(WebSocketEvent {
            object: ObjectAddress { class, id, name },
            kind,
        }),
        received: std::time::Instant::now(),
        reply,
        trace: None,
        caller: None,
    };
    Ok(state.borrow::<CpuLedger>().open_here(invocation))
}

/// Whether an operator deleted objects since this isolate last looked
/// (checked as events reach objects; cheap).
#[op2(fast)]
pub fn op_ridge_do_deletions_pending(state: &OpState) -> bool {
    state
        .try_borrow::<ObjectStorage>()
        .is_some_and(|storage| storage.store.deletions().count() != storage.deletions_seen.get())
}

/// This worker's objects an operator deleted since this isolate last
/// looked, as `[class, id]`; their open databases are closed.
#[op2]
#[serde]
pub fn op_ridge_do_take_deletions(state: &OpState) -> Result<Vec<(String, String)>, JsErrorBox> {
    let storage = storage(state)?;
    let (count, deleted) = storage
        .store
        .deletions()
        .since(&storage.worker, storage.deletions_seen.get());
    storage.deletions_seen.set(count);
    let mut open = storage.open.borrow_mut();
    for object in &deleted {
        open.remove(object);
    }
    Ok(deleted)
}

/// An object was made (1) or left memory (-1).
#[op2(fast)]
pub fn op_ridge_do_alive(state: &OpState, delta: i32) {
    if let Some(storage) = state.try_borrow::<ObjectStorage>() {
        storage.alive.set(storage.alive.get() + i64::from(delta));
        (storage.on_alive)(i64::from(delta));
    }
}
