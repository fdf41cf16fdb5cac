//! CommonJS modules as ES modules. Each CommonJS file becomes an ES module
//! that imports the modules its `require()` calls name and exports one
//! function, which runs the original code in Node's function wrapper the
//! first time it is called: `require` calls it, so CommonJS code runs
//! lazily, in the order its `require` calls run, and a cycle gets a partly
//! filled `module.exports`, as in Node. ES modules import a second, small
//! module instead (its facade), which calls that function and exports
//! `module.exports` as `default` plus the names Node's analysis finds, so
//! `import { x } from "cjs-package"` works as it does with Node and
//! esbuild. The wrapper's header sits on the code's first line, so line
//! numbers in stack traces stay those of the original file.

use std::fmt::Write;

/// The function every wrapped module exports; `require` calls it.
pub const INIT: &str = "__ridge_cjs";

/// The name of the facade ES modules import for the CommonJS module `name`.
pub fn facade_name(name: &str) -> String {
    format!("{name}.esm.js")
}

/// What a `require()` specifier leads to, for the wrapper's table.
pub enum Required {
    /// Another wrapped CommonJS module, by its import specifier.
    CommonJs(String),
    /// An ES module: `require` returns its namespace, marked
    /// `__esModule` (esbuild's interop).
    EsModule(String),
    /// JSON, text, Wasm or data, or a Node.js built-in (whose default
    /// export is what `require` returns in Node): its default export.
    Value(String),
    /// A module the runtime provides (`cloudflare:workers`).
    Runtime(String),
    /// Nothing (`"browser": { "x": false }`): an empty object.
    Empty,
}

/// The wrapper around `source` (a CommonJS module named `name`):
/// `requires` are the literal specifiers its `require()` calls use, with
/// what each leads to.
pub fn wrap(name: &str, source: &str, requires: &[(String, Required)]) -> String {
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
                // One object per module, made on the first `require`.
                let _ = write!(
                    out,
                    "import * as {local} from {}; var {local}_cjs;",
                    quote(path)
                );
                format!("{local}_cjs ??= {{ __esModule: true, ...{local} }}")
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
         const error = new Error(\"Cannot find module '\" + specifier + \"' from \" + {}); error.code = 'MODULE_NOT_FOUND'; throw error; }}; \
         (function (exports, require, module, __filename, __dirname) {{ ",
        quote(&filename)
    );
    // A hashbang line is only allowed at the very start of a file.
    match source.strip_prefix("#!") {
        Some(rest) => {
            out.push_str("//");
            out.push_str(rest);
        }
        None => out.push_str(source),
    }
    let _ = writeln!(
        out,
        "\n}}).call(__ridge_module.exports, __ridge_module.exports, require, __ridge_module, {}, {}); }} \
         return __ridge_module.exports; }}",
        quote(&filename),
        quote(dirname),
    );
    out
}

/// The facade of a wrapped CommonJS module (imported as `wrapped`) for ES
/// modules: `module.exports` as `default` (its `default` when it sets
/// `__esModule`, as esbuild does), and `exports` by name.
pub fn facade(wrapped: &str, exports: &[String]) -> String {
    let mut out = format!(
        "import {{ {INIT} }} from {};\n\
         const exports = {INIT}();\n\
         export default exports && exports.__esModule && \"default\" in exports ? exports.default : exports;\n",
        quote(wrapped)
    );
    for (index, export) in exports
        .iter()
        .filter(|e| *e != "default" && *e != "__esModule")
        .enumerate()
    {
        let _ = writeln!(
            out,
            "const e{index} = exports[{0}]; export {{ e{index} as {0} }};",
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
            "lib/x`${y}.js",
            source,
            &[("./a".into(), Required::CommonJs("./a.js".into()))],
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
        // Names are quoted as strings, never pasted into code.
        assert!(wrapped.contains("\"/lib/x`${y}.js\", \"/lib\""));
        // Nothing runs until the module is required.
        assert!(!wrapped.contains(&format!("= {INIT}()")));
    }

    #[test]
    fn the_facade_exports_default_and_names() {
        let facade = facade("./x.js", &["b".into(), "default".into()]);
        assert!(facade.contains("import { __ridge_cjs } from \"./x.js\";"));
        assert!(facade.contains("export { e0 as \"b\" }"));
        assert!(!facade.contains("as \"default\""));
    }
}
