//! Node.js compatibility (`nodejs_compat`): Ridge's `node:*` modules. Their
//! JavaScript is in `js/node/` (one file per module, helpers under
//! `internal/`); build.rs lists the files, and this module adds them to the
//! extension. The Rust ops that make hashing, ciphers and compression fast
//! are in `crypto.rs` and `zlib.rs`.

include!(concat!(env!("OUT_DIR"), "/node_files.rs"));

#[cfg(test)]
mod tests {
    use super::NODE_MODULE_FILES;

    #[test]
    fn the_module_list_is_the_files() {
        let mut listed: Vec<&str> = ridge_core::compat::NODE_MODULES
            .iter()
            .chain(ridge_core::compat::NODE_UNSUPPORTED_MODULES)
            .copied()
            .collect();
        listed.sort_unstable();
        assert_eq!(
            listed, NODE_MODULE_FILES,
            "ridge-core's compat::NODE_MODULES must list js/node/'s public modules"
        );
    }
}
