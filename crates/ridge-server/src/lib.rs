//! The data plane: HTTP/1.1 and HTTP/2 (cleartext and TLS) and HTTP/3 in
//! front of the isolate scheduler, with host/path routing to workers
//! (requests become `Invocation`s in `handler`); the admin API; and, on a
//! node with a store, the routing table kept equal to the store's active
//! versions (`active`), whose static assets come from the store
//! (`stored_assets`).

pub mod active;
pub mod admin;
mod admin_assets;
mod admin_kv;
mod admin_objects;
mod admin_observe;
mod admin_queues;
pub mod body;
pub mod connections;
pub mod edge;
pub mod h3;
pub mod handler;
pub mod router;
pub mod stored_assets;
pub mod tcp;
pub mod tls;
pub mod websocket;

pub use active::ActiveVersions;
pub use connections::ConnectionLimits;
pub use edge::{start_edge, Edge, EdgeOptions};
pub use handler::{EdgeHandler, ErrorDetail};
pub use router::Router;
pub use tcp::{admin_service, edge_service, serve_tcp, ConnectionHome, ServerHandle, Service};
