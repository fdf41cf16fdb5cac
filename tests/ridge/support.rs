//! Starting `ridge` for a test and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `ridge` process, killed when dropped.
pub struct Ridge {
    child: Child,
    pub addr: std::net::SocketAddr,
    pub https: bool,
    logs: Arc<Mutex<Vec<String>>>,
    /// Temporary folders the process uses, removed after it stops.
    folders: Vec<TempDir>,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/workers").join(name)
}

impl Ridge {
    /// `ridge dev PATH --port 0` plus extra arguments.
    pub fn dev(path: &Path, extra: &[&str]) -> Self {
        let mut args = vec![
            "dev".to_string(),
            path.display().to_string(),
            "--port".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::start(&args)
    }

    /// Runs `ridge` with `args` and waits for its "ready on" line.
    pub fn start(args: &[String]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Like [`Ridge::start`], with extra environment variables.
    pub fn start_with_env(args: &[String], env: &[(&str, &str)]) -> Self {
        Self::start_in(args, env, &root())
    }

    /// Like [`Ridge::start_with_env`], in the working directory `cwd`.
    pub fn start_in(args: &[String], env: &[(&str, &str)], cwd: &Path) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ridge"));
        command
            .current_dir(cwd)
            .args(args)
            .envs(env.iter().copied());
        Self::spawn(command)
    }

    /// Like [`Ridge::start`], with at most `fds` open file descriptors
    /// (soft and hard limit, so Ridge cannot raise it).
    pub fn start_with_fd_limit(args: &[String], fds: u64) -> Self {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_ridge"));
        command.current_dir(root()).args(args);
        // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: fds,
                    rlim_max: fds,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Self::spawn(command)
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .env("RIDGE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ridge");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("ready on ").nth(1) {
                    let url = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let _ = ready_tx.send(url);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let url = match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "ridge did not become ready; its output:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        let https = url.starts_with("https://");
        let addr = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .parse()
            .expect("address");
        Self {
            child,
            addr,
            https,
            logs,
            folders: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// `GET path` over HTTP/1.1: the body as text.
    pub async fn text(&self, path: &str) -> String {
        http1()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET path` over HTTP/1.1: the body as JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        http1()
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET path` over HTTP/1.1 with a Host header: status and body.
    pub async fn get_host(&self, host: &str, path: &str) -> (u16, String) {
        let response = http1()
            .get(self.url(path))
            .header("host", host)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Keeps `dir` until this process is dropped.
    pub fn keep(&mut self, dir: TempDir) {
        self.folders.push(dir);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything ridge logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// The URL a log line announced after `prefix` (e.g. "admin API on ").
    pub fn announced_url(&self, prefix: &str) -> String {
        let line = self.wait_for_log(prefix);
        let rest = line.split(prefix).nth(1).unwrap_or_default();
        rest.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// Stops the process at once, as `kill -9` would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends `signal` (SIGTERM: what service managers stop a service with).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with a valid signal; the pid is our child's.
        let sent = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "cannot signal ridge");
    }

    /// Waits up to `timeout` for the process to exit; its status, if it did.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_log_with(&[needle])
    }

    /// Waits until a log line contains every one of `needles`.
    pub fn wait_for_log_with(&self, needles: &[&str]) -> String {
        self.wait_for_logs_where(&format!("{needles:?}"), 1, |line| {
            needles.iter().all(|needle| line.contains(needle))
        })
        .remove(0)
    }

    /// Waits until `count` log lines contain `needle`; returns them.
    pub fn wait_for_logs(&self, needle: &str, count: usize) -> Vec<String> {
        self.wait_for_logs_where(needle, count, |line| line.contains(needle))
    }

    fn wait_for_logs_where(
        &self,
        what: &str,
        count: usize,
        matches: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found: Vec<String> = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .filter(|l| matches(l))
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {count} log lines with {what}; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client builder; TLS clients accept ridge's self-signed certificates.
pub fn client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().danger_accept_invalid_certs(true)
}

/// An HTTP/1.1 client.
pub fn http1() -> reqwest::Client {
    client().http1_only().build().unwrap()
}

/// An HTTP/2 cleartext client (prior knowledge, no upgrade).
pub fn h2c() -> reqwest::Client {
    client().http2_prior_knowledge().build().unwrap()
}

/// A TLS client offering h2 and http/1.1 by ALPN.
pub fn https() -> reqwest::Client {
    client().build().unwrap()
}

/// Resident memory high-water mark of a process, in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// A scratch folder shared by one run of the test binary (fixtures that are
/// copied and installed once), kept under Cargo's target/tmp so that a run
/// replaces the previous run's copy instead of leaving another in /tmp.
pub fn run_scratch(name: &str) -> std::path::PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// A directory removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ridge-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `ridge serve` over a temporary workers folder holding copies of the
/// given worker folders.
pub fn serve(workers: &[(&str, PathBuf)], extra: &[&str]) -> Ridge {
    serve_with_env(workers, extra, &[])
}

/// Like [`serve`], with extra environment variables.
pub fn serve_with_env(workers: &[(&str, PathBuf)], extra: &[&str], env: &[(&str, &str)]) -> Ridge {
    let dir = TempDir::new();
    for (name, source) in workers {
        copy_dir(source, &dir.path().join(name));
    }
    let mut args = vec![
        "serve".to_string(),
        "--workers".into(),
        dir.path().display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        dir.path().join(".data").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut ridge = Ridge::start_with_env(&args, env);
    ridge.keep(dir);
    ridge
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fresh PostgreSQL database for one test, dropped afterwards. The server
/// comes from `RIDGE_TEST_POSTGRES_URL` (a database whose role may create
/// databases); `.ci/run` sets one up.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let admin_url = std::env::var("RIDGE_TEST_POSTGRES_URL").expect(
            "RIDGE_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server \
             (e.g. postgres://ridge:ridge@127.0.0.1:5432/ridge_test); .ci/run installs and starts one",
        );
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ridge_test_{}_{n}", std::process::id());
        run_sql(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("a database URL ends in /DBNAME");
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// Runs `sql` directly, as another program sharing the database would.
    pub fn execute(&self, sql: &str) {
        run_sql(&self.url, sql);
    }

    /// The first column of `sql`'s rows, as bytes.
    pub fn query_bytes(&self, sql: &str) -> Vec<Vec<u8>> {
        with_client(&self.url, sql, |client, sql| async move {
            let rows = client
                .query(sql.as_str(), &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter().map(|row| row.get(0)).collect()
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        run_sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement on its own thread and runtime (usable from Drop).
fn run_sql(url: &str, sql: &str) {
    with_client(url, sql, |client, sql| async move {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// Runs `work` with a client connected to `url`, on a thread of its own.
fn with_client<T, F, Fut>(url: &str, sql: &str, work: F) -> T
where
    T: Send + 'static,
    F: FnOnce(tokio_postgres::Client, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(connection);
            work(client, sql).await
        })
    })
    .join()
    .expect("SQL thread")
}

/// Sends raw bytes over HTTP/1.1 and returns everything the server sent
/// until it closed the connection.
pub async fn raw_http1(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// CPU time (user and system) the process `pid` has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a system setting.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

/// Runs `command` in `dir`, failing the test with its output.
pub fn run_in(dir: &Path, command: &[&str]) {
    let output = Command::new(command[0])
        .args(&command[1..])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command[0]));
    assert!(
        output.status.success(),
        "{command:?} in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Copies a fixture project, without what installing, building or running
/// it leaves behind (`node_modules`, `dist`, caches, `.ridge`, `.wrangler`).
pub fn copy_project(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["node_modules", "dist", "cache", ".ridge", ".wrangler"]
            .contains(&name.to_str().unwrap())
        {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_project(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
