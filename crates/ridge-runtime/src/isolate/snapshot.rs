//! The startup snapshot made by build.rs: the Web APIs and Ridge's JS glue,
//! already evaluated, which every isolate deserializes instead of running.

/// The V8 startup snapshot.
pub static RUNTIME_SNAPSHOT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/RIDGE_SNAPSHOT.bin"));

// RESIDUAL_LAZY_JS and RESIDUAL_LAZY_ESM: extension sources the snapshot did
// not evaluate, kept for extensions that load them on demand.
include!(concat!(env!("OUT_DIR"), "/residual_sources.rs"));
