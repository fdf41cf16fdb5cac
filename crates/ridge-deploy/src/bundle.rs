//! A worker bundle: the named modules (JS, Wasm, text, JSON, binary data)
//! that make up one worker version, and the rules for module names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Largest bundle accepted, all modules together (Cloudflare's paid limit).
pub const MAX_BUNDLE_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("invalid module name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("main module {0:?} is not in the bundle")]
    MissingMain(String),
    #[error("main module {0:?} must be a JavaScript module (.js or .mjs)")]
    MainNotJavaScript(String),
    #[error("the bundle is {size} bytes, more than the {max} byte limit; the largest modules: {largest}")]
    TooLarge {
        size: u64,
        max: u64,
        largest: String,
    },
    #[error("module {0:?} is not valid UTF-8")]
    NotUtf8(String),
    #[error("module {0:?} has an unknown type: use .js, .mjs, .wasm, .json, .bin or a text extension (.txt, .html, .css, .svg, .md, .csv, .xml, .sql)")]
    UnknownKind(String),
    #[error("a stored bundle is corrupt")]
    Corrupt,
}

/// How a module is imported, by file extension, as in Cloudflare's rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// `.js`, `.mjs`, `.cjs`: an ES module (CommonJS files arrive wrapped
    /// as ES modules by the module graph).
    JavaScript,
    /// `.ts`, `.mts`: an ES module in TypeScript, transpiled when loaded.
    TypeScript,
    /// `.wasm`: imported as a `WebAssembly.Module`.
    Wasm,
    /// `.txt`, `.html`, `.css`, `.svg`, `.md`, `.csv`, `.xml`, `.sql`: imported as a string.
    Text,
    /// `.json`: imported as the parsed value.
    Json,
    /// `.bin`: imported as an `ArrayBuffer`.
    Data,
}

impl ModuleKind {
    pub fn from_name(name: &str) -> Option<Self> {
        let extension = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "js" | "mjs" | "cjs" => Self::JavaScript,
            "ts" | "mts" => Self::TypeScript,
            "wasm" => Self::Wasm,
            "txt" | "html" | "css" | "svg" | "md" | "csv" | "xml" | "sql" => Self::Text,
            "json" => Self::Json,
            "bin" => Self::Data,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Module {
    pub kind: ModuleKind,
    pub content: Arc<[u8]>,
}

/// The modules of one worker version, by name (a relative path with `/`).
#[derive(Clone, Debug)]
pub struct Bundle {
    pub main: String,
    pub modules: BTreeMap<String, Module>,
}

impl Bundle {
    /// The source of a service-worker script: a bundle of one JavaScript
    /// module that neither imports nor exports (the words do not occur at
    /// all, so anything ambiguous is still taken as a module).
    pub fn classic_script(&self) -> Option<String> {
        if self.modules.len() != 1 {
            return None;
        }
        let module = self.modules.get(&self.main)?;
        if module.kind != ModuleKind::JavaScript {
            return None;
        }
        let source = std::str::from_utf8(&module.content).ok()?;
        let mentions = |word: &str| {
            source.match_indices(word).any(|(at, _)| {
                let before = source[..at].chars().next_back();
                let after = source[at + word.len()..].chars().next();
                let part_of_name = |c: Option<char>| {
                    c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
                };
                !part_of_name(before) && !part_of_name(after)
            })
        };
        (!mentions("import") && !mentions("export")).then(|| source.to_string())
    }

    /// The bundle of a version of static assets alone: no modules.
    pub fn empty() -> Self {
        Self {
            main: String::new(),
            modules: BTreeMap::new(),
        }
    }

    /// Whether there is a worker to run (see [`Bundle::empty`]).
    pub fn has_script(&self) -> bool {
        !self.main.is_empty()
    }

    /// Builds a bundle, checking names, the main module and the size limit.
    pub fn new(main: String, modules: BTreeMap<String, Module>) -> Result<Self, BundleError> {
        if main.is_empty() && modules.is_empty() {
            return Ok(Self::empty());
        }
        for name in modules.keys() {
            validate_module_name(name)?;
        }
        let main_module = modules
            .get(&main)
            .ok_or_else(|| BundleError::MissingMain(main.clone()))?;
        if !matches!(
            main_module.kind,
            ModuleKind::JavaScript | ModuleKind::TypeScript
        ) {
            return Err(BundleError::MainNotJavaScript(main));
        }
        for (name, module) in &modules {
            let textual = matches!(
                module.kind,
                ModuleKind::JavaScript
                    | ModuleKind::TypeScript
                    | ModuleKind::Text
                    | ModuleKind::Json
            );
            if textual && std::str::from_utf8(&module.content).is_err() {
                return Err(BundleError::NotUtf8(name.clone()));
            }
        }
        let size = modules
            .values()
            .map(|m| m.content.len() as u64)
            .sum::<u64>();
        if size > MAX_BUNDLE_BYTES {
            let mut by_size: Vec<(&String, usize)> =
                modules.iter().map(|(n, m)| (n, m.content.len())).collect();
            by_size.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
            let largest = by_size
                .iter()
                .take(5)
                .map(|(name, size)| format!("{name} ({:.1} MiB)", *size as f64 / 1048576.0))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(BundleError::TooLarge {
                size,
                max: MAX_BUNDLE_BYTES,
                largest,
            });
        }
        Ok(Self { main, modules })
    }

    /// Total size of all modules, in bytes.
    pub fn size(&self) -> u64 {
        self.modules.values().map(|m| m.content.len() as u64).sum()
    }

    /// The modules in a compact binary form for storage: for each module,
    /// its name length (u32 LE), name, content length (u64 LE), content.
    /// The kind follows from the name; the main module is stored apart.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size() as usize + self.modules.len() * 32);
        for (name, module) in &self.modules {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(module.content.len() as u64).to_le_bytes());
            out.extend_from_slice(&module.content);
        }
        out
    }

    /// The inverse of [`Bundle::encode`].
    pub fn decode(main: String, mut bytes: &[u8]) -> Result<Self, BundleError> {
        let corrupt = || BundleError::Corrupt;
        let mut modules = BTreeMap::new();
        while !bytes.is_empty() {
            let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
            let (name, rest) = rest
                .split_at_checked(u32::from_le_bytes(*len) as usize)
                .ok_or_else(corrupt)?;
            let (len, rest) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
            let (content, rest) = rest
                .split_at_checked(u64::from_le_bytes(*len) as usize)
                .ok_or_else(corrupt)?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| corrupt())?;
            let kind = ModuleKind::from_name(&name).ok_or_else(corrupt)?;
            modules.insert(
                name,
                Module {
                    kind,
                    content: content.into(),
                },
            );
            bytes = rest;
        }
        Self::new(main, modules)
    }
}

/// Module names are relative paths inside the bundle: no `..`, no absolute
/// paths, no NUL or backslashes, nothing empty.
pub fn validate_module_name(name: &str) -> Result<(), BundleError> {
    let invalid = |reason| {
        Err(BundleError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.contains('\0') {
        return invalid("it contains a NUL byte");
    }
    if name.contains('\\') {
        return invalid("it contains a backslash; use '/' between folders");
    }
    if name.starts_with('/') || name.chars().nth(1) == Some(':') {
        return invalid("it is an absolute path; module names are relative to the bundle");
    }
    if name
        .split('/')
        .any(|part| part == ".." || part == "." || part.is_empty())
    {
        return invalid("it contains an empty, '.' or '..' path segment");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_must_stay_inside_the_bundle() {
        assert!(validate_module_name("src/index.js").is_ok());
        for bad in [
            "../etc/passwd",
            "/abs.js",
            "a/../b.js",
            "a\0b.js",
            "",
            "a//b.js",
            "C:/x.js",
            "a\\b.js",
        ] {
            assert!(
                validate_module_name(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn bundles_survive_encoding() {
        let js = Module {
            kind: ModuleKind::JavaScript,
            content: b"export default {}".to_vec().into(),
        };
        let wasm = Module {
            kind: ModuleKind::Wasm,
            content: vec![0, 97, 115, 109, 255].into(),
        };
        let modules = BTreeMap::from([("a.js".to_string(), js), ("lib/b.wasm".to_string(), wasm)]);
        let bundle = Bundle::new("a.js".into(), modules).unwrap();
        let decoded = Bundle::decode("a.js".into(), &bundle.encode()).unwrap();
        assert_eq!(decoded.modules.len(), 2);
        assert_eq!(
            &*decoded.modules["lib/b.wasm"].content,
            &[0, 97, 115, 109, 255]
        );
        assert!(matches!(
            Bundle::decode("a.js".into(), &bundle.encode()[..7]),
            Err(BundleError::Corrupt)
        ));
    }

    #[test]
    fn too_large_bundles_name_their_largest_modules() {
        let module = |size: usize| Module {
            kind: ModuleKind::JavaScript,
            content: vec![b' '; size].into(),
        };
        let modules = BTreeMap::from([
            ("index.js".to_string(), module(1024)),
            ("node_modules/big/a.js".to_string(), module(6 * 1024 * 1024)),
            ("node_modules/big/b.js".to_string(), module(5 * 1024 * 1024)),
        ]);
        let error = Bundle::new("index.js".into(), modules)
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("the largest modules: node_modules/big/a.js (6.0 MiB), node_modules/big/b.js (5.0 MiB), index.js (0.0 MiB)"),
            "{error}"
        );
    }

    #[test]
    fn main_module_must_exist_and_be_javascript() {
        let js = Module {
            kind: ModuleKind::JavaScript,
            content: b"export default {}".to_vec().into(),
        };
        let wasm = Module {
            kind: ModuleKind::Wasm,
            content: b"\0asm".to_vec().into(),
        };
        let modules = BTreeMap::from([("a.js".to_string(), js), ("b.wasm".to_string(), wasm)]);
        assert!(Bundle::new("a.js".into(), modules.clone()).is_ok());
        assert!(matches!(
            Bundle::new("c.js".into(), modules.clone()),
            Err(BundleError::MissingMain(_))
        ));
        assert!(matches!(
            Bundle::new("b.wasm".into(), modules),
            Err(BundleError::MainNotJavaScript(_))
        ));
    }
}
