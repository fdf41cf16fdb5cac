//! The `ridge` deno_core extension: the ops Ridge's JavaScript calls
//! (`op_ridge_*`), one module per area, each paired with its JS in the
//! top-level `js/<area>/` folder as deno's `ext/` crates pair them:
//! `http` (the request bridge, `js/http/`), `kv`, `cache`, `assets`,
//! `websocket`, `sockets` (`cloudflare:sockets`' TCP and TLS connections),
//! `service` (service bindings) with `rpc` (the stubs RPC calls carry),
//! `owned` (what a request opened, closed when it ends), `objects`
//! (Durable Object ids and storage, `js/objects/`), `queues` (producer
//! bindings and the verdicts of a consumed batch, `js/queues/`),
//! `trace`, `node` (the `node:*` modules of `nodejs_compat`, `js/node/`,
//! with `crypto`, `cipher`, `keys`, `zlib` and `encoding` for their Rust
//! parts; `crypto` also gives `crypto.subtle` its MD5), and the globals'
//! helpers (`log`: console, `net`: the outbound policy of fetch and
//! sockets, `memory`: checks within a turn; `js/globals/`).
//!
//! ridge-runtime's build script uses this crate as a build dependency
//! to evaluate the extension's JS into the startup snapshot; the runtime
//! uses it as a normal one. Both call [`extensions`], which is what keeps
//! the two op tables identical (V8 refuses a snapshot otherwise).

pub mod assets;
pub mod cache;
pub mod cipher;
pub mod crypto;
pub mod encoding;
pub mod http;
pub mod keys;
pub mod kv;
pub mod log;
pub mod memory;
pub mod net;
pub mod node;
pub mod objects;
pub mod owned;
pub mod queues;
pub mod rpc;
pub mod service;
pub mod sockets;
pub mod trace;
pub mod websocket;
pub mod wire;
pub mod zlib;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use deno_core::{OpState, ResourceId};

pub use http::{
    next_request_id, AlarmEvent, Caller, ConsoleLine, CpuLedger, Event, FetchRequest, FrozenClock,
    Invocation, InvocationInbox, InvocationRecord, ObjectAddress, RequestBody, ResponseBody,
    RpcCall, SubrequestLimit, Trigger, WebSocketEvent, WorkerReply, WorkerResponse,
};
pub use log::{ConsoleCapture, WorkerLogContext};

deno_core::extension!(
  ridge,
  deps = [deno_webidl, deno_web, deno_crypto, deno_fetch],
  ops = [
    http::op_ridge_take_invocation,
    http::op_ridge_invocation_arrival,
    http::op_ridge_event_done,
    http::op_ridge_count_subrequest,
    http::op_ridge_count_kv_operation,
    http::op_ridge_respond,
    http::op_ridge_respond_error,
    http::op_ridge_pipe_response_body,
    http::op_ridge_wait_until_settled,
    service::op_ridge_rpc_return,
    http::op_ridge_invocation_props,
    http::op_ridge_now,
    log::op_ridge_log,
    memory::op_ridge_check_memory,
    kv::op_ridge_kv_get_cached,
    kv::op_ridge_kv_get,
    kv::op_ridge_kv_put,
    kv::op_ridge_kv_put_stream,
    kv::op_ridge_kv_delete,
    kv::op_ridge_kv_list,
    cache::op_ridge_cache_match,
    cache::op_ridge_cache_put,
    cache::op_ridge_cache_delete,
    assets::op_ridge_assets_fetch,
    service::op_ridge_service_fetch,
    service::op_ridge_service_call,
    service::op_ridge_status_text,
    service::op_ridge_rpc_next,
    rpc::op_ridge_rpc_serve_next,
    rpc::op_ridge_rpc_answer,
    rpc::op_ridge_rpc_stub_call,
    rpc::op_ridge_rpc_stub_dispose,
    rpc::op_ridge_rpc_writable,
    rpc::op_ridge_rpc_sink_write,
    rpc::op_ridge_rpc_sink_abort,
    objects::op_ridge_do_id,
    objects::op_ridge_do_id_valid,
    objects::op_ridge_do_sql,
    objects::op_ridge_do_size,
    objects::op_ridge_do_get,
    objects::op_ridge_do_put,
    objects::op_ridge_do_delete,
    objects::op_ridge_do_list,
    objects::op_ridge_do_delete_all,
    objects::op_ridge_do_savepoint,
    objects::op_ridge_do_idle_timeout,
    objects::op_ridge_do_close,
    objects::op_ridge_do_websocket_event,
    objects::op_ridge_do_deletions_pending,
    objects::op_ridge_do_take_deletions,
    objects::op_ridge_do_alive,
    objects::op_ridge_do_alarm_get,
    objects::op_ridge_do_alarm_set,
    objects::op_ridge_do_alarm_delete,
    queues::op_ridge_queue_send,
    queues::op_ridge_queue_verdict,
    crypto::op_ridge_hash_create,
    crypto::op_ridge_hmac_create,
    crypto::op_ridge_hash_update,
    crypto::op_ridge_hash_update_text,
    crypto::op_ridge_hash_digest,
    crypto::op_ridge_hash_copy,
    crypto::op_ridge_hash_once,
    crypto::op_ridge_pbkdf2,
    crypto::op_ridge_hkdf,
    crypto::op_ridge_scrypt,
    cipher::op_ridge_cipher_create,
    cipher::op_ridge_cipher_update,
    cipher::op_ridge_cipher_set_aad,
    cipher::op_ridge_cipher_set_padding,
    cipher::op_ridge_cipher_set_tag,
    cipher::op_ridge_cipher_final,
    cipher::op_ridge_cipher_info,
    keys::op_ridge_key_read,
    keys::op_ridge_key_write,
    keys::op_ridge_key_generate,
    keys::op_ridge_key_sign,
    keys::op_ridge_key_verify,
    keys::op_ridge_key_agree,
    node::op_ridge_preview_entries,
    encoding::op_ridge_bytes_to_text,
    encoding::op_ridge_text_into_bytes,
    zlib::op_ridge_zlib_create,
    zlib::op_ridge_zlib_process,
    zlib::op_ridge_zlib_crc32,
    sockets::op_ridge_socket_connect,
    sockets::op_ridge_socket_read,
    sockets::op_ridge_socket_write,
    sockets::op_ridge_socket_shutdown,
    sockets::op_ridge_socket_start_tls,
    sockets::op_ridge_dns_lookup,
    websocket::op_ridge_ws_pair,
    websocket::op_ridge_ws_accept,
    websocket::op_ridge_ws_release,
    websocket::op_ridge_ws_send_text,
    websocket::op_ridge_ws_send_binary,
    websocket::op_ridge_ws_close,
    websocket::op_ridge_ws_next,
    websocket::op_ridge_respond_websocket,
    trace::op_ridge_span_start,
    trace::op_ridge_span_traceparent,
    trace::op_ridge_span_end,
  ],
  esm_entry_point = "ext:ridge/http/10_worker.js",
  esm = [
    dir "../../js",
    "globals/00_globals.js",
    "globals/02_workers_compat.js",
    "trace/04_trace.js",
    "kv/06_kv.js",
    "cache/07_cache.js",
    "assets/07_assets.js",
    "queues/09_queues.js",
    "service/08_service.js",
    "websocket/08_websocket.js",
    "objects/12_objects.js",
    "cloudflare/09_workers.js",
    "cloudflare/10_node.js",
    "cloudflare/11_sockets.js",
    "cloudflare/12_email.js",
    "http/10_worker.js",
  ],
  lazy_loaded_js = [dir "../../js", "ext:deno_net/02_tls.js" = "globals/05_no_client_tls.js"],
);

/// Every extension an isolate runs with, in load order. The snapshot is built
/// from this same list (build.rs), which is what keeps the op tables equal.
pub fn extensions() -> Vec<deno_core::Extension> {
    vec![
        deno_webidl::deno_webidl::init(),
        deno_web::deno_web::init(
            deno_web::BlobStore::default_arc(),
            None,
            false,
            Default::default(),
        ),
        deno_crypto::deno_crypto::init(None),
        deno_fetch::deno_fetch::init(deno_fetch::Options {
            user_agent: USER_AGENT.to_string(),
            resolver: deno_fetch::dns::Resolver::custom(std::sync::Arc::new(net::PolicyResolver)),
            request_builder_hook: Some(net::check_outbound_request),
            root_cert_store_provider: Some(std::sync::Arc::new(net::PolicyRoots)),
            ..Default::default()
        }),
        with_node_modules(ridge::init()),
    ]
}

/// The `ridge` extension with the `node:*` modules (listed by build.rs
/// from `js/node/`, so not in the `extension!` macro's fixed list).
fn with_node_modules(mut ridge: deno_core::Extension) -> deno_core::Extension {
    let mut files = ridge.esm_files.to_vec();
    files.extend(node::node_files());
    ridge.esm_files = std::borrow::Cow::Owned(files);
    ridge
}

/// The User-Agent of outbound `fetch` requests.
pub const USER_AGENT: &str = concat!("Ridge/", env!("CARGO_PKG_VERSION"));

/// Largest chunk read from a worker's stream at once.
const STREAM_READ_SIZE: usize = 64 * 1024;

/// Reads a worker's stream (a `resourceForReadableStream` resource) into
/// one buffer, stopping once it holds `limit` bytes (the caller refuses or
/// skips what is that large). The stream is closed either way.
pub async fn read_stream(
    state: &Rc<RefCell<OpState>>,
    rid: ResourceId,
    limit: usize,
) -> Result<Bytes, deno_error::JsErrorBox> {
    let source = state
        .borrow()
        .resource_table
        .get_any(rid)
        .map_err(deno_error::JsErrorBox::from_err)?;
    let mut buffer = BytesMut::new();
    let outcome = loop {
        match source.clone().read(STREAM_READ_SIZE).await {
            Ok(view) if view.is_empty() => break Ok(()),
            Ok(view) => {
                buffer.extend_from_slice(&view);
                if buffer.len() >= limit {
                    break Ok(());
                }
            }
            Err(error) => break Err(error),
        }
    };
    close_stream(state, rid);
    outcome.map(|()| buffer.freeze())
}

/// Closes a stream resource, cancelling the JS stream if unfinished.
pub fn close_stream(state: &Rc<RefCell<OpState>>, rid: ResourceId) {
    if let Ok(resource) = state.borrow_mut().resource_table.take_any(rid) {
        resource.close();
    }
}
