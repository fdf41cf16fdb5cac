//! Workers Static Assets (fixtures/assets/): a Vite + React app with a
//! worker API, a VitePress site with no worker, and a folder served under
//! every `html_handling` and `not_found_handling` mode, with and without a
//! worker, and create-cloudflare's Durable Object templates (with and
//! without assets) and queue templates (made from the npm package at test
//! time: their consumers must process what their fetch handlers sent). Each run
//! answers as Cloudflare's own asset server does under
//! `wrangler dev` (fixtures/assets/expected/, recorded by
//! tests/compat/assets.py), from `ridge dev` and deployed to a node; and
//! what Ridge adds: ranges, compression, content-addressed deploys,
//! rollback, a second node reading assets from PostgreSQL, and paths that
//! try to leave the folder.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::control::{Backend, Node};
use crate::support::{copy_project, root, run_in, run_scratch, Ridge, TempDir};

const FIXTURES: [&str; 9] = [
    "modes",
    "static-site",
    "vite-react",
    "c3-durable-object-js",
    "c3-durable-object-ts",
    "c3-durable-object-with-assets-js",
    "c3-durable-object-with-assets-ts",
    "c3-queues-js",
    "c3-queues-ts",
];

/// The queues a project's configuration sends to or consumes.
fn queues_of(config: &Path) -> Vec<String> {
    let config = ridge_deploy::config::WorkerConfig::from_file(config, None).unwrap();
    let metadata = ridge_deploy::VersionMetadata::from_config(&config);
    metadata.queues().into_iter().map(String::from).collect()
}

/// Every fixture, copied (or made from its create-cloudflare template),
/// installed and built once for the whole binary.
fn prepared() -> &'static Path {
    static PREPARED: OnceLock<PathBuf> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let dir = run_scratch("assets");
        for name in FIXTURES {
            let folder = dir.join(name);
            if let Some(template) = compat(name).get("template") {
                from_template(template, &folder, name);
                continue;
            }
            copy_project(&root().join("fixtures/assets").join(name), &folder);
            if let Some(build) = compat(name)["build"].as_str() {
                run_in(
                    &folder,
                    &["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                );
                run_in(&folder, &["sh", "-c", build]);
            }
        }
        dir
    })
}

/// The project `npm create cloudflare` makes from `template` (its npm
/// package, installed now, and the template's folder in it), as
/// tests/compat/assets.py makes it: dot files renamed, placeholders filled.
fn from_template(template: &Value, folder: &Path, name: &str) {
    let unpacked = folder.with_file_name(format!("{name}-template"));
    std::fs::create_dir_all(&unpacked).unwrap();
    let package = template["package"].as_str().unwrap();
    run_in(&unpacked, &["npm", "pack", package, "--silent"]);
    let tarball = std::fs::read_dir(&unpacked)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "tgz"))
        .unwrap();
    run_in(&unpacked, &["tar", "xzf", tarball.to_str().unwrap()]);
    copy_project(
        &unpacked
            .join("package")
            .join(template["path"].as_str().unwrap()),
        folder,
    );
    let date = template["compatibility_date"].as_str().unwrap();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(dotted) = file.strip_prefix("__dot__") {
            std::fs::rename(&path, folder.join(format!(".{dotted}"))).unwrap();
        } else if file.contains(".json") {
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("<WORKER_NAME>", name)
                .replace("<PACKAGE_NAME>", name)
                .replace("<COMPATIBILITY_DATE>", date);
            std::fs::write(&path, text).unwrap();
        }
    }
}

fn compat(fixture: &str) -> Value {
    let path = root().join(format!("fixtures/assets/{fixture}/compat.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn expected(fixture: &str, run: &str) -> Vec<Value> {
    let path = root().join(format!("fixtures/assets/expected/{fixture}.{run}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run tests/compat/assets.py", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A response as the raw client read it.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request with the path exactly as written (no client
/// normalises `%2e%2e` or `//` away), on its own connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> Raw {
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(name, _)| name == "host") {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    let mut body = bytes[end..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Raw {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The body without its content coding.
fn decoded(raw: &Raw) -> Vec<u8> {
    let mut out = Vec::new();
    match raw.header("content-encoding") {
        Some("gzip") => {
            flate2::read::GzDecoder::new(&raw.body[..])
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(&raw.body[..], 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        _ => out = raw.body.clone(),
    }
    out
}

/// Headers and values compared with the reference. Ridge adds `Vary`,
/// `Accept-Ranges`, `Allow` and ranges, and picks its own compression
/// (DIFFERENCES.md); ETags are content hashes here and path hashes in
/// wrangler dev, so only their form is compared.
fn comparable(status: u16, headers: &serde_json::Map<String, Value>, body: Value) -> Value {
    let mut kept = serde_json::Map::new();
    for (name, value) in headers {
        if [
            "vary",
            "accept-ranges",
            "allow",
            "content-encoding",
            "content-range",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        let value = match (name.as_str(), value.as_str()) {
            ("etag", Some(tag)) => {
                let hash = tag.trim_start_matches("W/").trim_matches('"');
                assert!(
                    hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                    "etag {tag}"
                );
                json!("<etag>")
            }
            _ => value.clone(),
        };
        kept.insert(name.clone(), value);
    }
    json!({ "status": status, "headers": kept, "body": body })
}

/// What one request of a run answers, shaped as tests/compat/assets.py
/// records it.
fn recorded(raw: &Raw) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &raw.headers {
        let recorded = [
            "content-type",
            "location",
            "cache-control",
            "etag",
            "content-range",
            "content-encoding",
            "vary",
            "allow",
            "accept-ranges",
        ]
        .contains(&name.as_str())
            || (name.starts_with("x-") && name != "x-powered-by");
        if recorded {
            headers.insert(name.clone(), json!(value));
        }
    }
    let body = decoded(raw);
    let content_type = raw.header("content-type").unwrap_or("");
    let textual = content_type.starts_with("text/")
        || ["json", "xml", "javascript"]
            .iter()
            .any(|t| content_type.contains(t));
    let html_too_long = content_type.starts_with("text/html") && body.len() > 2048;
    let body = match std::str::from_utf8(&body) {
        _ if body.is_empty() => json!(""),
        Ok(text) if textual && !html_too_long => json!(text),
        _ => json!({ "sha256": hex(&sha2::Sha256::digest(&body)), "length": body.len() }),
    };
    comparable(raw.status, &headers, body)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends a run's requests and compares each answer with the reference.
async fn check_run(addr: SocketAddr, fixture: &str, run: &Value, host: Option<&str>) {
    let name = run["name"].as_str().unwrap();
    let mut etag = String::new();
    for (request, expected) in run["requests"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected(fixture, name))
    {
        let (method, path) = (
            request["method"].as_str().unwrap(),
            request["path"].as_str().unwrap(),
        );
        let mut headers: Vec<(String, String)> = request["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| {
                let value = v.as_str().unwrap();
                (
                    n.clone(),
                    if value == "$ETAG" {
                        etag.clone()
                    } else {
                        value.to_string()
                    },
                )
            })
            .collect();
        if let Some(host) = host {
            headers.push(("host".into(), host.into()));
        }
        let raw = send(
            addr,
            method,
            path,
            &headers,
            request["body"].as_str().unwrap_or(""),
        )
        .await;
        etag = raw.header("etag").unwrap_or_default().to_string();
        // Ranges are Ridge's own (the reference ignores them): see
        // `ranges_compression_and_revalidation`.
        if request["headers"].get("range").is_some() {
            continue;
        }
        let theirs = comparable(
            expected["status"].as_u64().unwrap() as u16,
            expected["headers"].as_object().unwrap(),
            expected["body"].clone(),
        );
        assert_eq!(
            recorded(&raw),
            theirs,
            "{fixture}.{name}: {method} {path} {headers:?}"
        );
    }
}

fn addr(ridge: &Ridge) -> SocketAddr {
    ridge.url("").trim_start_matches("http://").parse().unwrap()
}

#[tokio::test]
async fn projects_with_assets_answer_as_on_workerd_under_ridge_dev() {
    for fixture in FIXTURES {
        let folder = prepared().join(fixture);
        for run in compat(fixture)["runs"].as_array().unwrap() {
            let config = run["config"].as_str().unwrap();
            let args: Vec<String> = ["dev", "-c", config, "--port", "0"]
                .map(String::from)
                .to_vec();
            let ridge = Ridge::start_in(&args, &[], &folder);
            check_run(addr(&ridge), fixture, run, None).await;
            // A queue template's consumer logs each message its fetch
            // handler sent (after the default batch timeout, 5 s).
            if !queues_of(&folder.join(config)).is_empty() {
                let sent = run["requests"].as_array().unwrap().len();
                let lines = ridge.wait_for_logs(" processed: {\"url\":", sent);
                assert!(
                    lines.iter().any(|l| l.contains("\"method\":\"POST\"")),
                    "{lines:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn projects_with_assets_deploy_and_answer_as_on_workerd() {
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    for fixture in FIXTURES {
        let folder = prepared().join(fixture);
        for run in compat(fixture)["runs"].as_array().unwrap() {
            let config = folder.join(run["config"].as_str().unwrap());
            // As with wrangler, the queues a worker names are created first.
            for queue in queues_of(&config) {
                let (ok, out) = node.cli(&["queues", "create", &queue], None);
                assert!(ok || out.contains("exists"), "{fixture}: {out}");
            }
            let (ok, out) = node.cli(
                &[
                    "deploy",
                    &folder.display().to_string(),
                    "-c",
                    &config.display().to_string(),
                ],
                None,
            );
            assert!(ok, "{fixture}: {out}");
            let worker = ridge_deploy::config::WorkerConfig::from_file(&config, None)
                .unwrap()
                .name;
            check_run(
                addr(&node.ridge),
                fixture,
                run,
                Some(&format!("{worker}.test")),
            )
            .await;
            // A queue template's consumer takes what its fetch handler
            // sent; then the worker goes, as a queue has one consumer.
            for queue in queues_of(&config) {
                let drained = |info: &Value| info["backlog"] == 0;
                let limit = std::time::Duration::from_secs(20);
                crate::queues::queue_info_when(&node, &queue, limit, drained).await;
                let (ok, out) = node.cli(&["delete", "--name", &worker], None);
                assert!(ok, "{fixture}: {out}");
            }
        }
    }
}

/// Writes a project whose assets folder holds `files`.
fn site(dir: &Path, config: &str, files: &[(&str, &[u8])]) {
    std::fs::write(dir.join("wrangler.jsonc"), config).unwrap();
    for (path, content) in files {
        let path = dir.join("public").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

const ASSETS_ONLY: &str =
    r#"{"name": "site", "compatibility_date": "2025-09-01", "assets": {"directory": "./public"}}"#;

#[tokio::test]
async fn ranges_compression_and_revalidation() {
    let dir = TempDir::new();
    let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let large: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    site(
        dir.path(),
        ASSETS_ONLY,
        &[("notes.txt", text.as_bytes()), ("big.bin", &large)],
    );
    let ridge = Ridge::dev(dir.path(), &[]);
    let at = addr(&ridge);
    let header = |name: &str, value: &str| vec![(name.to_string(), value.to_string())];

    let part = send(at, "GET", "/notes.txt", &header("range", "bytes=5-9"), "").await;
    let size = text.len();
    assert_eq!(
        (part.status, part.header("content-range")),
        (206, Some(format!("bytes 5-9/{size}").as_str()))
    );
    assert_eq!(part.body, &text.as_bytes()[5..10]);
    assert_eq!(
        part.header("cache-control"),
        None,
        "partial answers carry no cache advice"
    );
    let tail = send(at, "GET", "/notes.txt", &header("range", "bytes=-4"), "").await;
    assert_eq!(tail.body, &text.as_bytes()[text.len() - 4..]);
    let beyond = send(
        at,
        "GET",
        "/notes.txt",
        &header("range", "bytes=99999-"),
        "",
    )
    .await;
    assert_eq!(
        (beyond.status, beyond.header("content-range")),
        (416, Some(format!("bytes */{size}").as_str()))
    );
    // A large file is streamed from disk, ranges included.
    let middle = send(
        at,
        "GET",
        "/big.bin",
        &header("range", "bytes=2000000-2000099"),
        "",
    )
    .await;
    assert_eq!(
        (middle.status, middle.body.as_slice()),
        (206, &large[2_000_000..2_000_100])
    );
    let whole = send(at, "GET", "/big.bin", &[], "").await;
    assert_eq!((whole.status, whole.body.len()), (200, large.len()));
    assert_eq!(whole.body, large);

    for (accept, coding) in [
        ("br, gzip", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let compressed = send(
            at,
            "GET",
            "/notes.txt",
            &header("accept-encoding", accept),
            "",
        )
        .await;
        assert_eq!(
            compressed.header("content-encoding"),
            Some(coding),
            "{accept}"
        );
        assert_eq!(compressed.header("vary"), Some("Accept-Encoding"));
        assert!(
            compressed.body.len() < text.len() / 3,
            "{coding}: {} bytes",
            compressed.body.len()
        );
        assert_eq!(decoded(&compressed), text.as_bytes());
        // The compressed form is another representation: a weak ETag,
        // which revalidates the same file.
        let etag = compressed.header("etag").unwrap().to_string();
        assert!(etag.starts_with("W/\""), "{etag}");
        let again = send(at, "GET", "/notes.txt", &header("if-none-match", &etag), "").await;
        assert_eq!((again.status, again.body.len()), (304, 0));
    }
    let binary = send(
        at,
        "GET",
        "/big.bin",
        &header("accept-encoding", "gzip"),
        "",
    )
    .await;
    assert_eq!(
        binary.header("content-encoding"),
        None,
        "binary files are sent as they are"
    );
    let refused = send(at, "DELETE", "/notes.txt", &[], "").await;
    assert_eq!(
        (refused.status, refused.header("allow")),
        (405, Some("GET, HEAD"))
    );
}

#[tokio::test]
async fn paths_never_leave_the_assets_folder() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    site(
        dir.path(),
        ASSETS_ONLY,
        &[("index.html", b"<h1>home</h1>"), ("a/b.txt", b"b")],
    );
    let ridge = Ridge::dev(dir.path(), &[]);
    let at = addr(&ridge);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/a/%2e%2e%2f%2e%2e%2fsecret.txt",
        "//secret.txt",
        "/wrangler.jsonc",
        "/%2e%2e/wrangler.jsonc",
    ] {
        let answer = send(at, "GET", path, &[], "").await;
        assert!(
            !String::from_utf8_lossy(&answer.body).contains("outside")
                && !String::from_utf8_lossy(&answer.body).contains("compatibility_date"),
            "{path} leaked: {} {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        assert!(
            [404, 307].contains(&answer.status),
            "{path}: {}",
            answer.status
        );
    }
    drop(ridge);
    // A link out of the folder is refused before anything is served.
    std::os::unix::fs::symlink(
        dir.path().join("secret.txt"),
        dir.path().join("public/leak.txt"),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ridge"))
        .args([
            "deploy",
            &dir.path().display().to_string(),
            "--server",
            "http://127.0.0.1:9",
        ])
        .env("RIDGE_ADMIN_TOKEN", "x")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("public/leak.txt is a link to")
            && stderr.contains("outside the assets directory"),
        "{stderr}"
    );
}

#[tokio::test]
async fn deploys_send_only_new_files_and_rollback_brings_the_old_assets_back() {
    let dir = TempDir::new();
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| {
            (
                format!("page{i}.html"),
                format!("<p>page {i}</p>").into_bytes(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    site(dir.path(), ASSETS_ONLY, &borrowed);
    std::fs::write(
        dir.path().join("public/_redirects"),
        "/old /page1 301\n/broken\n",
    )
    .unwrap();
    let backend = Backend::sqlite();
    let node = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    let at = addr(&node.ridge);
    let host = vec![("host".to_string(), "site.test".to_string())];
    let folder = dir.path().display().to_string();

    let (ok, out) = node.cli(&["deploy", &folder], None);
    assert!(ok, "{out}");
    assert!(out.contains("Assets: 30 files; uploading 30 new"), "{out}");
    // The invalid line is named, skipped, and the rest applies.
    assert!(out.contains("_redirects:2: expected `source destination [status]`, found 1 fields; the line is ignored"), "{out}");
    let first_version = out
        .lines()
        .find_map(|l| l.strip_prefix("Deployed site version "))
        .unwrap()
        .to_string();
    let moved = send(at, "GET", "/old", &host, "").await;
    assert_eq!(
        (moved.status, moved.header("location")),
        (301, Some("/page1"))
    );

    std::fs::write(
        dir.path().join("public/page7.html"),
        "<p>page 7, edited</p>",
    )
    .unwrap();
    let (ok, out) = node.cli(&["deploy", &folder], None);
    assert!(ok, "{out}");
    assert!(out.contains("Assets: 30 files; uploading 1 new"), "{out}");
    let edited = send(at, "GET", "/page7", &host, "").await;
    assert_eq!(edited.body, b"<p>page 7, edited</p>");

    let (ok, out) = node.cli(&["rollback", &first_version, "--name", "site"], None);
    assert!(ok, "{out}");
    let restored = send(at, "GET", "/page7", &host, "").await;
    assert_eq!(restored.body, b"<p>page 7</p>");

    // Asset answers are counted, by worker and status.
    let metrics = crate::support::http1()
        .get(format!("{}/metrics", node.admin))
        .header("authorization", format!("Bearer {}", crate::control::TOKEN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "ridge_asset_responses_total{worker=\"site\",status=\"301\"} 1",
        "ridge_asset_responses_total{worker=\"site\",status=\"200\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    // Uploads that do not add up are refused with the reason.
    let client = crate::support::http1();
    let admin = &node.admin;
    let token = format!("Bearer {}", crate::control::TOKEN);
    let altered = client
        .put(format!("{admin}/assets/{}", "0".repeat(32)))
        .header("authorization", &token)
        .body("not what the hash says")
        .send()
        .await
        .unwrap();
    assert_eq!(altered.status(), 400);
    assert!(altered
        .text()
        .await
        .unwrap()
        .contains("the upload was altered or cut short"));
    // A version naming content the node lacks is refused, naming it.
    let metadata = format!(
        r#"{{"main_module": "", "assets": {{"manifest": "{}"}}}}"#,
        "ab".repeat(16)
    );
    let form = reqwest::multipart::Form::new().text("metadata", metadata);
    let refused = client
        .put(format!("{admin}/workers/site"))
        .header("authorization", &token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let message = refused.text().await.unwrap();
    assert!(
        message.contains(&format!(
            "the assets manifest {} is not stored",
            "ab".repeat(16)
        )),
        "{message}"
    );
    // The site still serves its active version.
    assert_eq!(
        send(at, "GET", "/page7", &host, "").await.body,
        b"<p>page 7</p>"
    );
}

#[tokio::test]
async fn a_second_node_serves_assets_from_postgresql() {
    let backend = Backend::postgres();
    let first = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    let second = Node::start_with(&backend, &["--base-domain", "test"], &[]);
    let dir = TempDir::new();
    let large: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 241) as u8).collect();
    site(
        dir.path(),
        ASSETS_ONLY,
        &[("index.html", b"<h1>cluster</h1>"), ("data.bin", &large)],
    );
    let (ok, out) = first.cli(&["deploy", &dir.path().display().to_string()], None);
    assert!(ok, "{out}");
    let host = vec![("host".to_string(), "site.test".to_string())];
    let at = addr(&second.ridge);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let home = send(at, "GET", "/", &host, "").await;
        if home.status == 200 {
            assert_eq!(home.body, b"<h1>cluster</h1>");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second node never served the site"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let data = send(at, "GET", "/data.bin", &host, "").await;
    assert_eq!(data.body, large);
}

#[tokio::test]
async fn ridge_dev_serves_a_rebuilt_folder_without_a_restart() {
    let dir = TempDir::new();
    let config = r#"{"name": "app", "main": "src/index.js", "compatibility_date": "2025-09-01",
        "assets": {"directory": "./dist", "binding": "ASSETS", "not_found_handling": "single-page-application"}}"#;
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/index.js"),
        "export default { fetch(request, env) { return new Response('api'); } };\n",
    )
    .unwrap();
    site(dir.path(), config, &[]);
    std::fs::rename(dir.path().join("public"), dir.path().join("dist")).ok();
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    std::fs::write(dir.path().join("dist/index.html"), "<h1>v1</h1>").unwrap();
    let ridge = Ridge::dev(dir.path(), &[]);
    let at = addr(&ridge);
    assert_eq!(send(at, "GET", "/", &[], "").await.body, b"<h1>v1</h1>");
    // A build replaces the folder, as Vite does.
    std::fs::remove_dir_all(dir.path().join("dist")).unwrap();
    std::fs::create_dir_all(dir.path().join("dist/assets")).unwrap();
    std::fs::write(dir.path().join("dist/index.html"), "<h1>v2</h1>").unwrap();
    std::fs::write(dir.path().join("dist/assets/app.js"), "console.log(2)").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let home = send(at, "GET", "/", &[], "").await;
        if home.body == b"<h1>v2</h1>" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rebuilt folder was never served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let script = send(at, "GET", "/assets/app.js", &[], "").await;
    assert_eq!(
        (script.status, script.header("content-type")),
        (200, Some("text/javascript; charset=utf-8"))
    );
    // A miss that is not a navigation goes to the worker.
    assert_eq!(send(at, "GET", "/missing.js", &[], "").await.body, b"api");
}

#[test]
fn assets_configuration_mistakes_are_named() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path().join("public")).unwrap();
    for (config, message) in [
        (
            r#"{"name": "a", "assets": {"binding": "ASSETS"}}"#,
            "`assets.directory` is missing: name the folder of files to serve",
        ),
        (
            r#"{"name": "a", "assets": {"directory": "./public", "binding": "ASSETS"}}"#,
            "`assets.binding` needs a worker to bind to: set `main`, or remove the binding",
        ),
        (
            r#"{"name": "a", "main": "i.js", "assets": {"directory": "./public", "run_worker_first": ["api/*"]}}"#,
            "`assets.run_worker_first[0]` \"api/*\" must start with `/` (or `!/` to exclude paths)",
        ),
        (
            r#"{"name": "a", "assets": {"directory": "./public", "html_handling": "auto"}}"#,
            "unknown variant `auto`",
        ),
        (
            r#"{"name": "a", "assets": {"directory": "./missing"}}"#,
            "the assets directory missing does not exist",
        ),
    ] {
        std::fs::write(dir.path().join("wrangler.jsonc"), config).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_ridge"))
            .args(["deploy", ".", "--server", "http://127.0.0.1:9"])
            .current_dir(dir.path())
            .env("RIDGE_ADMIN_TOKEN", "x")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{config}");
        assert!(stderr.contains(message), "{config}:\n{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("cannot reach"),
            "{stderr}"
        );
    }
}
