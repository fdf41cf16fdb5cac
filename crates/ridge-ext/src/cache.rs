//! The ops behind the Cache API (`caches.default`, `caches.open(name)`, see
//! `js/cache/07_cache.js`). The storage and the HTTP caching rules belong to a
//! [`CacheHost`] the isolate is given (the node's cache, scoped to the
//! worker, see ridge-runtime's `isolate/bindings/cache.rs`).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::op2;
use deno_core::ByteString;
use deno_core::OpState;
use deno_core::ResourceId;
use deno_core::ToJsBuffer;
use deno_error::JsErrorBox;

/// A response going into or coming out of the cache.
pub struct CachedResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// What the Cache API needs from the node.
pub trait CacheHost {
    /// The stored response for `url`; a 304 without body when
    /// `if_none_match` matches its ETag.
    fn lookup(&self, cache: &str, url: &str, if_none_match: Option<&str>)
        -> Option<CachedResponse>;
    /// Refuses what may never be cached (non-GET, 206, `Vary: *`).
    fn check_put(
        &self,
        method: &str,
        status: u16,
        headers: &[(String, String)],
    ) -> Result<(), JsErrorBox>;
    /// Stores the response if its headers allow; false if they do not.
    fn store(&self, cache: &str, url: &str, response: CachedResponse) -> bool;
    fn remove(&self, cache: &str, url: &str) -> bool;
    /// Larger bodies are not stored.
    fn max_body_bytes(&self) -> usize;
}

/// The Cache API host of an isolate.
pub struct CacheBinding(pub Rc<dyn CacheHost>);

fn host(state: &OpState) -> Result<Rc<dyn CacheHost>, JsErrorBox> {
    state
        .try_borrow::<CacheBinding>()
        .map(|binding| binding.0.clone())
        .ok_or_else(|| JsErrorBox::generic("the Cache API is not available here"))
}

fn text_headers(headers: Vec<(ByteString, ByteString)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| {
            (
                String::from_utf8_lossy(&name).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect()
}

/// A cached response as JS gets it: `[status, statusText, headers, body]`.
type ResponseForJs = (u16, String, Vec<(String, String)>, ToJsBuffer);

/// The cached response, or null on a miss.
#[op2]
#[serde]
pub fn op_ridge_cache_match(
    state: &mut OpState,
    #[string] cache: &str,
    #[string] url: &str,
    #[string] if_none_match: &str,
) -> Result<Option<ResponseForJs>, JsErrorBox> {
    let host = host(state)?;
    let condition = (!if_none_match.is_empty()).then_some(if_none_match);
    Ok(host.lookup(cache, url, condition).map(|response| {
        (
            response.status,
            response.status_text,
            response.headers,
            response.body.to_vec().into(),
        )
    }))
}

/// Reads the response body (a `resourceForReadableStream` resource, or -1
/// for none) and stores the response if HTTP caching rules allow.
#[op2]
#[allow(clippy::too_many_arguments)]
pub async fn op_ridge_cache_put(
    state: Rc<RefCell<OpState>>,
    #[string] cache: String,
    #[string] url: String,
    #[string] method: String,
    #[smi] status: u16,
    #[string] status_text: String,
    #[serde] headers: Vec<(ByteString, ByteString)>,
    #[smi] body_rid: i32,
) -> Result<(), JsErrorBox> {
    let host = host(&state.borrow())?;
    let headers = text_headers(headers);
    if let Err(error) = host.check_put(&method, status, &headers) {
        if body_rid >= 0 {
            super::close_stream(&state, body_rid as ResourceId);
        }
        return Err(error);
    }
    let body = if body_rid >= 0 {
        super::read_stream(&state, body_rid as ResourceId, host.max_body_bytes() + 1).await?
    } else {
        Bytes::new()
    };
    if body.len() <= host.max_body_bytes() {
        host.store(
            &cache,
            &url,
            CachedResponse {
                status,
                status_text,
                headers,
                body,
            },
        );
    }
    Ok(())
}

#[op2(fast)]
pub fn op_ridge_cache_delete(
    state: &mut OpState,
    #[string] cache: &str,
    #[string] url: &str,
) -> Result<bool, JsErrorBox> {
    Ok(host(state)?.remove(cache, url))
}
