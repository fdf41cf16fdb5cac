//! The control plane over the admin API and the `ridge` CLI: upload,
//! validation, versions, rollback, secrets, authentication, durability.

use std::process::{Command, Stdio};

use reqwest::multipart::{Form, Part};

use std::time::{Duration, Instant};

use crate::support::{fixture, http1, root, PgDatabase, Ridge, TempDir};

pub const TOKEN: &str = "test-admin-token";

/// Where a test's nodes keep their state.
pub enum Backend {
    Sqlite(TempDir),
    Postgres(PgDatabase),
}

impl Backend {
    pub fn sqlite() -> Self {
        Backend::Sqlite(TempDir::new())
    }

    pub fn postgres() -> Self {
        Backend::Postgres(PgDatabase::create())
    }

    fn args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => vec!["--data-dir".into(), dir.path().display().to_string()],
            Backend::Postgres(db) => vec!["--store".into(), db.url.clone()],
        }
    }
}

/// A node serving what its store holds, with its admin API.
pub struct Node {
    pub ridge: Ridge,
    pub admin: String,
}

impl Node {
    pub fn start(backend: &Backend) -> Self {
        Self::start_with(backend, &[], &[])
    }

    /// A node with extra `ridge serve` arguments and environment variables.
    pub fn start_with(backend: &Backend, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut args: Vec<String> = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(backend.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut env = env.to_vec();
        env.push(("RIDGE_ADMIN_TOKEN", TOKEN));
        let ridge = Ridge::start_with_env(&args, &env);
        let admin = ridge.announced_url("admin API on ");
        Self { ridge, admin }
    }

    /// Runs a `ridge` client command against this node.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> (bool, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ridge"))
            .args(args)
            .env("RIDGE_SERVER", &self.admin)
            .env("RIDGE_ADMIN_TOKEN", TOKEN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + String::from_utf8_lossy(&output.stderr).as_ref();
        (output.status.success(), text)
    }

    pub async fn get(&self, host: &str, path: &str) -> (u16, String) {
        self.ridge.get_host(host, path).await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        http1()
            .request(method, format!("{}{path}", self.admin))
            .bearer_auth(TOKEN)
    }

    /// `GET path` on the admin API: the body as text.
    pub async fn admin_text(&self, path: &str) -> String {
        let response = self
            .admin(reqwest::Method::GET, path)
            .await
            .send()
            .await
            .unwrap();
        response.text().await.unwrap()
    }

    pub async fn upload(
        &self,
        worker: &str,
        metadata: &str,
        modules: &[(&str, &[u8])],
    ) -> (u16, serde_json::Value) {
        let mut form = Form::new().part("metadata", Part::text(metadata.to_string()));
        for (name, content) in modules {
            form = form.part(
                name.to_string(),
                Part::bytes(content.to_vec()).file_name(name.to_string()),
            );
        }
        let response = self
            .admin(reqwest::Method::PUT, &format!("/workers/{worker}"))
            .await
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn versions(&self, worker: &str) -> Vec<String> {
        let response = self
            .admin(reqwest::Method::GET, &format!("/workers/{worker}/versions"))
            .await
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A copy of workers/hello with its greeting changed, to make a new version.
fn hello_variant(dir: &TempDir, greeting: &str) -> std::path::PathBuf {
    let path = dir.path().join(greeting);
    std::fs::create_dir_all(path.join("src")).unwrap();
    std::fs::copy(
        root().join("workers/hello/src/index.js"),
        path.join("src/index.js"),
    )
    .unwrap();
    let config = std::fs::read_to_string(root().join("workers/hello/ridge.toml"))
        .unwrap()
        .replace("\"Hello\"", &format!("\"{greeting}\""));
    std::fs::write(path.join("ridge.toml"), config).unwrap();
    path
}

async fn deploy_serve_reject_a_broken_version_and_roll_back(backend: Backend) {
    let node = Node::start(&backend);
    let dir = TempDir::new();

    let (ok, out) = node.cli(
        &[
            "deploy",
            &hello_variant(&dir, "Hello").display().to_string(),
        ],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Deployed hello version ") && out.contains("route hello.localhost/*"),
        "{out}"
    );
    assert_eq!(
        node.get("hello.localhost", "/?name=v1").await,
        (200, "Hello, v1!\n".to_string())
    );
    let first = node.versions("hello").await[0].clone();

    // A version that does not compile is refused and changes nothing.
    let (status, body) = node
        .upload(
            "hello",
            r#"{"main_module":"index.js","routes":["hello.localhost/*"]}"#,
            &[(
                "index.js",
                b"export default {\n  fetch() { return new Response(1 +); }\n};\n",
            )],
        )
        .await;
    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("SyntaxError") && message.contains("index.js:2:"),
        "{message}"
    );
    assert_eq!(
        node.get("hello.localhost", "/?name=v1").await.1,
        "Hello, v1!\n"
    );
    assert_eq!(node.versions("hello").await, vec![first.clone()]);

    // A large bundle reports its upload progress.
    let howdy = hello_variant(&dir, "Howdy");
    std::fs::write(howdy.join("src/big.txt"), "x".repeat(2 * 1024 * 1024)).unwrap();
    let code = std::fs::read_to_string(howdy.join("src/index.js")).unwrap();
    std::fs::write(
        howdy.join("src/index.js"),
        format!("import big from \"./big.txt\";\n{code}"),
    )
    .unwrap();
    let (ok, out) = node.cli(
        &["deploy", &howdy.display().to_string(), "-m", "friendlier"],
        None,
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("50% sent") && out.contains("100% sent"),
        "{out}"
    );
    assert_eq!(
        node.get("hello.localhost", "/?name=v2").await.1,
        "Howdy, v2!\n"
    );
    let (ok, out) = node.cli(&["versions", "--name", "hello"], None);
    assert!(
        ok && out.contains("friendlier") && out.contains(&first),
        "{out}"
    );

    let (ok, out) = node.cli(&["rollback", &first, "--name", "hello"], None);
    assert!(ok, "{out}");
    assert_eq!(
        node.get("hello.localhost", "/?name=back").await.1,
        "Hello, back!\n"
    );
    let (ok, out) = node.cli(&["rollback", "nope", "--name", "hello"], None);
    assert!(
        !ok && out.contains("404") && out.contains("no version"),
        "{out}"
    );
}

async fn secrets_reach_the_worker_but_never_the_api(backend: Backend) {
    let node = Node::start(&backend);
    let (ok, out) = node.cli(&["deploy", &fixture("secrets").display().to_string()], None);
    assert!(ok, "{out}");
    assert_eq!(node.get("secrets.test", "/").await.1, "visible unset");
    let (ok, out) = node.cli(
        &["secret", "put", "API_KEY", "--name", "secrets"],
        Some("s3cr3t-value\n"),
    );
    assert!(ok, "{out}");
    assert_eq!(
        node.get("secrets.test", "/").await.1,
        "visible s3cr3t-value"
    );
    let listing = node.admin_text("/workers").await;
    assert!(
        listing.contains("API_KEY") && !listing.contains("s3cr3t-value"),
        "{listing}"
    );
    let versions = node.admin_text("/workers/secrets/versions").await;
    assert!(!versions.contains("s3cr3t-value"), "{versions}");
    assert!(
        !node.ridge.logs().contains("s3cr3t-value"),
        "secrets stay out of the logs"
    );
    let (ok, _) = node.cli(&["secret", "delete", "API_KEY", "--name", "secrets"], None);
    assert!(ok);
    assert_eq!(node.get("secrets.test", "/").await.1, "visible unset");
}

async fn every_admin_call_needs_the_token(backend: Backend) {
    let node = Node::start(&backend);
    for (token, expected) in [(None, 401), (Some("wrong"), 401), (Some(TOKEN), 200)] {
        for path in ["/workers", "/health", "/ready"] {
            let mut request = http1().get(format!("{}{path}", node.admin));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            assert_eq!(
                request.send().await.unwrap().status().as_u16(),
                expected,
                "{path} with {token:?}"
            );
        }
    }
    assert!(
        !node.ridge.logs().contains(TOKEN),
        "the token never appears in logs"
    );
}

async fn bad_uploads_get_a_precise_4xx_and_change_nothing(backend: Backend) {
    let node = Node::start(&backend);
    let good = r#"{"main_module":"index.js","routes":["v.test/*"]}"#;
    let handler: &[u8] = b"export default { fetch: () => new Response('ok') };";
    let (status, _) = node.upload("valid", good, &[("index.js", handler)]).await;
    assert_eq!(status, 200);
    let versions_before = node.versions("valid").await;

    let too_big = vec![b'a'; 11 * 1024 * 1024];
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a [u8])>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "traversal",
            good,
            vec![("index.js", handler), ("../evil.js", b"x")],
            400,
            "'..'",
        ),
        (
            "absolute",
            good,
            vec![("index.js", handler), ("/etc/x.js", b"x")],
            400,
            "absolute path",
        ),
        (
            "missing-main",
            good,
            vec![("other.js", handler)],
            400,
            "main module \"index.js\" is not in the bundle",
        ),
        (
            "bad-metadata",
            r#"{"main_module":"index.js","limits":{"cpu_ms":0}}"#,
            vec![("index.js", handler)],
            400,
            "limits.cpu_ms",
        ),
        (
            "unknown-field",
            r#"{"main_module":"index.js","rotues":[]}"#,
            vec![("index.js", handler)],
            400,
            "rotues",
        ),
        (
            "bad-route",
            r#"{"main_module":"index.js","routes":["no-path"]}"#,
            vec![("index.js", handler)],
            400,
            "routes[0]",
        ),
        (
            "bad-cron",
            r#"{"main_module":"index.js","crons":["* *"]}"#,
            vec![("index.js", handler)],
            400,
            "crons[0]",
        ),
        (
            "cron-out-of-range",
            r#"{"main_module":"index.js","crons":["*/5 * * * *","61 * * * *"]}"#,
            vec![("index.js", handler)],
            400,
            "`crons[1]` \"61 * * * *\" is not a valid cron expression",
        ),
        (
            "no-handler",
            good,
            vec![("index.js", b"export const x = 1;")],
            400,
            "no fetch handler",
        ),
        (
            "missing-import",
            good,
            vec![(
                "index.js",
                b"import x from './gone.js'; export default { fetch: () => new Response(x) };",
            )],
            400,
            "gone.js",
        ),
        (
            "bad-wasm",
            good,
            vec![
                (
                    "index.js",
                    b"import m from './m.wasm'; export default { fetch: () => new Response('x') };",
                ),
                ("m.wasm", b"not wasm"),
            ],
            400,
            "m.wasm is not a valid WebAssembly module",
        ),
        (
            "too-big",
            good,
            vec![("index.js", handler), ("big.txt", &too_big)],
            413,
            "larger than the 10 MiB limit",
        ),
        (
            "huge-cpu",
            r#"{"main_module":"index.js","limits":{"cpu_ms":1000000000}}"#,
            vec![("index.js", handler)],
            400,
            "`limits.cpu_ms` is 1000000000, more than the 300000 ms maximum",
        ),
        (
            "huge-body",
            r#"{"main_module":"index.js","limits":{"request_body_mb":17592186044416}}"#,
            vec![("index.js", handler)],
            400,
            "`limits.request_body_mb` is 17592186044416, more than the 4096 MiB maximum",
        ),
        (
            "taken-route",
            r#"{"main_module":"index.js","routes":["V.test/*"]}"#,
            vec![("index.js", handler)],
            409,
            "route \"V.test/*\" of worker \"taken-route\" is already worker \"valid\"'s",
        ),
    ];
    for (worker, metadata, modules, status, message) in cases {
        let (got, body) = node.upload(worker, metadata, &modules).await;
        assert_eq!(got, status, "{worker}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(message),
            "{worker}: {body}"
        );
    }
    // Not multipart at all, and multipart that is cut short.
    let response = node
        .admin(reqwest::Method::PUT, "/workers/plain")
        .await
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = node
        .admin(reqwest::Method::PUT, "/workers/cut")
        .await
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"main")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = node
        .admin(reqwest::Method::PUT, "/workers/Bad%20Name")
        .await
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // Nothing changed: one worker, its one version, still serving.
    let workers = node
        .admin(reqwest::Method::GET, "/workers")
        .await
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(workers["workers"].as_array().unwrap().len(), 1, "{workers}");
    assert_eq!(node.versions("valid").await, versions_before);
    assert_eq!(node.get("v.test", "/").await, (200, "ok".to_string()));
}

async fn deployed_workers_survive_a_hard_restart(backend: Backend) {
    let mut node = Node::start(&backend);
    let (ok, out) = node.cli(
        &[
            "deploy",
            &root().join("workers/hello").display().to_string(),
        ],
        None,
    );
    assert!(ok, "{out}");
    node.ridge.kill();
    let node = Node::start(&backend);
    assert_eq!(
        node.get("hello.localhost", "/?name=again").await,
        (200, "Hello, again!\n".to_string())
    );
    let (ok, out) = node.cli(&["delete", "--name", "hello"], None);
    assert!(ok, "{out}");
    assert_eq!(node.get("hello.localhost", "/").await.0, 404);
}

async fn a_deploy_on_one_node_is_served_by_another(backend: Backend) {
    let a = Node::start(&backend);
    let b = Node::start(&backend);
    assert_eq!(b.get("hello.localhost", "/").await.0, 404);
    let (ok, out) = a.cli(
        &[
            "deploy",
            &root().join("workers/hello").display().to_string(),
        ],
        None,
    );
    assert!(ok, "{out}");
    let deployed = Instant::now();
    loop {
        if b.get("hello.localhost", "/?name=b").await == (200, "Hello, b!\n".to_string()) {
            break;
        }
        assert!(
            deployed.elapsed() < Duration::from_secs(1),
            "node B did not serve the new version within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn requests_in_flight_finish_on_the_version_they_started_on(backend: Backend) {
    let node = Node::start(&backend);
    // Each version answers /slow after 300 ms with its own tag.
    let version = |tag: &str| {
        format!("export default {{ async fetch(request) {{ if (new URL(request.url).pathname === '/slow') await new Promise((r) => setTimeout(r, 300)); return new Response('{tag}'); }} }};")
    };
    let metadata = r#"{"main_module":"index.js","routes":["atomic.test/*"]}"#;
    assert_eq!(
        node.upload(
            "atomic",
            metadata,
            &[("index.js", version("v1").as_bytes())]
        )
        .await
        .0,
        200
    );
    // The slow request starts on v1; v2 is activated while it is in flight.
    let redeploy = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, _) = node
            .upload(
                "atomic",
                metadata,
                &[("index.js", version("v2").as_bytes())],
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            node.get("atomic.test", "/").await.1,
            "v2",
            "new requests see the new version"
        );
    };
    let ((_, slow), ()) = tokio::join!(node.get("atomic.test", "/slow"), redeploy);
    assert_eq!(
        slow, "v1",
        "the request in flight finished on the old version"
    );
}

/// Runs each scenario against the embedded store and against PostgreSQL.
/// (Scenarios take a `Backend`, which the calling module must import.)
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $scenario() { super::$scenario(super::Backend::sqlite()).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $scenario() { super::$scenario(super::Backend::postgres()).await })*
        }
    };
}

on_both_stores!(
    deploy_serve_reject_a_broken_version_and_roll_back,
    secrets_reach_the_worker_but_never_the_api,
    every_admin_call_needs_the_token,
    bad_uploads_get_a_precise_4xx_and_change_nothing,
    deployed_workers_survive_a_hard_restart,
    requests_in_flight_finish_on_the_version_they_started_on,
);

#[tokio::test]
async fn a_deploy_on_one_node_is_served_by_another_through_postgres() {
    a_deploy_on_one_node_is_served_by_another(Backend::postgres()).await;
}

#[test]
fn nodes_starting_together_on_an_empty_postgresql_database_all_start() {
    // Each node creates the tables it needs: at once, they take turns.
    let backend = Backend::postgres();
    let nodes: Vec<Node> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| Node::start(&backend)))
            .collect();
        starting
            .into_iter()
            .map(|node| node.join().expect("the node started"))
            .collect()
    });
    for node in &nodes {
        let (ok, output) = node.cli(&["workers"], None);
        assert!(ok, "{output}");
    }
}
