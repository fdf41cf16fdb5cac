//! Integration tests: each starts the real `ridge` binary on 127.0.0.1 with
//! port 0 and talks to it over real sockets with real HTTP clients.

mod support;

mod control;
mod errors;
mod examples;
mod http;
mod isolates;
mod limits;
mod routing;
mod streaming;
mod web_api;
mod worker_model;
