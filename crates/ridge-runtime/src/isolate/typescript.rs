//! TypeScript without a build step: `.ts`/`.mts` modules are transpiled to
//! JavaScript (types stripped, by deno_ast/swc) when an isolate loads them,
//! with a source map so that stack traces point at the TypeScript lines.
//! Transpiled modules are cached by content for the whole process, so a
//! version's modules are transpiled once, not at every cold start.

use std::sync::{Arc, LazyLock};

use deno_ast::{
    EmitOptions, MediaType, ParseParams, SourceMapOption, TranspileModuleOptions, TranspileOptions,
};
use moka::sync::Cache;
use sha2::{Digest, Sha256};

/// JavaScript made from a TypeScript module, and the map back.
pub struct Transpiled {
    pub code: Arc<str>,
    pub source_map: Option<Arc<[u8]>>,
}

/// By the SHA-256 of the module's name and source.
static CACHE: LazyLock<Cache<[u8; 32], Arc<Transpiled>>> = LazyLock::new(|| {
    Cache::builder()
        .max_capacity(64 * 1024 * 1024)
        .weigher(|_, t: &Arc<Transpiled>| {
            let size = t.code.len() + t.source_map.as_ref().map_or(0, |m| m.len());
            size.try_into().unwrap_or(u32::MAX)
        })
        .build()
});

fn key(specifier: &str, source: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(specifier.as_bytes());
    hasher.update([0]);
    hasher.update(source);
    hasher.finalize().into()
}

/// The transpiled module, from the cache when it was transpiled before.
/// `Err` is the parser's message with the file, line and column.
pub fn transpile(specifier: &url::Url, source: &[u8]) -> Result<Arc<Transpiled>, String> {
    let key = key(specifier.as_str(), source);
    if let Some(found) = CACHE.get(&key) {
        return Ok(found);
    }
    let text = String::from_utf8_lossy(source);
    let parsed = deno_ast::parse_module(ParseParams {
        specifier: specifier.clone(),
        text: text.into(),
        media_type: MediaType::TypeScript,
        capture_tokens: false,
        scope_analysis: false,
        maybe_syntax: None,
    })
    .map_err(|error| error.to_string())?;
    let emitted = parsed
        .transpile(
            &TranspileOptions::default(),
            &TranspileModuleOptions::default(),
            &EmitOptions {
                source_map: SourceMapOption::Separate,
                inline_sources: true,
                ..Default::default()
            },
        )
        .map_err(|error| error.to_string())?
        .into_source();
    // The map also goes inline, for debuggers (DevTools shows the .ts).
    let mut code = emitted.text;
    if let Some(map) = &emitted.source_map {
        let encoded =
            percent_encoding::utf8_percent_encode(map, percent_encoding::NON_ALPHANUMERIC);
        code.push_str(&format!(
            "\n//# sourceMappingURL=data:application/json,{encoded}\n"
        ));
    }
    let transpiled = Arc::new(Transpiled {
        code: code.into(),
        source_map: emitted.source_map.map(|map| Arc::from(map.into_bytes())),
    });
    CACHE.insert(key, transpiled.clone());
    Ok(transpiled)
}

/// The source map of a module transpiled before, by its specifier and source.
pub fn source_map(specifier: &str, source: &[u8]) -> Option<Arc<[u8]>> {
    CACHE.get(&key(specifier, source))?.source_map.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_types_and_maps_back() {
        let specifier = url::Url::parse("file:///src/index.ts").unwrap();
        let source = b"interface Greeting { text: string }\nconst g: Greeting = { text: \"hi\" };\nexport default g;\n";
        let transpiled = transpile(&specifier, source).unwrap();
        let (code, inline_map) = transpiled.code.split_once("//# sourceMappingURL=").unwrap();
        assert!(!code.contains("interface"), "{code}");
        assert!(code.contains("text: \"hi\""), "{code}");
        assert!(inline_map.starts_with("data:application/json,"));
        assert!(source_map(specifier.as_str(), source).is_some());
        let error = transpile(&specifier, b"const x: = 1;\n").err().unwrap();
        assert!(error.contains("index.ts:1:"), "{error}");
    }
}
