//! Workers Static Assets: files served beside (or instead of) a worker,
//! from Rust, without entering an isolate. `config` reads the `assets`
//! section; `manifest` turns a folder into a content-addressed manifest;
//! `headers` and `redirects` are the `_headers` and `_redirects` files;
//! `resolve` maps a path to a file under the `html_handling` and
//! `not_found_handling` rules; `serve` decides between the worker and the
//! assets and makes the responses; `files` says where content comes from.

pub mod config;
pub mod files;
pub mod headers;
pub mod manifest;
mod pattern;
pub mod redirects;
pub mod resolve;
pub mod serve;

pub use config::{AssetSettings, AssetsSection, HtmlHandling, NotFoundHandling, RunWorkerFirst};
pub use files::{AssetFiles, Directory, HotCache};
pub use manifest::{collect, content_hash, Collected, Manifest, ManifestEntry, ManifestError};
pub use serve::{AssetBody, Assets, AssetsError, Plan};
