//! Ridge: an edge-worker runtime. Cloudflare-style JavaScript/WebAssembly
//! workers, each in its own V8 isolate, served over HTTP/1.1 and HTTP/2.
//!
//! Start with [`server::EdgeHandler`] (HTTP in), [`isolate::Scheduler`]
//! (which isolate thread runs a request) and [`ops`] (the JS bridge).

pub mod cache;
pub mod client;
pub mod clock;
pub mod config;
pub mod cron;
pub mod deploy;
pub mod dev;
pub mod isolate;
pub mod kv;
pub mod node;
pub mod observe;
pub mod ops;
pub mod server;
pub mod store;
pub mod ttl;
pub mod worker;
