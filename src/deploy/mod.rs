//! What a worker version is made of: its bundle of modules. Parsing and
//! validating uploads will live here too; nothing in this module touches V8.

pub mod bundle;

pub use bundle::{Bundle, BundleError, Module, ModuleKind};
