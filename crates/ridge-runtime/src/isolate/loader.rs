//! Resolves and loads a worker's modules from its bundle (never from disk or
//! the network), the way Cloudflare does: `.wasm` imports become a
//! `WebAssembly.Module`, text files a string, `.json` the parsed value and
//! `.bin` an `ArrayBuffer`.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::Arc;

use deno_core::v8;
use deno_core::{
    CustomModuleEvaluationKind, FastString, ModuleLoadOptions, ModuleLoadReferrer,
    ModuleLoadResponse, ModuleLoader, ModuleResolveResponse, ModuleSource, ModuleSourceCode,
    ModuleSpecifier, ModuleType, RequestedModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;

use super::typescript;
use crate::worker::WorkerVersion;
use ridge_deploy::{Bundle, Module, ModuleKind};

/// Module specifiers of a worker are `file:///<module name>`.
pub fn module_specifier(name: &str) -> ModuleSpecifier {
    ModuleSpecifier::parse(&format!("file:///{name}")).expect("module names are valid URL paths")
}

/// The module of Workers' base classes and `env` (js/cloudflare/09_workers.js
/// registers them under a global symbol; this re-exports them).
const CLOUDFLARE_WORKERS: &str = ridge_deploy::graph::RUNTIME_MODULES[0];
const CLOUDFLARE_WORKERS_SOURCE: &str =
    "const workers = globalThis[Symbol.for(\"ridge:cloudflare:workers\")];\n\
export const { WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget, env, exports } = workers;\n";

/// Node's `http` servers as fetch handlers (js/cloudflare/10_node.js
/// registers them; this re-exports them).
const CLOUDFLARE_NODE: &str = ridge_deploy::graph::RUNTIME_MODULES[1];
const CLOUDFLARE_NODE_SOURCE: &str =
    "export const { handleAsNodeRequest, httpServerHandler } = globalThis[Symbol.for(\"ridge:cloudflare:node\")];\n";

/// Outbound TCP sockets (js/cloudflare/11_sockets.js registers `connect`).
const CLOUDFLARE_SOCKETS: &str = ridge_deploy::graph::RUNTIME_MODULES[2];
const CLOUDFLARE_SOCKETS_SOURCE: &str =
    "const sockets = globalThis[Symbol.for(\"ridge:cloudflare:sockets\")];\n\
export const { connect } = sockets;\n\
export default sockets;\n";

/// EmailMessage (js/cloudflare/12_email.js registers it).
const CLOUDFLARE_EMAIL: &str = ridge_deploy::graph::RUNTIME_MODULES[3];
const CLOUDFLARE_EMAIL_SOURCE: &str =
    "export const { EmailMessage } = globalThis[Symbol.for(\"ridge:cloudflare:email\")];\n";

const WASM: &str = "ridge-wasm";
const TEXT: &str = "ridge-text";
const JSON: &str = "ridge-json";
const DATA: &str = "ridge-data";

/// Loads the modules of the worker version an isolate runs. Pre-warmed
/// isolates are created before their worker is known, so the version is set
/// when the isolate is assigned.
#[derive(Default)]
pub struct BundleLoader {
    version: OnceCell<Arc<WorkerVersion>>,
}

impl BundleLoader {
    pub fn set_version(&self, version: Arc<WorkerVersion>) {
        let _ = self.version.set(version);
    }

    /// A Node.js built-in: `node:x`, or `x` under nodejs_compat v2. The
    /// modules are in the startup snapshot's module map already (js/node/),
    /// so resolving is all there is to do.
    fn node_builtin(&self, specifier: &str, referrer: &str) -> Option<ModuleResolveResponse> {
        let node = self.version.get()?.node_compat();
        let name = match specifier.strip_prefix("node:") {
            Some(name) => name,
            None if node.v2 && ridge_core::compat::is_node_module(specifier) => specifier,
            None => return None,
        };
        if !node.modules || !ridge_core::compat::is_node_module(name) {
            // workerd's words, and what to do about it.
            let hint = match node.modules {
                true => "Ridge does not provide this Node.js module",
                false => "add \"nodejs_compat\" to the worker's compatibility_flags to use Node.js modules",
            };
            return Some(Err(JsErrorBox::generic(format!(
                "No such module \"{specifier}\" (imported from \"{referrer}\"): {hint}"
            ))));
        }
        Some(ModuleSpecifier::parse(&format!("node:{name}")).map_err(JsErrorBox::from_err))
    }

    fn bundle(&self) -> Option<&Bundle> {
        self.version.get().map(|v| &v.bundle)
    }

    /// The module an import names: the exact name, or, as TypeScript code
    /// writes its imports, `./lib.js` for `lib.ts` and `./lib` for `lib.ts`
    /// or `lib.js`.
    fn find_module(&self, name: &str) -> Option<&Module> {
        let modules = &self.bundle()?.modules;
        let stem = name.strip_suffix(".js").unwrap_or(name);
        [
            name.to_string(),
            format!("{stem}.ts"),
            format!("{stem}.mts"),
            format!("{name}.js"),
        ]
        .iter()
        .find_map(|candidate| modules.get(candidate))
    }
}

fn module_name(specifier: &ModuleSpecifier) -> String {
    let path = specifier.path().trim_start_matches('/');
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

impl ModuleLoader for BundleLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> ModuleResolveResponse {
        if ridge_deploy::graph::RUNTIME_MODULES.contains(&specifier) {
            return Ok(ModuleSpecifier::parse(specifier).expect("a valid URL"));
        }
        let is_path = specifier.starts_with("./")
            || specifier.starts_with("../")
            || specifier.starts_with('/');
        if let Some(resolved) = self.node_builtin(specifier, referrer) {
            return resolved;
        }
        if !is_path && !specifier.starts_with("file:///") {
            return Err(JsErrorBox::type_error(format!(
                "Cannot resolve \"{specifier}\" from \"{referrer}\": the bundle has no such module (packages from npm are collected into the bundle by `ridge dev` and `ridge deploy`, from node_modules)"
            )));
        }
        deno_core::resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
    }

    /// Source maps of transpiled TypeScript, so stack traces name `.ts`
    /// lines, and the inline maps of modules compiled when the bundle was
    /// collected (JSX), so they name the `.tsx` lines.
    fn get_source_map(&self, file_name: &str) -> Option<Cow<'_, [u8]>> {
        let specifier = ModuleSpecifier::parse(file_name).ok()?;
        let module = self.find_module(&module_name(&specifier))?;
        match module.kind {
            ModuleKind::TypeScript => typescript::source_map(specifier.as_str(), &module.content)
                .map(|map| Cow::Owned(map.to_vec())),
            ModuleKind::JavaScript => inline_source_map(&module.content).map(Cow::Owned),
            _ => None,
        }
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        referrer: Option<&ModuleLoadReferrer>,
        options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let runtime_source = match specifier.as_str() {
            CLOUDFLARE_WORKERS => Some(CLOUDFLARE_WORKERS_SOURCE),
            CLOUDFLARE_NODE => Some(CLOUDFLARE_NODE_SOURCE),
            CLOUDFLARE_SOCKETS => Some(CLOUDFLARE_SOCKETS_SOURCE),
            CLOUDFLARE_EMAIL => Some(CLOUDFLARE_EMAIL_SOURCE),
            _ => None,
        };
        if let Some(source) = runtime_source {
            return ModuleLoadResponse::Sync(Ok(ModuleSource::new(
                ModuleType::JavaScript,
                ModuleSourceCode::String(FastString::from_static(source)),
                specifier,
                None,
            )));
        }
        let name = module_name(specifier);
        let Some(module) = self.find_module(&name) else {
            let from = referrer
                .map(|r| format!(" (imported from {})", r.specifier))
                .unwrap_or_default();
            // A plain Error, as workerd throws for a missing module.
            return ModuleLoadResponse::Sync(Err(JsErrorBox::generic(format!(
                "Module not found: \"{name}\" is not part of the worker's bundle{from}"
            ))));
        };
        let text = || {
            ModuleSourceCode::String(FastString::from(
                String::from_utf8_lossy(&module.content).into_owned(),
            ))
        };
        let bytes = || {
            ModuleSourceCode::Bytes(deno_core::ModuleCodeBytes::Boxed(
                module.content.to_vec().into_boxed_slice(),
            ))
        };
        let data_type = match module.kind {
            ModuleKind::JavaScript => {
                return ModuleLoadResponse::Sync(Ok(ModuleSource::new(
                    ModuleType::JavaScript,
                    text(),
                    specifier,
                    None,
                )));
            }
            ModuleKind::TypeScript => {
                let source = typescript::transpile(specifier, &module.content)
                    .map(|transpiled| {
                        ModuleSource::new(
                            ModuleType::JavaScript,
                            ModuleSourceCode::String(transpiled.code.to_string().into()),
                            specifier,
                            None,
                        )
                    })
                    .map_err(|message| JsErrorBox::new("SyntaxError", message));
                return ModuleLoadResponse::Sync(source);
            }
            ModuleKind::Wasm => WASM,
            ModuleKind::Text => TEXT,
            ModuleKind::Json => JSON,
            ModuleKind::Data => DATA,
        };
        // deno_core registers a module under the type its import asked for, and a
        // plain `import x from "./a.wasm"` asks for JavaScript. So the plain
        // import gets a one-line JavaScript module that re-imports the same file
        // with Ridge's own type attribute; that second load is evaluated into its
        // value by `evaluate_data_module`.
        let requested_data = matches!(&options.requested_module_type, RequestedModuleType::Other(t) if t.as_ref() == data_type);
        let source = if requested_data {
            let code = if module.kind == ModuleKind::Wasm || module.kind == ModuleKind::Data {
                bytes()
            } else {
                text()
            };
            ModuleSource::new(
                ModuleType::Other(Cow::Borrowed(data_type)),
                code,
                specifier,
                None,
            )
        } else {
            let reexport = format!(
                "export {{ default }} from {:?} with {{ type: {data_type:?} }};",
                specifier.as_str()
            );
            ModuleSource::new(
                ModuleType::JavaScript,
                ModuleSourceCode::String(reexport.into()),
                specifier,
                None,
            )
        };
        ModuleLoadResponse::Sync(Ok(source))
    }
}

/// The source map a module ends with, as
/// `//# sourceMappingURL=data:application/json,<percent-encoded JSON>`.
fn inline_source_map(content: &[u8]) -> Option<Vec<u8>> {
    const MARKER: &[u8] = b"//# sourceMappingURL=data:application/json,";
    let at = content.windows(MARKER.len()).rposition(|w| w == MARKER)?;
    let encoded = content[at + MARKER.len()..].trim_ascii_end();
    Some(percent_encoding::percent_decode(encoded).collect())
}

/// Evaluates the non-JavaScript module types into their default export.
pub fn evaluate_data_module(
    scope: &mut v8::PinScope,
    module_type: Cow<'_, str>,
    name: &FastString,
    code: ModuleSourceCode,
) -> Result<CustomModuleEvaluationKind, JsErrorBox> {
    let name = name.as_str();
    let value: v8::Local<v8::Value> = match (module_type.as_ref(), code) {
        (WASM, ModuleSourceCode::Bytes(bytes)) => {
            let wire = {
                let _allowed = WasmCompileAllowed::enter();
                v8::WasmModuleObject::compile(scope, bytes.as_bytes())
            };
            wire.ok_or_else(|| {
                JsErrorBox::new(
                    "CompileError",
                    format!("{name} is not a valid WebAssembly module"),
                )
            })?
            .into()
        }
        (TEXT, ModuleSourceCode::String(text)) => v8::String::new(scope, text.as_str())
            .ok_or_else(|| JsErrorBox::range_error(format!("{name} is too large to be a string")))?
            .into(),
        (JSON, ModuleSourceCode::String(text)) => {
            let source = v8::String::new(scope, text.as_str()).ok_or_else(|| {
                JsErrorBox::range_error(format!("{name} is too large to be a string"))
            })?;
            v8::tc_scope!(let tc, scope);
            match v8::json::parse(tc, source) {
                Some(value) => value,
                None => {
                    let detail = tc
                        .exception()
                        .map(|e| e.to_rust_string_lossy(tc))
                        .unwrap_or_else(|| "invalid JSON".to_string());
                    return Err(JsErrorBox::new(
                        "SyntaxError",
                        format!("{name} is not valid JSON: {detail}"),
                    ));
                }
            }
        }
        (DATA, ModuleSourceCode::Bytes(bytes)) => {
            let store = v8::ArrayBuffer::new_backing_store_from_vec(bytes.as_bytes().to_vec())
                .make_shared();
            v8::ArrayBuffer::with_backing_store(scope, &store).into()
        }
        (other, _) => {
            return Err(JsErrorBox::type_error(format!(
                "{name}: unknown module type {other}"
            )))
        }
    };
    Ok(CustomModuleEvaluationKind::Synthetic(v8::Global::new(
        scope, value,
    )))
}

thread_local! {
    /// True while the loader compiles one of the bundle's `.wasm` modules.
    static COMPILING_BUNDLE_WASM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Allows WebAssembly compilation while alive: the bundle's own `.wasm`
/// modules compile, while worker code cannot compile bytes it makes at run
/// time (as on Cloudflare, where that is code generation, like `eval`).
struct WasmCompileAllowed;

impl WasmCompileAllowed {
    fn enter() -> Self {
        COMPILING_BUNDLE_WASM.with(|allowed| allowed.set(true));
        Self
    }
}

impl Drop for WasmCompileAllowed {
    fn drop(&mut self) {
        COMPILING_BUNDLE_WASM.with(|allowed| allowed.set(false));
    }
}

/// V8 asks this before compiling WebAssembly (see [`WasmCompileAllowed`]).
///
/// # Safety
///
/// Only V8 calls it, with handles valid for the call; it reads neither.
pub unsafe extern "C" fn allow_wasm_code_generation(
    _context: v8::Local<v8::Context>,
    _source: v8::Local<v8::String>,
) -> bool {
    COMPILING_BUNDLE_WASM.with(|allowed| allowed.get())
}
