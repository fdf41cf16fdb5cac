//! Ridge: an edge-worker runtime. Cloudflare-style JavaScript/WebAssembly
//! workers, each in its own V8 isolate, served over HTTP/1.1 and HTTP/2.
//!
//! Start with [`server::EdgeHandler`] (HTTP in), [`isolate::Scheduler`]
//! (which isolate thread runs a request) and the `ridge-ext` crate (the JS
//! bridge). Plain types live in `ridge-core`; storage, KV, the Cache API and
//! deploy-time checks in their own crates, which know nothing of V8.

pub mod client;
pub mod cron;
pub mod dev;
pub mod isolate;
pub mod node;
pub mod observe;
pub mod server;
pub mod worker;
