//! CommonJS modules as ES modules. Each CommonJS file becomes an ES module
//! that imports the modules its `require()` calls name, runs the original
//! code in Node's function wrapper the first time it is required (lazily,
//! so cycles get a partly filled `module.exports` as in Node), and exports
//! `module.exports` as `default` plus the names Node's analysis finds, so
//! `import { x } from "cjs-package"` works as it does with Node and
//! esbuild. The wrapper's header sits on the code's first line, so line
//! numbers in stack traces stay those of the original file.

use std::fmt::Write;

/// The function every wrapped module exports; `require` calls it.
pub const INIT: &str = "__ridge_cjs";

/// What a `require()` specifier leads to, for the wrapper's table.
pub enum Required {
    /// Another wrapped CommonJS module, by its import specifier.
    CommonJs(String),
    /// An ES module: `require` returns its namespace, marked
    /// `__esModule` (esbuild's interop).
    EsModule(String),
    /// JSON, text, Wasm or data: `require` returns its value.
    Value(String),
    /// A module the runtime provides (`cloudflare:workers`).
    Runtime(String),
    /// Nothing (`"browser": { "x": false }`): an empty object.
    Empty,
}

/// The wrapper around `source` (a CommonJS module named `name`):
/// `requires` are the literal specifiers its `require()` calls use with
/// what each leads to; `exports` the names to export besides `default`.
pub fn wrap(
    name: &str,
    source: &str,
    requires: &[(String, Required)],
    exports: &[String],
) -> String {
    let mut out = String::with_capacity(source.len() + 512);
    let mut cases = String::new();
    for (index, (specifier, required)) in requires.iter().enumerate() {
        let local = format!("__ridge_{index}");
        let value = match required {
            Required::CommonJs(path) => {
                let _ = write!(out, "import * as {local} from {};", quote(path));
                format!("{local}.{INIT}()")
            }
            Required::EsModule(path) | Required::Runtime(path) => {
                let _ = write!(out, "import * as {local} from {};", quote(path));
                format!("{{ __esModule: true, ...{local} }}")
            }
            Required::Value(path) => {
                let _ = write!(out, "import {local} from {};", quote(path));
                local
            }
            Required::Empty => "{}".to_string(),
        };
        let _ = write!(cases, "case {}: return {value};", quote(specifier));
    }
    let filename = format!("/{name}");
    let dirname = filename
        .rsplit_once('/')
        .map(|(dir, _)| if dir.is_empty() { "/" } else { dir })
        .unwrap_or("/");
    let _ = write!(
        out,
        "var __ridge_module; export function {INIT}() {{ if (__ridge_module === undefined) {{ \
         __ridge_module = {{ exports: {{}} }}; \
         const require = (specifier) => {{ switch (specifier) {{ {cases} }} \
         const error = new Error(`Cannot find module '${{specifier}}' from '{filename}'`); error.code = 'MODULE_NOT_FOUND'; throw error; }}; \
         (function (exports, require, module, __filename, __dirname) {{ "
    );
    // A hashbang line is only allowed at the very start of a file.
    match source.strip_prefix("#!") {
        Some(rest) => {
            out.push_str("//");
            out.push_str(rest);
        }
        None => out.push_str(source),
    }
    let _ = write!(
        out,
        "\n}}).call(__ridge_module.exports, __ridge_module.exports, require, __ridge_module, {}, {}); }} \
         return __ridge_module.exports; }}\n\
         const __ridge_exports = {INIT}();\n\
         export default __ridge_exports && __ridge_exports.__esModule && \"default\" in __ridge_exports ? __ridge_exports.default : __ridge_exports;\n",
        quote(&filename),
        quote(dirname),
    );
    for (index, export) in exports
        .iter()
        .filter(|e| *e != "default" && *e != "__esModule" && *e != INIT)
        .enumerate()
    {
        let _ = writeln!(
            out,
            "const __ridge_e{index} = __ridge_exports[{0}]; export {{ __ridge_e{index} as {0} }};",
            quote(export)
        );
    }
    out
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_keeps_line_numbers() {
        let source = "const a = require('./a');\nexports.b = a + 1;\nthrow new Error('line 3');";
        let wrapped = wrap(
            "lib/x.js",
            source,
            &[("./a".into(), Required::CommonJs("./a.js".into()))],
            &["b".into()],
        );
        let line_of = |needle: &str| {
            wrapped
                .lines()
                .position(|line| line.contains(needle))
                .unwrap()
                + 1
        };
        assert_eq!(line_of("require('./a')"), 1);
        assert_eq!(line_of("line 3"), 3);
        assert!(wrapped.contains("import * as __ridge_0 from \"./a.js\";"));
        assert!(wrapped.contains("export { __ridge_e0 as \"b\" }"));
        assert!(wrapped.contains("\"/lib/x.js\", \"/lib\""));
    }
}
