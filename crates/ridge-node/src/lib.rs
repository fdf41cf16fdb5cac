//! What a node runs besides its listeners: the cron runner ([`cron`]) and
//! `ridge dev`'s tooling ([`dev`]: watching and checked reloads, the
//! DevTools inspector).

pub mod cron;
pub mod dev;
