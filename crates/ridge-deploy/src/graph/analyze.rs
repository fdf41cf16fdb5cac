//! What one JavaScript or TypeScript module needs from the others: its
//! imports (static, dynamic with a literal specifier, and `require()`
//! calls), whether it is an ES module or CommonJS, the names a CommonJS
//! module exports, and where `define` replacements go. Parsed with
//! deno_ast (swc); nothing is executed.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use deno_ast::diagnostics::Diagnostic;
use deno_ast::swc::ast::{
    CallExpr, Callee, ExportAll, Expr, ImportDecl, Lit, MemberExpr, MemberProp, NamedExport,
    TryStmt,
};
use deno_ast::swc::common::{Span, SyntaxContext};
use deno_ast::swc::ecma_visit::{Visit, VisitWith};
use deno_ast::{
    EmitOptions, MediaType, ParseParams, ParsedSource, ProgramRef, StartSourcePos,
    TranspileModuleOptions, TranspileOptions,
};

/// How a module names another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// `import … from "x"`, `export … from "x"`, `import "x"`.
    Static,
    /// `import("x")`.
    Dynamic,
    /// `require("x")`; `optional` when inside a `try` block, where a
    /// specifier that does not resolve is left to fail at run time (as
    /// esbuild does).
    Require { optional: bool },
}

#[derive(Clone, Debug)]
pub struct Import {
    pub specifier: String,
    /// The string literal, quotes included, in bytes of the source.
    pub range: Range<usize>,
    /// 1-based.
    pub line: usize,
    pub kind: ImportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    EsModule,
    CommonJs,
}

/// One module's analysis.
#[derive(Debug)]
pub struct Analysis {
    pub format: Format,
    pub imports: Vec<Import>,
    /// CommonJS only: the names it exports, and the specifiers whose
    /// exports it re-exports (`module.exports = require("./x")`).
    pub exports: Vec<String>,
    pub reexports: Vec<String>,
    /// Byte ranges of expressions `define` replaces, with the replacement.
    pub replacements: Vec<(Range<usize>, String)>,
}

/// A syntax error, with where it is.
#[derive(Debug)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl From<deno_ast::ParseDiagnostic> for SyntaxError {
    fn from(diagnostic: deno_ast::ParseDiagnostic) -> Self {
        let position = diagnostic.display_position();
        Self {
            line: position.line_number,
            column: position.column_number,
            message: diagnostic.message().to_string(),
        }
    }
}

/// Analyzes `source`. `package_is_module` is the nearest package.json's
/// `"type": "module"`, which makes `.js` files ES modules; otherwise a
/// `.js` file without `import`/`export` that uses `require`, `module` or
/// `exports` is CommonJS, as Node decides. `define` maps dotted names
/// (`process.env.NODE_ENV`) to the JavaScript that replaces them.
pub fn analyze(
    path: &Path,
    source: &str,
    package_is_module: bool,
    define: &[(Vec<String>, String)],
) -> Result<Analysis, SyntaxError> {
    let media_type = MediaType::from_path(path);
    let parsed = parse(path, source, media_type)?;
    let mut visitor = Collector::new(
        source,
        define,
        parsed.unresolved_context(),
        parsed.top_level_context(),
    );
    match parsed.program_ref() {
        ProgramRef::Module(module) => module.visit_with(&mut visitor),
        ProgramRef::Script(script) => script.visit_with(&mut visitor),
    }
    let has_esm_syntax = !parsed.compute_is_script();
    let cjs = parsed.analyze_cjs();
    let format = match media_type {
        MediaType::Mjs | MediaType::Mts | MediaType::TypeScript | MediaType::Dts => {
            Format::EsModule
        }
        MediaType::Cjs | MediaType::Cts => Format::CommonJs,
        _ if package_is_module || has_esm_syntax => Format::EsModule,
        _ => {
            let uses_commonjs = visitor.requires_seen
                || !cjs.exports.is_empty()
                || !cjs.reexports.is_empty()
                || source.contains("module.exports");
            if uses_commonjs {
                Format::CommonJs
            } else {
                Format::EsModule
            }
        }
    };
    let mut imports = visitor.imports;
    // Only CommonJS has `require`; an ES module calling it gets the
    // runtime's ReferenceError, as on Cloudflare.
    if format == Format::EsModule {
        imports.retain(|import| !matches!(import.kind, ImportKind::Require { .. }));
    }
    if media_type.is_typed() {
        // TypeScript drops imports used only as types: keep those the
        // JavaScript it becomes still has.
        let kept = transpiled_specifiers(parsed)?;
        imports.retain(|import| kept.contains(&import.specifier));
    }
    let (exports, reexports) = match format {
        Format::CommonJs => (cjs.exports, cjs.reexports),
        Format::EsModule => (Vec::new(), Vec::new()),
    };
    Ok(Analysis {
        format,
        imports,
        exports,
        reexports,
        replacements: visitor.replacements,
    })
}

fn parse(path: &Path, source: &str, media_type: MediaType) -> Result<ParsedSource, SyntaxError> {
    let specifier = deno_ast::ModuleSpecifier::from_file_path(path)
        .unwrap_or_else(|_| deno_ast::ModuleSpecifier::parse("file:///module.js").expect("a URL"));
    deno_ast::parse_program(ParseParams {
        specifier,
        text: source.into(),
        media_type,
        capture_tokens: false,
        // Tells a global `require` (or `process`) from a local one.
        scope_analysis: true,
        maybe_syntax: None,
    })
    .map_err(SyntaxError::from)
}

/// The specifiers of the JavaScript a TypeScript module transpiles to.
fn transpiled_specifiers(parsed: ParsedSource) -> Result<BTreeSet<String>, SyntaxError> {
    let emitted = parsed
        .transpile(
            &TranspileOptions::default(),
            &TranspileModuleOptions::default(),
            &EmitOptions::default(),
        )
        .map_err(|error| SyntaxError {
            line: 1,
            column: 1,
            message: error.to_string(),
        })?
        .into_source();
    let js_path = Path::new("transpiled.mjs");
    let transpiled = parse(js_path, &emitted.text, MediaType::Mjs)?;
    let mut collector = Collector::new(
        &emitted.text,
        &[],
        transpiled.unresolved_context(),
        transpiled.top_level_context(),
    );
    match transpiled.program_ref() {
        ProgramRef::Module(module) => module.visit_with(&mut collector),
        ProgramRef::Script(script) => script.visit_with(&mut collector),
    }
    Ok(collector
        .imports
        .into_iter()
        .map(|import| import.specifier)
        .collect())
}

/// The 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn byte_range(span: Span) -> Range<usize> {
    let base = StartSourcePos::START_SOURCE_POS.as_byte_pos().0;
    (span.lo.0 - base) as usize..(span.hi.0 - base) as usize
}

struct Collector<'a> {
    source: &'a str,
    define: &'a [(Vec<String>, String)],
    /// The context of names no scope declares (globals).
    unresolved: SyntaxContext,
    /// The context of names the module declares at its top level (where
    /// TypeScript's `declare const BUILD_LABEL` puts a `define` name).
    top_level: SyntaxContext,
    imports: Vec<Import>,
    replacements: Vec<(Range<usize>, String)>,
    try_depth: usize,
    requires_seen: bool,
}

impl<'a> Collector<'a> {
    fn new(
        source: &'a str,
        define: &'a [(Vec<String>, String)],
        unresolved: SyntaxContext,
        top_level: SyntaxContext,
    ) -> Self {
        Self {
            source,
            define,
            unresolved,
            top_level,
            imports: Vec::new(),
            replacements: Vec::new(),
            try_depth: 0,
            requires_seen: false,
        }
    }

    fn add(&mut self, literal: &deno_ast::swc::ast::Str, kind: ImportKind) {
        let range = byte_range(literal.span);
        let line = line_of(self.source, range.start);
        self.imports.push(Import {
            specifier: literal.value.to_string_lossy().into_owned(),
            range,
            line,
            kind,
        });
    }

    /// The dotted name an expression is (`process.env.NODE_ENV`), if it is
    /// made only of a global (or top-level) name and plain property names:
    /// a function's own `process` is left alone.
    fn dotted(&self, expr: &Expr) -> Option<Vec<String>> {
        match expr {
            Expr::Ident(ident) if ident.ctxt == self.unresolved || ident.ctxt == self.top_level => {
                Some(vec![ident.sym.to_string()])
            }
            Expr::Member(MemberExpr { obj, prop, .. }) => {
                let MemberProp::Ident(name) = prop else {
                    return None;
                };
                let mut names = self.dotted(obj)?;
                names.push(name.sym.to_string());
                Some(names)
            }
            _ => None,
        }
    }
}

impl Visit for Collector<'_> {
    fn visit_import_decl(&mut self, node: &ImportDecl) {
        if !node.type_only {
            self.add(&node.src, ImportKind::Static);
        }
    }

    fn visit_named_export(&mut self, node: &NamedExport) {
        if let (Some(src), false) = (&node.src, node.type_only) {
            self.add(src, ImportKind::Static);
        }
    }

    fn visit_export_all(&mut self, node: &ExportAll) {
        if !node.type_only {
            self.add(&node.src, ImportKind::Static);
        }
    }

    fn visit_try_stmt(&mut self, node: &TryStmt) {
        self.try_depth += 1;
        node.block.visit_with(self);
        self.try_depth -= 1;
        node.handler.visit_with(self);
        node.finalizer.visit_with(self);
    }

    fn visit_call_expr(&mut self, node: &CallExpr) {
        let literal = match node.args.first().map(|arg| &*arg.expr) {
            Some(Expr::Lit(Lit::Str(literal)))
                if node.args.len() == 1 || matches!(node.callee, Callee::Import(_)) =>
            {
                Some(literal)
            }
            _ => None,
        };
        match &node.callee {
            Callee::Import(_) => {
                if let Some(literal) = literal {
                    self.add(literal, ImportKind::Dynamic);
                }
            }
            // Only the global `require`: bundles that pass their own (a
            // browserify prelude's `function (require, module, exports)`)
            // resolve those names themselves.
            Callee::Expr(callee) if matches!(&**callee, Expr::Ident(id) if id.sym == *"require" && id.ctxt == self.unresolved) =>
            {
                self.requires_seen = true;
                if let Some(literal) = literal {
                    let optional = self.try_depth > 0;
                    self.add(literal, ImportKind::Require { optional });
                }
            }
            _ => {}
        }
        node.visit_children_with(self);
    }

    fn visit_expr(&mut self, node: &Expr) {
        if !self.define.is_empty() && matches!(node, Expr::Member(_) | Expr::Ident(_)) {
            if let Some(name) = self.dotted(node) {
                if let Some((_, value)) = self.define.iter().find(|(key, _)| *key == name) {
                    let span = match node {
                        Expr::Member(member) => member.span,
                        Expr::Ident(ident) => ident.span,
                        _ => unreachable!("matched above"),
                    };
                    self.replacements.push((byte_range(span), value.clone()));
                    return;
                }
            }
        }
        node.visit_children_with(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn define() -> Vec<(Vec<String>, String)> {
        vec![(
            vec!["process".into(), "env".into(), "NODE_ENV".into()],
            "\"production\"".into(),
        )]
    }

    #[test]
    fn finds_every_kind_of_import() {
        let source = "import a from \"./a.js\";\nexport * from './b.js';\nconst c = await import(\"./c.js\");\nif (process.env.NODE_ENV !== 'production') {}\n";
        let analysis = analyze(Path::new("/p/x.js"), source, false, &define()).unwrap();
        assert_eq!(analysis.format, Format::EsModule);
        let found: Vec<(&str, usize, ImportKind)> = analysis
            .imports
            .iter()
            .map(|i| (i.specifier.as_str(), i.line, i.kind))
            .collect();
        assert_eq!(
            found,
            [
                ("./a.js", 1, ImportKind::Static),
                ("./b.js", 2, ImportKind::Static),
                ("./c.js", 3, ImportKind::Dynamic)
            ]
        );
        assert_eq!(&source[analysis.imports[0].range.clone()], "\"./a.js\"");
        let (range, value) = &analysis.replacements[0];
        assert_eq!(&source[range.clone()], "process.env.NODE_ENV");
        assert_eq!(value, "\"production\"");
    }

    #[test]
    fn tells_commonjs_from_es_modules() {
        let cjs = "const x = require('./x');\ntry { require('optional-dep') } catch {}\nexports.a = 1;\nmodule.exports.b = 2;\n";
        let analysis = analyze(Path::new("/p/x.js"), cjs, false, &[]).unwrap();
        assert_eq!(analysis.format, Format::CommonJs);
        assert_eq!(analysis.exports, ["a", "b"]);
        assert_eq!(
            analysis.imports[1].kind,
            ImportKind::Require { optional: true }
        );
        // "type": "module" makes the same file an ES module (where
        // `require` is not a thing to follow).
        let analysis = analyze(Path::new("/p/x.js"), cjs, true, &[]).unwrap();
        assert_eq!(analysis.format, Format::EsModule);
        assert!(analysis.imports.is_empty());
        let plain = "globalThis.x = 1;\n";
        let analysis = analyze(Path::new("/p/x.js"), plain, false, &[]).unwrap();
        assert_eq!(analysis.format, Format::EsModule);
    }

    #[test]
    fn typescript_type_imports_are_not_followed() {
        let source = "import type { A } from \"./types\";\nimport { B } from \"./b\";\nimport { C, type D } from \"./c\";\nexport type { E } from \"./e\";\nconst x: B = 1;\nexport default C;\n";
        let analysis = analyze(Path::new("/p/x.ts"), source, false, &[]).unwrap();
        let found: Vec<&str> = analysis
            .imports
            .iter()
            .map(|i| i.specifier.as_str())
            .collect();
        assert_eq!(found, ["./c"]);
    }

    #[test]
    fn only_the_global_require_and_process_are_followed() {
        let source = "(function (require, module, exports) { var u = require('./util'); })(function () {}, {}, {});\nconst x = require('./real');\nfunction f(process) { return process.env.NODE_ENV; }\nmodule.exports = process.env.NODE_ENV;\n";
        let analysis = analyze(Path::new("/p/x.js"), source, false, &define()).unwrap();
        let found: Vec<&str> = analysis
            .imports
            .iter()
            .map(|i| i.specifier.as_str())
            .collect();
        assert_eq!(found, ["./real"]);
        assert_eq!(analysis.replacements.len(), 1);
        assert_eq!(
            &source[analysis.replacements[0].0.clone()],
            "process.env.NODE_ENV"
        );
        assert!(analysis.replacements[0].0.start > source.find("module.exports").unwrap());
    }

    #[test]
    fn commonjs_may_return_at_the_top_level() {
        let source = "if (typeof window !== 'undefined') { module.exports = window.x; return; }\nmodule.exports = 1;\n";
        let analysis = analyze(Path::new("/p/x.js"), source, false, &[]).unwrap();
        assert_eq!(analysis.format, Format::CommonJs);
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let error =
            analyze(Path::new("/p/x.js"), "let a = 1;\nlet = = 2;\n", false, &[]).unwrap_err();
        assert_eq!(error.line, 2);
    }
}
