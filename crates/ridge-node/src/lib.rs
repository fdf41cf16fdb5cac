//! A node assembled from the other crates ([`node`]: `ridge dev`,
//! `ridge serve --workers` and `ridge serve` with a store are three
//! configurations of one builder), and what it runs besides its
//! listeners: the cron runner ([`cron`]), the Durable Object alarm runner
//! ([`alarms`]), the queue consumers ([`queues`]) and `ridge dev`'s tooling
//! ([`dev`]: watching and checked reloads, the DevTools inspector).

pub mod alarms;
pub mod cron;
pub mod dev;
pub mod node;
pub mod queues;

pub use node::{DevWorker, IsolateConfig, Node, NodeConfig, NodeError, StoreSource, WorkerSource};
