//! The module graph over small projects written to a temporary folder:
//! Node's resolution edge cases (`exports` patterns and nested conditions,
//! `imports` with `#`, a package importing itself), CommonJS, cycles, and
//! the errors for what cannot be found.

use std::path::PathBuf;

use super::*;
use crate::config::WorkerConfig;

struct Project(PathBuf);

impl Project {
    fn new(files: &[(&str, &str)]) -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("ridge-graph-{}-{n}", std::process::id()));
        for (name, content) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        Self(root)
    }

    fn collect(&self) -> Result<Collected, GraphError> {
        self.collect_with("")
    }

    /// Collects with more configuration (TOML) after `name` and `main`.
    fn collect_with(&self, more: &str) -> Result<Collected, GraphError> {
        let config = WorkerConfig::parse_as(
            &self.0.join("wrangler.toml"),
            &format!("name = \"t\"\nmain = \"src/index.js\"\n{more}"),
            None,
        )
        .unwrap();
        collect(&config, &self.0)
    }

    fn module(collected: &Collected, name: &str) -> String {
        let module = collected
            .bundle
            .modules
            .get(name)
            .unwrap_or_else(|| panic!("{name} in {:?}", collected.bundle.modules.keys()));
        String::from_utf8(module.content.to_vec()).unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(collected: &Collected) -> Vec<&str> {
    collected
        .bundle
        .modules
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn exports_patterns_and_nested_conditions() {
    let project = Project::new(&[
        (
            "src/index.js",
            "import a from \"pkg/features/a\";\nimport b from \"pkg\";\nexport default { a, b };\n",
        ),
        (
            "node_modules/pkg/package.json",
            r#"{
              "name": "pkg",
              "exports": {
                ".": { "node": { "import": "./node.mjs" }, "worker": { "import": "./worker.mjs", "require": "./worker.cjs" }, "default": "./default.mjs" },
                "./features/*": { "browser": "./dist/browser/*.mjs", "default": "./dist/node/*.mjs" }
              }
            }"#,
        ),
        ("node_modules/pkg/node.mjs", "export default 'node';"),
        ("node_modules/pkg/worker.mjs", "export default 'worker';"),
        ("node_modules/pkg/default.mjs", "export default 'default';"),
        (
            "node_modules/pkg/dist/browser/a.mjs",
            "export default 'browser a';",
        ),
        (
            "node_modules/pkg/dist/node/a.mjs",
            "export default 'node a';",
        ),
    ]);
    let collected = project.collect().unwrap();
    assert_eq!(
        names(&collected),
        [
            "node_modules/pkg/dist/browser/a.mjs",
            "node_modules/pkg/worker.mjs",
            "src/index.js"
        ]
    );
    assert!(Project::module(&collected, "src/index.js")
        .contains("from \"../node_modules/pkg/dist/browser/a.mjs\""));
}

#[test]
fn imports_with_a_hash_and_a_package_importing_itself() {
    let project = Project::new(&[
        ("package.json", r##"{ "name": "app", "imports": { "#util": "./src/util.js", "#lib/*": "./src/lib/*.js" }, "exports": { "./helper": "./src/helper.js" } }"##),
        ("src/index.js", "import util from \"#util\";\nimport x from \"#lib/x\";\nimport helper from \"app/helper\";\nexport default { util, x, helper };\n"),
        ("src/util.js", "export default 1;"),
        ("src/lib/x.js", "export default 2;"),
        ("src/helper.js", "export default 3;"),
    ]);
    let collected = project.collect().unwrap();
    assert_eq!(
        names(&collected),
        [
            "src/helper.js",
            "src/index.js",
            "src/lib/x.js",
            "src/util.js"
        ]
    );
    let index = Project::module(&collected, "src/index.js");
    assert!(index.contains("from \"./util.js\""), "{index}");
    assert!(index.contains("from \"./lib/x.js\""), "{index}");
    assert!(index.contains("from \"./helper.js\""), "{index}");
}

#[test]
fn cycles_are_collected_once() {
    let project = Project::new(&[
        (
            "src/index.js",
            "import { a } from \"./a.js\";\nexport default { a };\n",
        ),
        (
            "src/a.js",
            "import { b } from \"./b.js\";\nexport const a = () => b;\n",
        ),
        (
            "src/b.js",
            "import { a } from \"./a.js\";\nexport const b = () => a;\n",
        ),
        // CommonJS modules requiring each other.
        ("src/c.cjs", "const d = require('./d.cjs'); exports.c = 1;"),
        ("src/d.cjs", "const c = require('./c.cjs'); exports.d = 2;"),
    ]);
    let collected = project.collect().unwrap();
    assert_eq!(names(&collected), ["src/a.js", "src/b.js", "src/index.js"]);
    std::fs::write(
        project.0.join("src/index.js"),
        "import { c } from \"./c.cjs\";\nexport default { c };\n",
    )
    .unwrap();
    let collected = project.collect().unwrap();
    assert_eq!(
        names(&collected),
        ["src/c.cjs", "src/c.cjs.esm.js", "src/d.cjs", "src/index.js"]
    );
    let c = Project::module(&collected, "src/c.cjs");
    assert!(c.contains("import * as __ridge_0 from \"./d.cjs\";"), "{c}");
    let facade = Project::module(&collected, "src/c.cjs.esm.js");
    assert!(facade.contains("export { e0 as \"c\" }"), "{facade}");
    assert!(Project::module(&collected, "src/index.js").contains("from \"./c.cjs.esm.js\""));
}

#[test]
fn commonjs_reexports_and_the_browser_field() {
    let project = Project::new(&[
        ("src/index.js", "import { parse, stringify } from \"qs-like\";\nimport fs from \"uses-fs\";\nexport default { parse, stringify, fs };\n"),
        ("node_modules/qs-like/package.json", r#"{ "name": "qs-like", "main": "lib/index.js" }"#),
        ("node_modules/qs-like/lib/index.js", "module.exports = require('./impl');"),
        ("node_modules/qs-like/lib/impl.js", "exports.parse = () => 1;\nexports.stringify = () => 2;\n"),
        ("node_modules/uses-fs/package.json", r#"{ "name": "uses-fs", "main": "index.js", "browser": { "fs": false, "./node.js": "./browser.js" } }"#),
        ("node_modules/uses-fs/index.js", "const fs = require('fs'); module.exports = require('./node.js');"),
        ("node_modules/uses-fs/node.js", "module.exports = 'node';"),
        ("node_modules/uses-fs/browser.js", "module.exports = 'browser';"),
    ]);
    let collected = project.collect().unwrap();
    let index = Project::module(&collected, "node_modules/qs-like/lib/index.js.esm.js");
    // Named exports found through the re-export, as Node finds them.
    assert!(index.contains("as \"parse\""), "{index}");
    assert!(index.contains("as \"stringify\""), "{index}");
    assert!(names(&collected).contains(&"node_modules/uses-fs/browser.js"));
    assert!(!names(&collected).contains(&"node_modules/uses-fs/node.js"));
    assert!(names(&collected).contains(&"__ridge_empty.js"));
}

#[test]
fn what_cannot_be_found_is_named_with_its_importer() {
    let project = Project::new(&[
        ("src/index.js", "import \"./present.js\";\n"),
        (
            "src/present.js",
            "\n\nimport missing from \"./missing.js\";\n",
        ),
    ]);
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.ends_with("src/present.js:3: cannot import \"./missing.js\": no such file"),
        "{error}"
    );
    let project = Project::new(&[
        ("src/index.js", "import { x } from \"pkg/missing\";\n"),
        (
            "node_modules/pkg/package.json",
            r#"{ "name": "pkg", "exports": { ".": "./index.js" } }"#,
        ),
        ("node_modules/pkg/index.js", "export const x = 1;"),
    ]);
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.contains("cannot import \"pkg/missing\": \"./missing\" is not exported under the conditions [\"workerd\", \"worker\", \"browser\", \"import\", \"default\"]"),
        "{error}"
    );
    let project = Project::new(&[(
        "src/index.js",
        "const x = require('fs');\nmodule.exports = {};\n",
    )]);
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.contains("\"fs\" is a Node.js built-in module"),
        "{error}"
    );
    // The same require inside `try` is left to fail at run time.
    let project = Project::new(&[(
        "src/index.js",
        "let fs; try { fs = require('fs'); } catch {}\nmodule.exports = { fs };\n",
    )]);
    assert!(project.collect().is_ok());
}

#[test]
fn a_missing_main_says_where_it_was_looked_for() {
    let project = Project::new(&[("src/other.js", "")]);
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.contains("src/index.js does not exist (`main` in wrangler.toml)"),
        "{error}"
    );
}

#[test]
fn jsx_compiles_with_the_projects_settings() {
    // The automatic runtime, from tsconfig.json, as Hono's JSX uses it.
    let project = Project::new(&[
        ("tsconfig.json", "{\n  // as `npm create hono` writes it\n  \"compilerOptions\": { \"jsx\": \"react-jsx\", \"jsxImportSource\": \"tiny\" },\n}\n"),
        ("src/index.js", "import page from \"./page.tsx\";\nexport default page;\n"),
        ("src/page.tsx", "const title: string = \"hi\";\nexport default <h1>{title}</h1>;\n"),
        ("node_modules/tiny/package.json", r#"{ "name": "tiny", "exports": { "./jsx-runtime": "./jsx-runtime.js" } }"#),
        ("node_modules/tiny/jsx-runtime.js", "export const jsx = (tag, props) => ({ tag, props });"),
    ]);
    let collected = project.collect().unwrap();
    assert_eq!(
        names(&collected),
        [
            "node_modules/tiny/jsx-runtime.js",
            "src/index.js",
            "src/page.tsx.js"
        ]
    );
    let page = Project::module(&collected, "src/page.tsx.js");
    assert!(
        page.contains("from \"../node_modules/tiny/jsx-runtime.js\""),
        "{page}"
    );
    assert!(
        page.contains("//# sourceMappingURL=data:application/json,"),
        "{page}"
    );
    assert!(!page.contains("<h1>"), "{page}");
    assert!(Project::module(&collected, "src/index.js").contains("from \"./page.tsx.js\""));
    // An import that does not resolve is named on the line the user wrote.
    std::fs::write(
        project.0.join("src/page.tsx"),
        "const title: string = \"hi\";\n\nimport { Missing } from \"./missing\";\nexport default <h1>{title}<Missing /></h1>;\n",
    )
    .unwrap();
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.contains("src/page.tsx:3: cannot import \"./missing\": no such file"),
        "{error}"
    );
    std::fs::write(
        project.0.join("src/page.tsx"),
        "const title: string = \"hi\";\nexport default <h1>{title}</h1>;\n",
    )
    .unwrap();
    // Without settings: the classic factory.
    std::fs::remove_file(project.0.join("tsconfig.json")).unwrap();
    let collected = project.collect().unwrap();
    let page = Project::module(&collected, "src/page.tsx.js");
    assert!(page.contains("React.createElement(\"h1\""), "{page}");
}

#[test]
fn alias_rules_additional_modules_and_no_bundle_apply() {
    let project = Project::new(&[
        ("src/index.js", "import fetcher from \"node-fetch\";\nimport schema from \"./schema.sql\";\nimport blob from \"./blob.dat\";\nexport default { fetcher, schema, blob };\n"),
        ("src/shims/fetch.js", "export default globalThis.fetch;"),
        ("src/schema.sql", "CREATE TABLE t (x);"),
        ("src/blob.dat", "bytes"),
        ("src/lazy/late.js", "export const late = 1;"),
    ]);
    let error = project.collect().unwrap_err().to_string();
    assert!(
        error.contains("the package \"node-fetch\" is not installed"),
        "{error}"
    );
    let collected = project
        .collect_with("[alias]\n\"node-fetch\" = \"./src/shims/fetch.js\"\n[[rules]]\ntype = \"Data\"\nglobs = [\"**/*.dat\"]\n")
        .unwrap();
    // `.sql` is text by Cloudflare's default rules; `.dat` is data by the
    // rule, stored with the extension that says so.
    assert_eq!(
        names(&collected),
        [
            "src/blob.dat.bin",
            "src/index.js",
            "src/schema.sql",
            "src/shims/fetch.js"
        ]
    );
    let index = Project::module(&collected, "src/index.js");
    assert!(index.contains("from \"./shims/fetch.js\""), "{index}");
    assert!(index.contains("from \"./blob.dat.bin\""), "{index}");
    // find_additional_modules: files no import names (for dynamic imports).
    let collected = project
        .collect_with("find_additional_modules = true\n[alias]\n\"node-fetch\" = \"./src/shims/fetch.js\"\n[[rules]]\ntype = \"Data\"\nglobs = [\"**/*.dat\"]\n")
        .unwrap();
    assert!(names(&collected).contains(&"src/lazy/late.js"));
    // no_bundle: only relative imports are followed.
    let error = project
        .collect_with("no_bundle = true\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`no_bundle` is set, so only relative imports are followed"),
        "{error}"
    );
}

#[test]
fn symlinked_workspace_packages_are_collected() {
    let workspace = Project::new(&[
        (
            "packages/shared/package.json",
            r#"{ "name": "@acme/shared", "type": "module", "exports": "./index.js" }"#,
        ),
        (
            "packages/shared/index.js",
            "export const shared = 'from the workspace';",
        ),
        (
            "apps/api/src/index.js",
            "import { shared } from \"@acme/shared\";\nexport default { shared };\n",
        ),
    ]);
    let app = workspace.0.join("apps/api");
    std::fs::create_dir_all(app.join("node_modules/@acme")).unwrap();
    std::os::unix::fs::symlink(
        workspace.0.join("packages/shared"),
        app.join("node_modules/@acme/shared"),
    )
    .unwrap();
    let config = WorkerConfig::parse_as(
        &app.join("wrangler.toml"),
        "name = \"api\"\nmain = \"src/index.js\"\n",
        None,
    )
    .unwrap();
    let collected = collect(&config, &app).unwrap();
    // Names are relative to the folder holding both.
    assert_eq!(
        names(&collected),
        ["apps/api/src/index.js", "packages/shared/index.js"]
    );
    assert_eq!(collected.bundle.main, "apps/api/src/index.js");
    assert!(Project::module(&collected, "apps/api/src/index.js")
        .contains("from \"../../../packages/shared/index.js\""));
}

#[test]
fn a_byte_order_mark_does_not_shift_the_rewrites() {
    let project = Project::new(&[
        ("src/index.js", "\u{FEFF}// café ☕\nimport { a } from \"./a.js\";\nexport default { a, mode: process.env.NODE_ENV };\n"),
        ("src/a.js", "export const a = 1;"),
    ]);
    let collected = project.collect().unwrap();
    let index = Project::module(&collected, "src/index.js");
    assert!(
        index.starts_with("// café ☕\nimport { a } from \"./a.js\";"),
        "{index}"
    );
    assert!(index.contains("mode: \"production\""), "{index}");
}

#[test]
fn commonjs_runs_when_required_not_before() {
    let project = Project::new(&[
        ("src/index.js", "import lib from \"./lib.cjs\";\nexport default lib;\n"),
        ("src/lib.cjs", "module.exports = process.env.NODE_ENV === 'production' ? require('./prod.cjs') : require('./dev.cjs');\n"),
        ("src/prod.cjs", "module.exports = 'prod';"),
        ("src/dev.cjs", "throw new Error('never required in production');"),
    ]);
    let collected = project.collect().unwrap();
    // The required modules export only their lazy function: nothing runs
    // at load, so the development branch never throws.
    let dev = Project::module(&collected, "src/dev.cjs");
    assert!(dev.contains("export function __ridge_cjs()"), "{dev}");
    assert!(!names(&collected).contains(&"src/dev.cjs.esm.js"));
    assert!(names(&collected).contains(&"src/lib.cjs.esm.js"));
}

#[test]
fn tsconfig_paths_apply_to_the_projects_files() {
    let project = Project::new(&[
        (
            "tsconfig.json",
            "{ \"compilerOptions\": { \"baseUrl\": \".\", \"paths\": { \"@/*\": [\"src/*\"] } } }",
        ),
        (
            "src/index.js",
            "import { util } from \"@/lib/util\";\nexport default { util };\n",
        ),
        ("src/lib/util.ts", "export const util = 1;"),
    ]);
    let collected = project.collect().unwrap();
    assert!(Project::module(&collected, "src/index.js").contains("from \"./lib/util.ts\""));
    // A tsconfig.json that does not load leaves Node's rules in place.
    std::fs::write(
        project.0.join("tsconfig.json"),
        "{ \"extends\": \"@tsconfig/missing\" }",
    )
    .unwrap();
    std::fs::write(
        project.0.join("src/index.js"),
        "import { util } from \"./lib/util\";\nexport default { util };\n",
    )
    .unwrap();
    assert!(project.collect().is_ok());
}
