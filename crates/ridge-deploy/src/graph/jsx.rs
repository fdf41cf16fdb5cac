//! JSX (`.jsx`, `.tsx`): turned into JavaScript when the graph is
//! collected, as esbuild does for wrangler, with the settings of the
//! project's `tsconfig.json` (or `jsconfig.json`): `"jsx": "react-jsx"`
//! and `jsxImportSource` for the automatic runtime (Hono's `hono/jsx`,
//! React's `react`), otherwise the classic `jsxFactory` and
//! `jsxFragmentFactory` (or the configuration's `jsx_factory` and
//! `jsx_fragment`). The JavaScript carries a source map back to the JSX
//! file, which the runtime's loader applies to stack traces.

use std::path::Path;

use deno_ast::{
    EmitOptions, JsxAutomaticOptions, JsxClassicOptions, JsxRuntime, MediaType, ParseParams,
    SourceMapOption, TranspileModuleOptions, TranspileOptions,
};

use super::analyze::SyntaxError;
use crate::config::WorkerConfig;

/// How the project's JSX is compiled.
pub fn runtime(config: &WorkerConfig, root: &Path) -> JsxRuntime {
    let options = ["tsconfig.json", "jsconfig.json"]
        .iter()
        .find_map(|name| {
            let mut text = std::fs::read_to_string(root.join(name)).ok()?;
            json_strip_comments::strip(&mut text).ok()?;
            let tree: serde_json::Value = serde_json::from_str(&text).ok()?;
            Some(tree.get("compilerOptions")?.clone())
        })
        .unwrap_or_default();
    let option = |key: &str| {
        options
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match option("jsx").as_deref() {
        Some(mode @ ("react-jsx" | "react-jsxdev")) => JsxRuntime::Automatic(JsxAutomaticOptions {
            development: mode == "react-jsxdev",
            import_source: Some(option("jsxImportSource").unwrap_or_else(|| "react".into())),
        }),
        _ => JsxRuntime::Classic(JsxClassicOptions {
            factory: config
                .jsx_factory
                .clone()
                .or_else(|| option("jsxFactory"))
                .unwrap_or_else(|| "React.createElement".into()),
            fragment_factory: config
                .jsx_fragment
                .clone()
                .or_else(|| option("jsxFragmentFactory"))
                .unwrap_or_else(|| "React.Fragment".into()),
        }),
    }
}

/// JavaScript made from a JSX module, and its source map (JSON).
pub struct Compiled {
    pub code: String,
    pub source_map: Option<String>,
}

/// Compiles the JSX module at `path`; `specifier` names it in the source
/// map (`file:///src/page.tsx`).
pub fn compile(
    path: &Path,
    specifier: &str,
    source: &str,
    runtime: &JsxRuntime,
) -> Result<Compiled, SyntaxError> {
    let syntax_error = |message: String| SyntaxError {
        line: 1,
        column: 1,
        message,
    };
    let parsed = deno_ast::parse_module(ParseParams {
        specifier: deno_ast::ModuleSpecifier::parse(specifier)
            .map_err(|e| syntax_error(e.to_string()))?,
        text: source.into(),
        media_type: MediaType::from_path(path),
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    })
    .map_err(SyntaxError::from)?;
    let emitted = parsed
        .transpile(
            &TranspileOptions {
                jsx: Some(runtime.clone()),
                ..TranspileOptions::default()
            },
            &TranspileModuleOptions::default(),
            &EmitOptions {
                source_map: SourceMapOption::Separate,
                inline_sources: true,
                ..EmitOptions::default()
            },
        )
        .map_err(|error| syntax_error(error.to_string()))?
        .into_source();
    Ok(Compiled {
        code: emitted.text,
        source_map: emitted.source_map,
    })
}

/// The source map as a comment to end the module with (percent-encoded,
/// as the runtime's TypeScript modules carry theirs).
pub fn inline_map(map: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(map, percent_encoding::NON_ALPHANUMERIC);
    format!("\n//# sourceMappingURL=data:application/json,{encoded}\n")
}
