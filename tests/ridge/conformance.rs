//! Conformance with workerd, Cloudflare's open-source runtime: every case
//! of the corpus (fixtures/compat/AREA/NAME) must answer what workerd
//! answered (fixtures/compat/expected/, written by tests/compat/workerd.py,
//! never by hand), unless DIFFERENCES.md lists it with a reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::{client, fixture, root, Ridge, TempDir};

const HOST: &str = "compat.test";
/// Headers every runtime sets its own way (the generator skips them too).
pub const IGNORED_HEADERS: [&str; 7] = [
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "server",
    "alt-svc",
];
/// The date every case runs with, as tests/compat/workerd.py runs them.
const COMPAT_DATE: &str = "2025-09-01";

/// The compatibility flags of an area's cases, as TOML (the `node` area
/// runs with `nodejs_compat`, as tests/compat/workerd.py runs it).
fn area_flags(id: &str) -> &'static str {
    if id.starts_with("node/") {
        "[\"nodejs_compat\"]"
    } else {
        "[]"
    }
}

/// At least this share of the corpus must answer exactly as workerd does.
const REQUIRED_MATCH: f64 = 0.95;

/// A case: its id (AREA/NAME) and its file or folder.
fn corpus() -> Vec<(String, PathBuf)> {
    let base = root().join("fixtures/compat");
    let mut cases = Vec::new();
    let mut areas: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("expected"))
        .collect();
    areas.sort();
    for area in areas {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&area)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for entry in entries {
            let name = if entry.is_dir() {
                entry.file_name()
            } else if entry.extension().is_some_and(|e| e == "js") {
                entry.file_stem()
            } else {
                continue;
            };
            let id = format!(
                "{}/{}",
                area.file_name().unwrap().to_string_lossy(),
                name.unwrap().to_string_lossy()
            );
            cases.push((id, entry));
        }
    }
    cases
}

/// A folder case's second worker, and its bindings to it (`[{"binding",
/// "entrypoint"?}]`), as tests/compat/workerd.py reads them.
const CALLEE: &str = "callee.js";
const SERVICES: &str = "services.json";
/// A folder case's Durable Object namespaces (`[{"binding", "class"}]`,
/// classes of its index.js).
const OBJECTS: &str = "objects.json";

fn copy_case(entry: &Path, folder: &Path) {
    std::fs::create_dir_all(folder).unwrap();
    if entry.is_file() {
        std::fs::copy(entry, folder.join("index.js")).unwrap();
        return;
    }
    for file in std::fs::read_dir(entry).unwrap() {
        let path = file.unwrap().path();
        let target = folder.join(path.file_name().unwrap());
        if path.ends_with(CALLEE) || path.ends_with(SERVICES) || path.ends_with(OBJECTS) {
            continue;
        }
        if path.is_dir() {
            copy_case(&path, &target);
        } else {
            std::fs::copy(&path, target).unwrap();
        }
    }
}

/// The `services` of case `index`'s configuration, with its callee worker
/// written beside it, when the case has one.
fn callee_worker(entry: &Path, workers: &Path, index: usize, flags: &str) -> String {
    let Ok(bindings) = std::fs::read_to_string(entry.join(SERVICES)) else {
        return String::new();
    };
    let bindings: Vec<Value> = serde_json::from_str(&bindings).unwrap();
    let name = format!("case{index}-callee");
    let folder = workers.join(&name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(entry.join(CALLEE), folder.join("index.js")).unwrap();
    std::fs::write(
        folder.join("ridge.toml"),
        format!(
            "name = \"{name}\"\nmain = \"index.js\"\ncompatibility_date = \"{COMPAT_DATE}\"\n\
             compatibility_flags = {flags}\n"
        ),
    )
    .unwrap();
    let services: Vec<String> = bindings
        .iter()
        .map(|binding| {
            let entrypoint = binding["entrypoint"]
                .as_str()
                .map(|entrypoint| format!(", entrypoint = \"{entrypoint}\""))
                .unwrap_or_default();
            format!(
                "{{ binding = \"{}\", service = \"{name}\"{entrypoint} }}",
                binding["binding"].as_str().unwrap()
            )
        })
        .collect();
    format!("services = [{}]\n", services.join(", "))
}

/// The tables of case `entry`'s Durable Object namespaces (bindings and
/// one migration creating the classes), when it has any.
fn object_tables(entry: &Path) -> String {
    let Ok(namespaces) = std::fs::read_to_string(entry.join(OBJECTS)) else {
        return String::new();
    };
    let namespaces: Vec<Value> = serde_json::from_str(&namespaces).unwrap();
    let mut tables = String::new();
    let mut classes: Vec<&str> = Vec::new();
    for namespace in &namespaces {
        let class = namespace["class"].as_str().unwrap();
        tables += &format!(
            "[[durable_objects.bindings]]\nname = \"{}\"\nclass_name = \"{class}\"\n",
            namespace["binding"].as_str().unwrap()
        );
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    let classes: Vec<String> = classes.iter().map(|c| format!("\"{c}\"")).collect();
    tables.push_str(&format!(
        "[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [{}]\n",
        classes.join(", ")
    ));
    tables
}

/// The answer to the one request every case gets, as the generator records it.
async fn answer(ridge: &Ridge, id: &str) -> Value {
    // Redirects are answers to compare, not to follow.
    let client = client()
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(ridge.url(&format!("/{id}/?q=1")))
        .header("host", HOST)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for name in response.headers().keys() {
        if IGNORED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let values: Vec<&str> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        headers.insert(name.as_str().to_string(), Value::String(values.join(", ")));
    }
    let body = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    json!({ "status": status, "headers": headers, "body": body })
}

/// Case ids DIFFERENCES.md lists (as `AREA/NAME` in backticks at the start
/// of a table row).
fn listed_differences() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("DIFFERENCES.md")).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|id| id.contains('/'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_corpus_answers_as_workerd_does() {
    let cases = corpus();
    assert!(cases.len() >= 150, "the corpus has {} cases", cases.len());
    let workers = TempDir::new();
    for (index, (id, entry)) in cases.iter().enumerate() {
        let folder = workers.path().join(format!("case{index}"));
        copy_case(entry, &folder);
        let services = callee_worker(entry, workers.path(), index, area_flags(id));
        // The corpus checks answers, not speed: in a debug build the
        // crypto crates' key generation can take most of the default 50 ms.
        std::fs::write(
            folder.join("ridge.toml"),
            format!(
                "name = \"case{index}\"\nmain = \"index.js\"\nroutes = [\"{HOST}/{id}/*\"]\n\
                 compatibility_date = \"{COMPAT_DATE}\"\ncompatibility_flags = {flags}\n\
                 {services}[limits]\ncpu_ms = 1000\n{objects}",
                flags = area_flags(id),
                objects = object_tables(entry),
            ),
        )
        .unwrap();
    }
    let data = TempDir::new();
    let ridge = Ridge::start(&[
        "serve".to_string(),
        "--workers".into(),
        workers.path().display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data.path().display().to_string(),
    ]);

    let listed = listed_differences();
    let mut by_area: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut stale = Vec::new();
    let mut matching = 0;
    for (id, _) in &cases {
        let expected_path = root().join(format!("fixtures/compat/expected/{id}.json"));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
                panic!("{id} has no expected result: run tests/compat/workerd.py")
            }),
        )
        .unwrap();
        let ours = answer(&ridge, id).await;
        let same = ours == expected;
        let area = id.split('/').next().unwrap().to_string();
        let counts = by_area.entry(area).or_default();
        counts.1 += 1;
        if same {
            counts.0 += 1;
            matching += 1;
            if listed.contains(id) {
                stale.push(id.clone());
            }
        } else if !listed.contains(id) {
            unexplained.push(format!("{id}\n  workerd: {expected}\n  ridge:   {ours}"));
        }
    }
    println!("| area | cases | same as workerd |\n|---|---|---|");
    for (area, (same, total)) in &by_area {
        println!("| {area} | {total} | {same} |");
    }
    println!("| **all** | {} | {matching} |", cases.len());
    assert!(
        unexplained.is_empty(),
        "cases that differ from workerd without an entry in DIFFERENCES.md:\n{}",
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "DIFFERENCES.md lists cases that now match workerd: {stale:?}"
    );
    let share = matching as f64 / cases.len() as f64;
    assert!(
        share >= REQUIRED_MATCH,
        "{matching} of {} cases match workerd ({:.1}%)",
        cases.len(),
        share * 100.0
    );
}

/// The WinterTC Minimum Common API: every interface and global on
/// `globalThis`, with the right type.
#[tokio::test]
async fn every_wintertc_global_exists() {
    let ridge = Ridge::dev(&fixture("wintertc.js"), &[]);
    let report: BTreeMap<String, String> = serde_json::from_value(ridge.json("/").await).unwrap();
    let wrong: Vec<String> = report
        .iter()
        .filter(|(_, found)| found.as_str() != "ok")
        .map(|(name, found)| format!("{name}: {found}"))
        .collect();
    println!("WinterTC globals checked: {}", report.len());
    assert!(wrong.is_empty(), "missing or mistyped: {wrong:#?}");
}
