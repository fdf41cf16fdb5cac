//! Where an import leads: Node's resolution algorithm (oxc_resolver) over
//! `node_modules`, with the conditions a worker build uses (`workerd`,
//! `worker`, `browser`, then `import` or `require`), the `browser` and
//! `module` fields, symlinked workspaces, TypeScript's `./x.js` for
//! `x.ts`, the project's `tsconfig.json` `paths` (for its own files, as
//! esbuild applies them), and the configuration's `alias`. Modules the runtime provides
//! (`cloudflare:workers`, and Node's built-ins under `nodejs_compat`) are
//! not files. With `nodejs_compat` (v2), a bare built-in name (`buffer`)
//! is the built-in even when a package of that name is installed, as
//! wrangler resolves it; without the flag, Node's built-ins are refused
//! with a message that says so, unless a package installs one of their
//! names (userland versions, which esbuild also takes) or a `browser`
//! field maps it away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oxc_resolver::{
    AliasValue, ModuleType, ResolveError, ResolveOptions, Resolver, TsconfigDiscovery,
    TsconfigOptions, TsconfigReferences,
};

use ridge_core::{compat, NodeCompat};

use super::analyze::ImportKind;

/// The modules the runtime itself provides.
pub const RUNTIME_MODULES: [&str; 4] = [
    "cloudflare:workers",
    "cloudflare:node",
    "cloudflare:sockets",
    "cloudflare:email",
];

/// What an import resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A file, and whether its package says `"type": "module"`.
    File {
        path: PathBuf,
        package_is_module: bool,
    },
    /// A module the runtime provides, by its specifier.
    Runtime(String),
    /// Mapped to nothing (`"browser": { "fs": false }`): an empty module.
    Empty,
}

/// Why an import does not resolve; the caller adds the importer and line.
#[derive(Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// A Node.js built-in, without `nodejs_compat`.
    NodeBuiltin(String),
    /// A bare built-in name under `nodejs_compat` v1 (before 2024-09-23).
    NodeBuiltinNeedsPrefix(String),
    /// `node:x` where Ridge has no module `x`.
    UnknownNodeModule(String),
    UnknownRuntimeModule(String),
    /// A bare specifier whose package is not installed.
    MissingPackage(String),
    /// A package is installed but has no such entry, or a path has no file.
    NotFound,
    /// `no_bundle` is set and the specifier names a package.
    NotBundling,
    Other(String),
}

pub struct Resolvers {
    import: Resolver,
    require: Resolver,
    /// The same with the project's tsconfig.json, for the project's files.
    with_tsconfig: Option<(Resolver, Resolver)>,
    no_bundle: bool,
    node: NodeCompat,
}

fn options(root: &Path, alias: &BTreeMap<String, String>, condition: &str) -> ResolveOptions {
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let alias = alias
        .iter()
        .map(|(from, to)| {
            // A relative target is relative to the configuration's folder.
            let to = if to.starts_with("./") || to.starts_with("../") {
                root.join(to).to_string_lossy().into_owned()
            } else {
                to.clone()
            };
            (from.clone(), vec![AliasValue::Path(to)])
        })
        .collect();
    ResolveOptions {
        alias,
        alias_fields: vec![vec!["browser".into()]],
        condition_names: strings(&["workerd", "worker", "browser", condition, "default"]),
        extensions: strings(&[
            ".ts", ".tsx", ".mts", ".js", ".jsx", ".mjs", ".cjs", ".json",
        ]),
        extension_alias: vec![
            (".js".into(), strings(&[".ts", ".tsx", ".js", ".jsx"])),
            (".mjs".into(), strings(&[".mts", ".mjs"])),
        ],
        main_fields: strings(&["browser", "module", "main"]),
        module_type: true,
        ..ResolveOptions::default()
    }
}

impl Resolvers {
    /// `root` is the configuration's folder.
    pub fn new(
        root: &Path,
        alias: &BTreeMap<String, String>,
        no_bundle: bool,
        node: NodeCompat,
    ) -> Self {
        // Absolute, so that relative alias targets do not depend on the
        // importer's folder.
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let import = Resolver::new(options(&root, alias, "import"));
        let require = import.clone_with_options(options(&root, alias, "require"));
        let tsconfig = root.join("tsconfig.json");
        let with_tsconfig = tsconfig.is_file().then(|| {
            let with = |condition| ResolveOptions {
                tsconfig: Some(TsconfigDiscovery::Manual(TsconfigOptions {
                    config_file: tsconfig.clone(),
                    references: TsconfigReferences::Auto,
                })),
                ..options(&root, alias, condition)
            };
            (
                import.clone_with_options(with("import")),
                import.clone_with_options(with("require")),
            )
        });
        Self {
            import,
            require,
            with_tsconfig,
            no_bundle,
            node,
        }
    }

    /// A Node.js built-in under `nodejs_compat`: the runtime's module, or
    /// why not. `None` when the specifier is not a built-in's name.
    fn node_builtin(&self, specifier: &str) -> Option<Result<Target, Unresolved>> {
        let (name, prefixed) = match specifier.strip_prefix("node:") {
            Some(name) => (name, true),
            None if nodejs_built_in_modules::BUILTINS.contains(&specifier) => (specifier, false),
            None => return None,
        };
        if !self.node.modules {
            // Without the flag a bare name may still be an installed package.
            return prefixed.then(|| Err(Unresolved::NodeBuiltin(name.to_string())));
        }
        if !prefixed && !self.node.v2 {
            return None;
        }
        Some(match compat::is_node_module(name) {
            true => Ok(Target::Runtime(format!("node:{name}"))),
            false => Err(Unresolved::UnknownNodeModule(name.to_string())),
        })
    }

    pub fn resolve(
        &self,
        importer: &Path,
        specifier: &str,
        kind: ImportKind,
    ) -> Result<Target, Unresolved> {
        if let Some(builtin) = self.node_builtin(specifier) {
            return builtin;
        }
        if specifier.starts_with("cloudflare:") {
            return if RUNTIME_MODULES.contains(&specifier) {
                Ok(Target::Runtime(specifier.to_string()))
            } else {
                Err(Unresolved::UnknownRuntimeModule(specifier.to_string()))
            };
        }
        let is_path = specifier.starts_with("./")
            || specifier.starts_with("../")
            || specifier.starts_with('/')
            || specifier == "."
            || specifier == "..";
        if self.no_bundle && !is_path {
            return Err(Unresolved::NotBundling);
        }
        let requiring = matches!(kind, ImportKind::Require { .. });
        let directory = importer.parent().unwrap_or(Path::new("/"));
        let in_package = importer
            .components()
            .any(|c| c.as_os_str() == "node_modules");
        if let (Some((import, require)), false) = (&self.with_tsconfig, in_package) {
            let resolver = if requiring { require } else { import };
            // A tsconfig.json that does not load (an `extends` not
            // installed) must not stop the build: Node's rules still apply.
            if let Ok(resolution) = resolver.resolve(directory, specifier) {
                return Ok(Target::File {
                    package_is_module: resolution.module_type() == Some(ModuleType::Module),
                    path: resolution.into_path_buf(),
                });
            }
        }
        let resolver = if requiring {
            &self.require
        } else {
            &self.import
        };
        match resolver.resolve(directory, specifier) {
            Ok(resolution) => Ok(Target::File {
                package_is_module: resolution.module_type() == Some(ModuleType::Module),
                path: resolution.into_path_buf(),
            }),
            Err(ResolveError::Ignored(_)) => Ok(Target::Empty),
            Err(ResolveError::NotFound(_)) if !is_path => {
                let package = package_name(specifier);
                if nodejs_built_in_modules::BUILTINS.contains(&specifier) {
                    Err(match self.node.modules {
                        true => Unresolved::NodeBuiltinNeedsPrefix(specifier.to_string()),
                        false => Unresolved::NodeBuiltin(specifier.to_string()),
                    })
                } else if package_installed(directory, package) {
                    Err(Unresolved::NotFound)
                } else {
                    Err(Unresolved::MissingPackage(package.to_string()))
                }
            }
            Err(ResolveError::NotFound(_)) => Err(Unresolved::NotFound),
            Err(other) => Err(Unresolved::Other(other.to_string())),
        }
    }
}

/// The package a bare specifier names: `hono` of `hono/cors`, `@scope/pkg`
/// of `@scope/pkg/sub`.
pub fn package_name(specifier: &str) -> &str {
    let mut ends = specifier.match_indices('/').map(|(at, _)| at);
    let end = if specifier.starts_with('@') {
        ends.nth(1)
    } else {
        ends.next()
    };
    &specifier[..end.unwrap_or(specifier.len())]
}

fn package_installed(mut directory: &Path, package: &str) -> bool {
    loop {
        if directory.join("node_modules").join(package).exists() {
            return true;
        }
        match directory.parent() {
            Some(parent) => directory = parent,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_include_the_scope() {
        assert_eq!(package_name("hono"), "hono");
        assert_eq!(package_name("hono/cors"), "hono");
        assert_eq!(package_name("@hono/zod-openapi"), "@hono/zod-openapi");
        assert_eq!(package_name("@scope/pkg/deep/file.js"), "@scope/pkg");
    }
}
