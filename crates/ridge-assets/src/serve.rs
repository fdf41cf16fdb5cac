//! A version's assets, ready to serve: where a request goes (the worker or
//! an asset, as Cloudflare's router decides it) and the asset response
//! itself: strong ETags and 304s, ranges, `br`/`gzip` for text, the
//! default `Cache-Control`, then `_headers`. Runs in Rust on the edge and
//! for `env.ASSETS.fetch`; no isolate is involved.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::sync::mpsc;

use crate::config::{AssetSettings, NotFoundHandling, WorkerFirst};
use crate::files::{AssetFiles, Encoding, HotCache, HOT_FILE_BYTES};
use crate::headers::HeaderRules;
use crate::manifest::Manifest;
use crate::redirects::{RedirectRules, Redirected};
use crate::resolve::{resolve, Files, Intent};

/// Cache-Control of an asset unless `_headers` says otherwise: caches must
/// revalidate (cheap, with the ETag), so a deploy is seen at once.
const DEFAULT_CACHE_CONTROL: &str = "public, max-age=0, must-revalidate";
/// Smaller bodies are not worth compressing.
const MIN_COMPRESS_BYTES: u64 = 256;
/// Chunks of a streamed file.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AssetsError {
    #[error("`assets.{field}` {problem}")]
    Setting { field: String, problem: String },
}

/// A version's assets: its settings, manifest and project files, and where
/// the content is.
pub struct Assets {
    settings: AssetSettings,
    worker_first: WorkerFirst,
    files: Files,
    headers: HeaderRules,
    redirects: RedirectRules,
    source: Arc<dyn AssetFiles>,
    cache: HotCache,
    /// Navigations that miss get the not-found handling before the worker
    /// (Cloudflare's `assets_navigation_prefers_asset_serving`, the
    /// default from compatibility date 2025-04-01).
    navigation_prefers_assets: bool,
}

impl std::fmt::Debug for Assets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assets")
            .field("settings", &self.settings)
            .field("files", &self.files.len())
            .finish()
    }
}

/// What an asset request gets, decided before any file is read.
#[derive(Clone, Debug)]
pub struct Plan {
    outcome: Outcome,
    /// The request's path as sent (percent-encoded), which `_headers`
    /// rules match.
    path: String,
    /// Nothing matched, not even a rewrite: a worker may answer instead.
    miss: bool,
}

#[derive(Clone, Debug)]
enum Outcome {
    Serve {
        /// The manifest path of the file served.
        file: String,
        hash: String,
        size: u64,
        status: StatusCode,
        content_type: Option<HeaderValue>,
    },
    /// A 307 to the path's canonical form (`html_handling`, encoding).
    Canonical(String),
    /// A `_redirects` rule.
    Redirect {
        status: StatusCode,
        location: String,
    },
    NotFound,
}

/// A response body: nothing, bytes, or part of a file to stream.
pub enum AssetBody {
    Empty,
    Full(Bytes),
    File {
        file: std::fs::File,
        offset: u64,
        length: u64,
    },
}

impl AssetBody {
    /// The body as chunks on a channel, ending with an empty chunk (the
    /// shape a worker's streamed body has); a file is read on a blocking
    /// thread, a chunk at a time.
    pub fn into_stream(self) -> mpsc::Receiver<Result<Bytes, String>> {
        let (sender, chunks) = mpsc::channel(4);
        match self {
            AssetBody::Empty => {
                let _ = sender.try_send(Ok(Bytes::new()));
            }
            AssetBody::Full(bytes) => {
                let _ = sender.try_send(Ok(bytes));
                let _ = sender.try_send(Ok(Bytes::new()));
            }
            AssetBody::File {
                mut file,
                offset,
                length,
            } => {
                tokio::task::spawn_blocking(move || {
                    let mut left = length;
                    if let Err(error) = file.seek(SeekFrom::Start(offset)) {
                        let _ = sender.blocking_send(Err(error.to_string()));
                        return;
                    }
                    while left > 0 {
                        let mut chunk = vec![0; CHUNK_BYTES.min(left as usize)];
                        match file.read(&mut chunk) {
                            Ok(0) => {
                                let _ = sender
                                    .blocking_send(Err("the asset file was cut short".into()));
                                return;
                            }
                            Ok(read) => {
                                chunk.truncate(read);
                                left -= read as u64;
                                if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                                    return;
                                }
                            }
                            Err(error) => {
                                let _ = sender.blocking_send(Err(error.to_string()));
                                return;
                            }
                        }
                    }
                    let _ = sender.blocking_send(Ok(Bytes::new()));
                });
            }
        }
        chunks
    }
}

impl Assets {
    /// Checks the settings of a manifest's assets.
    pub fn new(
        settings: AssetSettings,
        manifest: Manifest,
        source: Arc<dyn AssetFiles>,
        cache: HotCache,
        navigation_prefers_assets: bool,
    ) -> Result<Self, AssetsError> {
        let worker_first =
            WorkerFirst::new(&settings.run_worker_first).map_err(|(field, problem)| {
                AssetsError::Setting {
                    field,
                    problem: problem.to_string(),
                }
            })?;
        // Invalid lines were reported when the folder was read.
        let headers = manifest
            .headers
            .as_deref()
            .map_or_else(HeaderRules::default, |text| HeaderRules::parse(text).0);
        let redirects = manifest
            .redirects
            .as_deref()
            .map_or_else(RedirectRules::default, |text| RedirectRules::parse(text).0);
        Ok(Self {
            settings,
            worker_first,
            files: manifest.files,
            headers,
            redirects,
            source,
            cache,
            navigation_prefers_assets,
        })
    }

    /// The name `env` holds the assets under, if any.
    pub fn binding(&self) -> Option<&str> {
        self.settings.binding.as_deref()
    }

    /// How many files are served.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Where a request from the edge goes: `None` for the worker, else what
    /// the assets answer. As Cloudflare's router decides: `run_worker_first`
    /// rules (a negative rule sends the path to the assets); then whatever
    /// the assets can answer (a file, a canonicalising redirect, a
    /// `_redirects` rule) is answered by them; a miss goes to the worker,
    /// except that navigations (`Sec-Fetch-Mode: navigate`), and every
    /// request when there are path rules, get the not-found handling first.
    /// Without a worker the assets answer everything.
    pub fn route(
        &self,
        has_worker: bool,
        path_and_query: &str,
        headers: &HeaderMap,
    ) -> Option<Plan> {
        let not_found = self.settings.not_found_handling;
        let Some((encoded, search)) = split_url(&format!("http://host{path_and_query}")) else {
            return (!has_worker).then(Plan::not_found);
        };
        if !has_worker {
            return Some(self.plan(&encoded, &search, not_found));
        }
        match self.worker_first.decide(&encoded) {
            Some(true) => return None,
            Some(false) => return Some(self.plan(&encoded, &search, not_found)),
            None => {}
        }
        let navigation = headers
            .get("sec-fetch-mode")
            .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"navigate"));
        let keep = self.worker_first.has_rules() || (self.navigation_prefers_assets && navigation);
        let probe = self.plan(
            &encoded,
            &search,
            if keep {
                not_found
            } else {
                NotFoundHandling::None
            },
        );
        if probe.miss {
            None
        } else if keep || not_found == NotFoundHandling::None {
            Some(probe)
        } else {
            // The assets answer with their whole configuration.
            Some(self.plan(&encoded, &search, not_found))
        }
    }

    /// What `env.ASSETS.fetch(url)` gets: the assets alone answer, with the
    /// not-found handling.
    pub fn plan_for_url(&self, url: &str) -> Plan {
        match split_url(url) {
            Some((encoded, search)) => {
                self.plan(&encoded, &search, self.settings.not_found_handling)
            }
            None => Plan::not_found(),
        }
    }

    /// `encoded` is the URL's path as sent (after URL parsing), `search`
    /// its query (`?…` or empty). `_redirects` first, on the encoded path;
    /// then the decoded path resolves; a file served at a path that is not
    /// its canonical encoding redirects there.
    fn plan(&self, encoded: &str, search: &str, not_found: NotFoundHandling) -> Plan {
        let (pathname, rewritten) = match self.redirects.find(encoded, search) {
            Some(Redirected::Redirect { status, location }) => {
                return Plan {
                    outcome: Outcome::Redirect {
                        status: StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND),
                        location,
                    },
                    path: encoded.to_string(),
                    miss: false,
                }
            }
            Some(Redirected::Rewrite(target)) => (target, true),
            None => (encoded.to_string(), false),
        };
        let decoded = decode_path(&pathname);
        let outcome = match resolve(
            &self.files,
            &decoded,
            self.settings.html_handling,
            not_found,
        ) {
            None => Outcome::NotFound,
            Some(Intent::Redirect(to)) => {
                Outcome::Canonical(format!("{}{search}", encode_path(&to)))
            }
            Some(Intent::Serve {
                path,
                entry,
                status,
            }) => {
                let canonical = encode_path(&decoded);
                if canonical != pathname {
                    Outcome::Canonical(format!("{canonical}{search}"))
                } else {
                    Outcome::Serve {
                        file: path.to_string(),
                        hash: entry.hash.clone(),
                        size: entry.size,
                        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                        content_type: content_type(path),
                    }
                }
            }
        };
        Plan {
            miss: matches!(outcome, Outcome::NotFound) && !rewritten,
            outcome,
            path: encoded.to_string(),
        }
    }

    /// The response for `plan`, to a request with `method` and `headers`
    /// for `host`; `_headers` rules apply to all of them but a failure.
    pub async fn respond(
        &self,
        plan: Plan,
        method: &Method,
        host: &str,
        request: &HeaderMap,
    ) -> Response<AssetBody> {
        let mut response = match plan.outcome {
            Outcome::NotFound => bare(StatusCode::NOT_FOUND),
            Outcome::Redirect { status, location } => redirect(status, location),
            _ if method != Method::GET && method != Method::HEAD => {
                let mut refused = bare(StatusCode::METHOD_NOT_ALLOWED);
                refused
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                refused
            }
            Outcome::Canonical(location) => redirect(StatusCode::TEMPORARY_REDIRECT, location),
            Outcome::Serve {
                file,
                hash,
                size,
                status,
                content_type,
            } => {
                let file = File {
                    path: file,
                    hash,
                    size,
                    status,
                    content_type,
                };
                match self.file_response(file, method, request).await {
                    Ok(response) => response,
                    Err(error) => {
                        let mut failed = bare(StatusCode::INTERNAL_SERVER_ERROR);
                        *failed.body_mut() = AssetBody::Full(Bytes::from(format!(
                            "the asset could not be read: {error}\n"
                        )));
                        return failed;
                    }
                }
            }
        };
        self.headers.apply(host, &plan.path, response.headers_mut());
        response
    }

    /// A file's response: 200 (or a 404 page's 404), 206 or 416 for a
    /// range, 304 when the client's copy is current.
    async fn file_response(
        &self,
        file: File,
        method: &Method,
        request: &HeaderMap,
    ) -> std::io::Result<Response<AssetBody>> {
        let File {
            path,
            hash,
            size,
            status,
            content_type,
        } = file;
        let compressible = content_type.as_ref().is_some_and(is_compressible);
        let range = request
            .get(header::RANGE)
            .filter(|_| status == StatusCode::OK);
        let encoding = match range {
            None if compressible && (MIN_COMPRESS_BYTES..=HOT_FILE_BYTES).contains(&size) => {
                accepted_encoding(request)
            }
            _ => Encoding::Identity,
        };
        // A compressed body is another representation of the same file.
        let etag = match encoding {
            Encoding::Identity => format!("\"{hash}\""),
            _ => format!("W/\"{hash}\""),
        };

        let mut response = Response::new(AssetBody::Empty);
        let headers = response.headers_mut();
        headers.insert(
            header::ETAG,
            HeaderValue::try_from(&etag).expect("a hex etag"),
        );
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, content_type);
        }
        // As Cloudflare: a private or partial answer gets no cache advice.
        if !request.contains_key(header::AUTHORIZATION) && range.is_none() {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(DEFAULT_CACHE_CONTROL),
            );
        }
        if compressible {
            headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
        if status == StatusCode::OK {
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        }
        if etag_matches(request.get(header::IF_NONE_MATCH), &hash) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(response);
        }
        *response.status_mut() = status;
        let (offset, length) = match range.map(|value| parse_range(value, size, &hash, request)) {
            Some(RangeAnswer::Part(start, end)) => {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                let value = format!("bytes {start}-{end}/{size}");
                response.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::try_from(value).expect("a content range"),
                );
                (start, end + 1 - start)
            }
            Some(RangeAnswer::Unsatisfiable) => {
                let mut refused = bare(StatusCode::RANGE_NOT_SATISFIABLE);
                refused.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::try_from(format!("bytes */{size}")).expect("a content range"),
                );
                return Ok(refused);
            }
            Some(RangeAnswer::Whole) | None => (0, size),
        };
        let body = match self.content(&path, &hash, size, encoding).await? {
            Content::Bytes(bytes) => {
                let end = (offset + length).min(bytes.len() as u64);
                AssetBody::Full(bytes.slice(offset as usize..end as usize))
            }
            Content::File(file) => AssetBody::File {
                file,
                offset,
                length,
            },
        };
        let length = match &body {
            AssetBody::Full(bytes) => bytes.len() as u64,
            _ => length,
        };
        let headers = response.headers_mut();
        if let Some(token) = encoding.token() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        if method != Method::HEAD {
            *response.body_mut() = body;
        }
        Ok(response)
    }

    /// A file's content in `encoding`: from memory when it is small (read
    /// and compressed once, off the calling thread), else the open file.
    async fn content(
        &self,
        path: &str,
        hash: &str,
        size: u64,
        encoding: Encoding,
    ) -> std::io::Result<Content> {
        if let Some(bytes) = self.cache.get(hash, encoding) {
            return Ok(Content::Bytes(bytes));
        }
        let file = self.source.open(path, hash).await?;
        if size > HOT_FILE_BYTES {
            return Ok(Content::File(file));
        }
        let identity = self.cache.get(hash, Encoding::Identity);
        let bytes = tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
            let identity = match identity {
                Some(bytes) => bytes,
                None => {
                    let mut content = Vec::with_capacity(size as usize);
                    let mut file = file;
                    file.read_to_end(&mut content)?;
                    Bytes::from(content)
                }
            };
            Ok(match encoding {
                Encoding::Identity => identity,
                Encoding::Gzip => Bytes::from(gzip(&identity)?),
                Encoding::Brotli => Bytes::from(brotli(&identity)?),
            })
        })
        .await
        .map_err(std::io::Error::other)??;
        self.cache.insert(hash, encoding, bytes.clone());
        Ok(Content::Bytes(bytes))
    }
}

/// A file a plan serves.
struct File {
    path: String,
    hash: String,
    size: u64,
    status: StatusCode,
    content_type: Option<HeaderValue>,
}

impl Plan {
    fn not_found() -> Self {
        Self {
            outcome: Outcome::NotFound,
            path: String::new(),
            miss: true,
        }
    }
}

enum Content {
    Bytes(Bytes),
    File(std::fs::File),
}

fn redirect(status: StatusCode, location: String) -> Response<AssetBody> {
    let mut response = bare(status);
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn bare(status: StatusCode) -> Response<AssetBody> {
    let mut response = Response::new(AssetBody::Empty);
    *response.status_mut() = status;
    response
}

/// The path (percent-encoded as sent, dot segments resolved as a URL
/// parser resolves them) and query of a URL.
fn split_url(url: &str) -> Option<(String, String)> {
    let url = url::Url::parse(url).ok()?;
    let search = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some((url.path().to_string(), search))
}

/// Each segment percent-decoded (left as it is when it does not decode to
/// UTF-8), and runs of `/` made one.
fn decode_path(encoded: &str) -> String {
    let decoded: Vec<String> = encoded
        .split('/')
        .map(|segment| match percent_decode_str(segment).decode_utf8() {
            Ok(text) => text.into_owned(),
            Err(_) => segment.to_string(),
        })
        .collect();
    let mut path = decoded.join("/");
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    path
}

/// What JavaScript's `encodeURIComponent` leaves alone.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The canonical form of a decoded path: each segment encoded as
/// `encodeURIComponent` would.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, COMPONENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The media type by extension, text types in UTF-8; `None` when the
/// extension is unknown (as on Cloudflare: no `Content-Type` then).
fn content_type(path: &str) -> Option<HeaderValue> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    // Where mime_guess's table and the `mime` package wrangler uses differ.
    let media = match extension.as_str() {
        "js" | "mjs" | "cjs" => "text/javascript".to_string(),
        "map" => "application/json".to_string(),
        "md" | "markdown" => "text/markdown".to_string(),
        "webmanifest" => "application/manifest+json".to_string(),
        "wasm" => "application/wasm".to_string(),
        _ => mime_guess::from_ext(&extension)
            .first()?
            .essence_str()
            .to_string(),
    };
    let value = if media.starts_with("text/") {
        format!("{media}; charset=utf-8")
    } else {
        media
    };
    HeaderValue::try_from(value).ok()
}

fn is_compressible(content_type: &HeaderValue) -> bool {
    let media = content_type.to_str().unwrap_or("");
    let media = media.split(';').next().unwrap_or("");
    media.starts_with("text/")
        || media.ends_with("+json")
        || media.ends_with("+xml")
        || matches!(
            media,
            "application/json" | "application/javascript" | "application/xml" | "application/wasm"
        )
}

/// The best encoding the client accepts: `br`, then `gzip`.
fn accepted_encoding(request: &HeaderMap) -> Encoding {
    let mut best = Encoding::Identity;
    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            if coding.eq_ignore_ascii_case("br") {
                best = Encoding::Brotli;
            } else if coding.eq_ignore_ascii_case("gzip") && best == Encoding::Identity {
                best = Encoding::Gzip;
            }
        }
    }
    best
}

/// `If-None-Match` against the file's ETag, compared weakly (RFC 9110
/// §13.1.2): `"h"` or `W/"h"`, alone or in a list. `*` is not taken to
/// match, as Cloudflare does not.
fn etag_matches(value: Option<&HeaderValue>, hash: &str) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag.trim_start_matches("W/").trim_matches('"') == hash)
}

enum RangeAnswer {
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
    /// Ignored (several ranges, a stale `If-Range`, or a form not
    /// understood): the whole file, as RFC 9110 allows.
    Whole,
}

fn parse_range(value: &HeaderValue, size: u64, hash: &str, request: &HeaderMap) -> RangeAnswer {
    if let Some(condition) = request.get(header::IF_RANGE) {
        if condition.to_str().ok() != Some(format!("\"{hash}\"").as_str()) {
            return RangeAnswer::Whole;
        }
    }
    let Some(spec) = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let number = |text: &str| text.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(suffix)) if suffix > 0 && size > 0 => {
            RangeAnswer::Part(size.saturating_sub(suffix), size - 1)
        }
        (true, _, _) => RangeAnswer::Unsatisfiable,
        (false, Some(start), _) if start >= size => RangeAnswer::Unsatisfiable,
        (false, Some(start), None) if last.trim().is_empty() => RangeAnswer::Part(start, size - 1),
        (false, Some(start), Some(end)) if end >= start => {
            RangeAnswer::Part(start, end.min(size - 1))
        }
        _ => RangeAnswer::Whole,
    }
}

fn gzip(content: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(content)?;
    encoder.finish()
}

fn brotli(content: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 6,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &content[..], &mut out, &params)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_per_segment_and_encode_as_encode_uri_component() {
        assert_eq!(decode_path("/caf%C3%A9//a%2Fb"), "/café/a/b");
        assert_eq!(decode_path("/%FF"), "/%FF");
        assert_eq!(encode_path("/café/a b"), "/caf%C3%A9/a%20b");
        assert_eq!(encode_path("/it's(1)!"), "/it's(1)!");
        let (path, search) = split_url("http://host/blog/%2e%2e/about?x=1").unwrap();
        assert_eq!((path.as_str(), search.as_str()), ("/about", "?x=1"));
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        let headers = HeaderMap::new();
        let range =
            |spec: &'static str| parse_range(&HeaderValue::from_static(spec), 100, "h", &headers);
        assert!(matches!(range("bytes=0-4"), RangeAnswer::Part(0, 4)));
        assert!(matches!(range("bytes=90-"), RangeAnswer::Part(90, 99)));
        assert!(matches!(range("bytes=-10"), RangeAnswer::Part(90, 99)));
        assert!(matches!(range("bytes=95-200"), RangeAnswer::Part(95, 99)));
        assert!(matches!(range("bytes=100-"), RangeAnswer::Unsatisfiable));
        assert!(matches!(range("bytes=0-1,5-6"), RangeAnswer::Whole));
        assert!(matches!(range("items=0-1"), RangeAnswer::Whole));
    }

    #[test]
    fn encodings_by_preference_and_etags_compared_weakly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert_eq!(accepted_encoding(&headers), Encoding::Brotli);
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0, gzip"),
        );
        assert_eq!(accepted_encoding(&headers), Encoding::Gzip);
        let tag = HeaderValue::from_static("\"x\", W/\"abc\"");
        assert!(etag_matches(Some(&tag), "abc"));
        assert!(!etag_matches(Some(&tag), "ab"));
        assert_eq!(
            content_type("/a/app.js").unwrap(),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("/index.html").unwrap(),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type("/x.png").unwrap(), "image/png");
        assert_eq!(content_type("/v1.2/LICENSE"), None);
    }
}
