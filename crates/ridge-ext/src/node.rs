//! Node.js compatibility (`nodejs_compat`): Ridge's `node:*` modules. Their
//! JavaScript is in `js/node/` (one file per module, helpers under
//! `internal/`); build.rs lists the files, and this module adds them to the
//! extension, with the one op `util.inspect` needs from the engine. The
//! Rust parts of `node:crypto` and `node:zlib` are in `crypto.rs`,
//! `cipher.rs`, `keys.rs` and `zlib.rs`.

include!(concat!(env!("OUT_DIR"), "/node_files.rs"));

use deno_core::op2;
use deno_core::v8;

/// What `util.inspect` shows of a Map or Set iterator, a WeakMap or a
/// WeakSet: V8's preview of the entries, which reads an iterator without
/// consuming it. `[entries, isKeyValue]`, or undefined for other values.
#[op2]
pub fn op_ridge_preview_entries<'s, 'i>(
    scope: &mut v8::PinScope<'s, 'i>,
    value: v8::Local<'s, v8::Value>,
) -> v8::Local<'s, v8::Value> {
    let Ok(object) = v8::Local::<v8::Object>::try_from(value) else {
        return v8::undefined(scope).into();
    };
    let (entries, is_key_value) = object.preview_entries(scope);
    let Some(entries) = entries else {
        return v8::undefined(scope).into();
    };
    let is_key_value = v8::Boolean::new(scope, is_key_value);
    v8::Array::new_with_elements(scope, &[entries.into(), is_key_value.into()]).into()
}

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
