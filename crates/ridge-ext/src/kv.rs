//! The ops behind a worker's KV namespace bindings (`env.MY_KV`, see
//! `js/kv/06_kv.js`). A binding is addressed by its index in the worker's
//! binding list, so worker code can only reach the namespaces it is bound
//! to. The work is done by a [`KvHost`] the isolate is given (the node's
//! KV, see ridge-runtime's `isolate/bindings/kv.rs`); this file only moves values across.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::JsBuffer;
use deno_core::OpState;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;

/// A host operation that finishes later.
pub type HostFuture<T> = Pin<Box<dyn Future<Output = Result<T, JsErrorBox>>>>;

/// A value read from KV.
pub struct KvValue {
    pub value: Bytes,
    /// JSON text.
    pub metadata: Option<String>,
    /// Whether the node's cache answered.
    pub cache_hit: bool,
}

/// `put` options; numbers as the worker gave them, metadata as JSON text.
pub struct KvPutOptions {
    pub expiration: Option<f64>,
    pub expiration_ttl: Option<f64>,
    pub metadata: Option<String>,
}

/// One key of a listing: name, expiration, metadata (JSON text).
pub type KvListedKey = (String, Option<i64>, Option<String>);
/// A page of a listing: keys, whether it is the last page, the next cursor.
pub type KvListPage = (Vec<KvListedKey>, bool, Option<String>);

/// What KV bindings need from the node.
pub trait KvHost {
    /// The cached answer for `key`: `Ok(None)` when it is not cached.
    fn get_cached(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> Result<Option<Option<KvValue>>, JsErrorBox>;
    fn get(
        &self,
        namespace: &str,
        key: &str,
        cache_ttl: Option<f64>,
    ) -> HostFuture<Option<KvValue>>;
    /// Checks a put before its value is read.
    fn check_put(&self, key: &str, options: &KvPutOptions) -> Result<(), JsErrorBox>;
    fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Bytes,
        options: KvPutOptions,
    ) -> HostFuture<()>;
    fn delete(&self, namespace: &str, key: &str) -> HostFuture<()>;
    fn list(
        &self,
        namespace: &str,
        prefix: &str,
        limit: Option<f64>,
        cursor: Option<String>,
    ) -> HostFuture<KvListPage>;
    /// The largest value a put may store, in bytes.
    fn max_value_bytes(&self) -> usize;
}

/// The namespaces an isolate's worker is bound to, by binding index (the
/// index in the worker's whole binding list; `None` for a binding of
/// another kind), and the host serving them (`None` where the node has no
/// KV store).
pub struct KvBindings {
    pub host: Option<Rc<dyn KvHost>>,
    pub namespaces: Vec<Option<String>>,
}

fn binding(state: &OpState, index: u32) -> Result<(Rc<dyn KvHost>, String), JsErrorBox> {
    let bindings = state
        .try_borrow::<KvBindings>()
        .ok_or_else(|| JsErrorBox::generic("this worker has no KV bindings"))?;
    let namespace = bindings
        .namespaces
        .get(index as usize)
        .and_then(Option::as_ref)
        .ok_or_else(|| JsErrorBox::generic("unknown KV binding"))?;
    let host = bindings
        .host
        .clone()
        .ok_or_else(|| JsErrorBox::generic("KV is not available on this node"))?;
    Ok((host, namespace.clone()))
}

/// NaN stands for "not given" in numeric arguments.
fn given(number: f64) -> Option<f64> {
    (!number.is_nan()).then_some(number)
}

/// A read as JS gets it: `[state, bytes, metadata, cacheHit]`, where state
/// is 0 for "not cached" (only from the cached lookup), 1 for "no such
/// key", 2 for "found".
type ReadForJs = (u8, Option<ToJsBuffer>, Option<String>, bool);

fn read_for_js(read: Option<KvValue>) -> ReadForJs {
    match read {
        None => (1, None, None, false),
        Some(value) => (
            2,
            Some(value.value.to_vec().into()),
            value.metadata,
            value.cache_hit,
        ),
    }
}

/// A read answered from the node's cache without waiting, if it can be.
#[op2]
#[serde]
pub fn op_ridge_kv_get_cached(
    state: &mut OpState,
    #[smi] index: u32,
    #[string] key: &str,
    cache_ttl: f64,
) -> Result<ReadForJs, JsErrorBox> {
    let (host, namespace) = binding(state, index)?;
    Ok(match host.get_cached(&namespace, key, given(cache_ttl))? {
        Some(read) => read_for_js(read),
        None => (0, None, None, false),
    })
}

#[op2]
#[serde]
pub async fn op_ridge_kv_get(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[string] key: String,
    cache_ttl: f64,
) -> Result<ReadForJs, JsErrorBox> {
    let (host, namespace) = binding(&state.borrow(), index)?;
    let read = host.get(&namespace, &key, given(cache_ttl)).await?;
    Ok(read_for_js(read))
}

fn put_options(expiration: f64, expiration_ttl: f64, metadata: String) -> KvPutOptions {
    KvPutOptions {
        expiration: given(expiration),
        expiration_ttl: given(expiration_ttl),
        // JSON text is never empty: "" stands for "no metadata".
        metadata: (!metadata.is_empty()).then_some(metadata),
    }
}

#[op2]
pub async fn op_ridge_kv_put(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[string] key: String,
    #[buffer] value: JsBuffer,
    expiration: f64,
    expiration_ttl: f64,
    #[string] metadata: String,
) -> Result<(), JsErrorBox> {
    let (host, namespace) = binding(&state.borrow(), index)?;
    let options = put_options(expiration, expiration_ttl, metadata);
    host.put(&namespace, &key, Bytes::copy_from_slice(&value), options)
        .await
}

/// A put whose value is a ReadableStream: read in Rust, outside the
/// worker's heap, and refused as soon as it outgrows the value limit.
#[op2]
pub async fn op_ridge_kv_put_stream(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[string] key: String,
    #[smi] stream_rid: ResourceId,
    expiration: f64,
    expiration_ttl: f64,
    #[string] metadata: String,
) -> Result<(), JsErrorBox> {
    let (host, namespace) = binding(&state.borrow(), index)?;
    let options = put_options(expiration, expiration_ttl, metadata);
    if let Err(error) = host.check_put(&key, &options) {
        super::close_stream(&state, stream_rid);
        return Err(error);
    }
    // One byte over the limit is enough for the host to refuse it.
    let value = super::read_stream(&state, stream_rid, host.max_value_bytes() + 1).await?;
    host.put(&namespace, &key, value, options).await
}

#[op2]
pub async fn op_ridge_kv_delete(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[string] key: String,
) -> Result<(), JsErrorBox> {
    let (host, namespace) = binding(&state.borrow(), index)?;
    host.delete(&namespace, &key).await
}

#[op2]
#[serde]
pub async fn op_ridge_kv_list(
    state: Rc<RefCell<OpState>>,
    #[smi] index: u32,
    #[string] prefix: String,
    limit: f64,
    #[string] cursor: String,
) -> Result<KvListPage, JsErrorBox> {
    let (host, namespace) = binding(&state.borrow(), index)?;
    let cursor = (!cursor.is_empty()).then_some(cursor);
    host.list(&namespace, &prefix, given(limit), cursor).await
}
