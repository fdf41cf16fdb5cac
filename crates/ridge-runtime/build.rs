//! Builds the startup snapshot every isolate starts from: the Web APIs from
//! Deno's extension crates plus Ridge's JS glue (`js/`), evaluated once here
//! instead of in every isolate.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use deno_core::snapshot::{create_snapshot, CreateSnapshotOptions};
use deno_core::{ExtensionFileSource, ExtensionFileSourceCode};
// The same extension list the runtime uses (crates/ridge-ext): the snapshot
// and the runtime must register identical ops or V8 refuses the snapshot.
use ridge_ext as ops;

fn main() {
    println!("cargo:rerun-if-changed=../../js");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    let output = create_snapshot(
        CreateSnapshotOptions {
            cargo_manifest_dir: env!("CARGO_MANIFEST_DIR"),
            startup_snapshot: None,
            skip_op_registration: false,
            extensions: ops::extensions(),
            extension_transpiler: None,
            with_runtime_cb: None,
        },
        None,
    )
    .unwrap_or_else(|error| panic!("creating the startup snapshot failed: {error}"));
    std::fs::write(out_dir.join("RIDGE_SNAPSHOT.bin"), &output.output).expect("write snapshot");
    for path in &output.files_loaded_during_snapshot {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    // Extension scripts the snapshot did not evaluate (Ridge's globals never
    // load them) must still be reachable if an extension asks for one later.
    let consumed: HashSet<String> = output.consumed_lazy_specifiers.into_iter().collect();
    let mut scripts = Vec::new();
    let mut modules = Vec::new();
    for extension in ops::extensions() {
        for file in extension.lazy_loaded_js_files.iter() {
            if let Some(source) = residual_source(file, &consumed) {
                scripts.push((file.specifier, deno_core::wrap_lazy_ext_script(&source)));
            }
        }
        for file in extension.lazy_loaded_esm_files.iter() {
            if let Some(source) = residual_source(file, &consumed) {
                modules.push((file.specifier, source));
            }
        }
    }
    scripts.sort();
    modules.sort();
    let mut table = String::new();
    for (name, entries) in [
        ("RESIDUAL_LAZY_JS", &scripts),
        ("RESIDUAL_LAZY_ESM", &modules),
    ] {
        writeln!(table, "pub static {name}: &[(&str, &str)] = &[").unwrap();
        for (specifier, source) in entries.iter() {
            writeln!(table, "  ({specifier:?}, {source:?}),").unwrap();
        }
        writeln!(table, "];").unwrap();
    }
    std::fs::write(out_dir.join("residual_sources.rs"), table).expect("write residual sources");
}

/// The source of a lazily loaded extension file that the snapshot did not
/// consume. deno_core requires these to be ASCII; files that are not are
/// left out (none of them is reachable from worker code).
fn residual_source(file: &ExtensionFileSource, consumed: &HashSet<String>) -> Option<String> {
    if consumed.contains(file.specifier) {
        return None;
    }
    let source = match &file.code {
        ExtensionFileSourceCode::LoadedFromFsDuringSnapshot(path) => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read_to_string(path).ok()?
        }
        ExtensionFileSourceCode::LoadedFromMemoryDuringSnapshot(code) => code.to_string(),
        _ => return None,
    };
    source.is_ascii().then_some(source)
}
