//! A version's assets as a manifest: each served path with the hash and
//! size of its content, plus the project files `_headers` and `_redirects`.
//! Content is addressed by its hash, so a deploy sends the manifest first
//! and then only the files the node lacks. `collect` builds a manifest from
//! a folder, as wrangler does (`.assetsignore`, Cloudflare's limits).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{headers, redirects};

/// Largest asset file, as on Cloudflare.
pub const MAX_ASSET_BYTES: u64 = 25 * 1024 * 1024;
/// Most files per version, as on Cloudflare's free plan.
pub const MAX_ASSET_FILES: usize = 20_000;
/// The ignore file of an assets folder (gitignore syntax).
pub const IGNORE_FILE: &str = ".assetsignore";
/// Files at the folder's root that configure it rather than being served.
const PROJECT_FILES: [&str; 3] = [IGNORE_FILE, headers::FILE, redirects::FILE];
/// A Pages worker, which would be served as source text unless
/// `.assetsignore` exists (wrangler refuses the same).
const PAGES_WORKER: &str = "_worker.js";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the assets directory {} does not exist{}", .0.display(), if .1.is_empty() { String::new() } else { format!(" (did the build run? {})", .1) })]
    NoDirectory(PathBuf, String),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Ignore { path: PathBuf, problem: String },
    #[error("asset {} is {size} bytes, more than the {} MiB per file", path.display(), MAX_ASSET_BYTES / 1024 / 1024)]
    TooLarge { path: PathBuf, size: u64 },
    #[error("the assets directory {} has more than {MAX_ASSET_FILES} files; list the ones not to serve in {IGNORE_FILE}", .0.display())]
    TooMany(PathBuf),
    #[error("asset {} is a link to {}, outside the assets directory", path.display(), target.display())]
    OutsideDirectory { path: PathBuf, target: PathBuf },
    #[error("asset {} has a name that is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{} would be served to anyone as source text; if that is intended, add an empty {IGNORE_FILE} beside it, else list `{PAGES_WORKER}` in one", .0.display())]
    PagesWorker(PathBuf),
    #[error("invalid assets manifest: {0}")]
    Invalid(String),
}

/// One served file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// [`content_hash`] of the file.
    pub hash: String,
    pub size: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Served paths (`/dir/file.html`, not percent-encoded) and their content.
    pub files: BTreeMap<String, ManifestEntry>,
    /// The `_headers` file, when the folder has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<String>,
    /// The `_redirects` file, when the folder has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirects: Option<String>,
}

/// The address of a file's content: the first 32 hex digits of its SHA-256.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// Whether `hash` looks like a [`content_hash`].
pub fn is_content_hash(hash: &str) -> bool {
    hash.len() == 32 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serializes")
    }

    /// Reads a stored manifest, checking what serde cannot.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: Self =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if manifest.files.len() > MAX_ASSET_FILES {
            return Err(ManifestError::Invalid(format!(
                "it lists {} files; at most {MAX_ASSET_FILES} are allowed",
                manifest.files.len()
            )));
        }
        for (path, entry) in &manifest.files {
            let bad_path = !path.starts_with('/')
                || path.ends_with('/')
                || path
                    .split('/')
                    .skip(1)
                    .any(|s| s.is_empty() || s == "." || s == "..");
            if bad_path {
                return Err(ManifestError::Invalid(format!(
                    "{path:?} is not a file path"
                )));
            }
            if !is_content_hash(&entry.hash) || entry.size > MAX_ASSET_BYTES {
                return Err(ManifestError::Invalid(format!(
                    "{path:?} has an invalid hash or size"
                )));
            }
        }
        Ok(manifest)
    }

    /// Every content hash the manifest needs, once each.
    pub fn hashes(&self) -> Vec<String> {
        let mut hashes: Vec<String> = self.files.values().map(|e| e.hash.clone()).collect();
        hashes.sort();
        hashes.dedup();
        hashes
    }
}

/// A folder read into a manifest, with where each hash's content is.
#[derive(Debug)]
pub struct Collected {
    pub manifest: Manifest,
    /// A file holding each content hash.
    pub sources: BTreeMap<String, PathBuf>,
    /// Invalid lines of `_headers` and `_redirects` (skipped), as
    /// `FILE:LINE: problem`, for the user to see.
    pub warnings: Vec<String>,
}

impl Collected {
    /// Bytes of content, each hash counted once.
    pub fn content_bytes(&self) -> u64 {
        let mut seen = std::collections::BTreeSet::new();
        self.manifest
            .files
            .values()
            .filter(|entry| seen.insert(&entry.hash))
            .map(|entry| entry.size)
            .sum()
    }
}

/// Reads `dir` as wrangler uploads it: every file but the project files
/// at its root and those `.assetsignore` lists; links are followed while
/// they stay inside `dir`. `_headers` and
/// `_redirects` are checked here, so that a mistake is reported with its
/// line before anything is deployed. `build_hint` is shown when `dir` is
/// missing.
pub fn collect(dir: &Path, build_hint: &str) -> Result<Collected, ManifestError> {
    let root = dir
        .canonicalize()
        .map_err(|_| ManifestError::NoDirectory(dir.to_path_buf(), build_hint.to_string()))?;
    if !root.is_dir() {
        return Err(ManifestError::NoDirectory(
            dir.to_path_buf(),
            build_hint.to_string(),
        ));
    }
    let ignore = ignore_rules(dir)?;
    let mut collected = Collected {
        manifest: Manifest::default(),
        sources: BTreeMap::new(),
        warnings: Vec::new(),
    };
    let read_text = |name: &str| -> Result<Option<String>, ManifestError> {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ManifestError::Read { path, source }),
        }
    };
    collected.manifest.headers = read_text(headers::FILE)?;
    collected.manifest.redirects = read_text(redirects::FILE)?;
    let invalid_headers = collected
        .manifest
        .headers
        .as_deref()
        .map(|text| (headers::FILE, headers::HeaderRules::parse(text).1));
    let invalid_redirects = collected
        .manifest
        .redirects
        .as_deref()
        .map(|text| (redirects::FILE, redirects::RedirectRules::parse(text).1));
    for (file, invalid) in invalid_headers.into_iter().chain(invalid_redirects) {
        for (line, problem) in invalid {
            let path = dir.join(file);
            collected.warnings.push(format!(
                "{}:{line}: {problem}; the line is ignored",
                path.display()
            ));
        }
    }
    walk(&root, dir, "", &ignore, &mut collected)?;
    Ok(collected)
}

fn ignore_rules(dir: &Path) -> Result<ignore::gitignore::Gitignore, ManifestError> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    let file = dir.join(IGNORE_FILE);
    if file.exists() {
        if let Some(error) = builder.add(&file) {
            return Err(ManifestError::Ignore {
                path: file,
                problem: error.to_string(),
            });
        }
    }
    builder.build().map_err(|error| ManifestError::Ignore {
        path: file,
        problem: error.to_string(),
    })
}

/// Adds the files under `dir` (shown as `shown`, served under `prefix`).
fn walk(
    root: &Path,
    shown: &Path,
    prefix: &str,
    ignore: &ignore::gitignore::Gitignore,
    collected: &mut Collected,
) -> Result<(), ManifestError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ManifestError::Read { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(shown)
        .map_err(read_error(shown))?
        .collect::<Result<_, _>>()
        .map_err(read_error(shown))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| ManifestError::NotUtf8(path.clone()))?;
        if prefix.is_empty() && PROJECT_FILES.contains(&name.as_str()) {
            continue;
        }
        if prefix.is_empty() && name.starts_with(PAGES_WORKER) && !shown.join(IGNORE_FILE).exists()
        {
            return Err(ManifestError::PagesWorker(path));
        }
        // Links are judged by where they lead.
        let target = path.canonicalize().map_err(read_error(&path))?;
        if !target.starts_with(root) {
            return Err(ManifestError::OutsideDirectory { path, target });
        }
        let is_dir = target.is_dir();
        if ignore
            .matched_path_or_any_parents(&path, is_dir)
            .is_ignore()
        {
            continue;
        }
        let served = format!("{prefix}/{name}");
        if is_dir {
            walk(root, &path, &served, ignore, collected)?;
            continue;
        }
        let (hash, size) = hash_file(&path)?;
        if size > MAX_ASSET_BYTES {
            return Err(ManifestError::TooLarge { path, size });
        }
        if collected.manifest.files.len() == MAX_ASSET_FILES {
            return Err(ManifestError::TooMany(root.to_path_buf()));
        }
        collected.sources.entry(hash.clone()).or_insert(path);
        collected
            .manifest
            .files
            .insert(served, ManifestEntry { hash, size });
    }
    Ok(())
}

/// The content hash and size of a file, read in pieces.
fn hash_file(path: &Path) -> Result<(String, u64), ManifestError> {
    let error = |source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(error)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        if size > MAX_ASSET_BYTES {
            return Ok((String::new(), size));
        }
        hasher.update(&buffer[..read]);
    }
    Ok((hex::encode(&hasher.finalize()[..16]), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ridge-assets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    #[test]
    fn a_folder_becomes_paths_hashes_and_project_files() {
        let dir = folder(
            "collect",
            &[
                ("index.html", "<h1>hi</h1>"),
                ("copy.html", "<h1>hi</h1>"),
                ("blog/post.html", "post"),
                ("secret.txt", "no"),
                ("drafts/a.md", "no"),
                (".assetsignore", "secret.txt\ndrafts/\n"),
                ("_headers", "/*\n  X-Frame-Options: DENY\n"),
                ("_redirects", "/old /new 301\n"),
            ],
        );
        let collected = collect(&dir, "").unwrap();
        let paths: Vec<&str> = collected
            .manifest
            .files
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(paths, ["/blog/post.html", "/copy.html", "/index.html"]);
        assert_eq!(
            collected.manifest.files["/index.html"].hash,
            content_hash(b"<h1>hi</h1>")
        );
        assert_eq!(collected.sources.len(), 2, "equal files share one hash");
        assert_eq!(collected.content_bytes(), 15);
        assert!(collected
            .manifest
            .headers
            .as_deref()
            .unwrap()
            .contains("DENY"));
        let roundtrip = Manifest::from_json(&collected.manifest.to_json()).unwrap();
        assert_eq!(roundtrip.files.len(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn links_out_of_the_folder_and_bad_rules_are_refused() {
        let dir = folder(
            "refuse",
            &[("site/index.html", "x"), ("outside.txt", "secret")],
        );
        std::os::unix::fs::symlink(dir.join("outside.txt"), dir.join("site/leak.txt")).unwrap();
        let error = collect(&dir.join("site"), "").unwrap_err();
        assert!(
            matches!(error, ManifestError::OutsideDirectory { .. }),
            "{error}"
        );
        std::fs::remove_file(dir.join("site/leak.txt")).unwrap();
        std::fs::write(dir.join("site/_redirects"), "/a /b 301\n/c\n").unwrap();
        let warnings = collect(&dir.join("site"), "").unwrap().warnings;
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].ends_with(
                "site/_redirects:2: expected `source destination [status]`, found 1 fields; the line is ignored"
            ),
            "{warnings:?}"
        );
        let error = collect(&dir.join("missing"), "run `npm run build`").unwrap_err();
        assert!(error.to_string().contains("npm run build"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn stored_manifests_may_not_name_paths_outside_the_folder() {
        let hash = content_hash(b"x");
        for path in ["/../etc/passwd", "relative", "/a//b", "/dir/"] {
            let json = format!(r#"{{"files": {{"{path}": {{"hash": "{hash}", "size": 1}}}}}}"#);
            assert!(Manifest::from_json(json.as_bytes()).is_err(), "{path}");
        }
    }
}
