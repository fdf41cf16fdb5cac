//! Integration tests: each starts the real `ridge` binary (or, in
//! `in_process`, a node of the library in this process) on 127.0.0.1 with
//! port 0 and talks to it over real sockets with real HTTP clients.

mod accept_any_tls;
mod support;

#[macro_use]
mod control;
mod adversarial;
mod assets;
mod cache_api;
mod conformance;
mod cron;
mod dev;
mod errors;
mod examples;
mod http;
mod http3;
mod in_process;
mod isolates;
mod kv;
mod limits;
mod node_compat;
mod objects;
mod observability;
mod projects;
mod queues;
mod routing;
mod services;
mod snapshots;
mod sockets;
mod streaming;
mod traces;
mod web_api;
mod websocket;
mod worker_model;
