//! Node.js compatibility (`nodejs_compat`) through real workers: the flag
//! and dates that turn it on, AsyncLocalStorage isolated between 100
//! concurrent requests on one isolate across timers, microtasks, fetch and
//! KV (and never outside its request's limits), `process.env` and the
//! globals (fixtures/workers/node-compat). The
//! modules themselves are checked against workerd by the conformance
//! corpus (fixtures/compat/node/) and real npm packages by the projects
//! test (fixtures/projects/node-packages).

use serde_json::{json, Value};

use crate::projects::{ridge_in, write};
use crate::support::{fixture, http1, Ridge, TempDir};

/// `ridge dev` on the fixture, its state in a fresh folder.
fn dev_node_compat(state: &TempDir) -> Ridge {
    Ridge::dev(
        &fixture("node-compat"),
        &["--persist-to", &state.path().display().to_string()],
    )
}

#[tokio::test]
async fn async_local_storage_keeps_each_request_apart() {
    let state = TempDir::new();
    let ridge = dev_node_compat(&state);
    let client = http1();
    let requests = (0..100).map(|id| {
        let client = client.clone();
        let url = ridge.url(&format!("/als?id={id}"));
        async move {
            let answer: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            (id, answer)
        }
    });
    let mut by_isolate: std::collections::HashMap<String, usize> = Default::default();
    for (id, answer) in futures::future::join_all(requests).await {
        let expected: Vec<String> = ["start", "timeout", "microtask", "fetch", "kv", "resource"]
            .iter()
            .map(|step| format!("{step}={id}"))
            .collect();
        assert_eq!(answer["seen"], json!(expected), "request {id}: {answer}");
        assert_eq!(answer["outside"], Value::Null, "request {id}: {answer}");
        *by_isolate
            .entry(answer["isolate"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    // Most of them ran on one isolate, interleaved on its storage object.
    let busiest = by_isolate.values().max().copied().unwrap_or_default();
    assert!(busiest >= 50, "requests per isolate: {by_isolate:?}");
}

#[tokio::test]
async fn async_local_storage_cannot_take_code_out_of_its_request() {
    let state = TempDir::new();
    let ridge = dev_node_compat(&state);
    let answer = ridge.json("/escape").await;
    assert_eq!(answer["made"], 5, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("Too many subrequests")),
        "{answer}"
    );
}

/// node:crypto refuses, with a clear message, what would hold the isolate's
/// thread past a request's limits (generation that never ends, scrypt
/// asking for gigabytes) or give a wrong answer.
#[tokio::test]
async fn crypto_refuses_what_would_run_past_the_limits() {
    let state = TempDir::new();
    let ridge = dev_node_compat(&state);
    assert_eq!(
        ridge.json("/crypto-bounds").await,
        json!({
            "evenExponent": "Invalid RSA public exponent 4: it must be odd, at least 3 and below 2^32",
            "hugeModulus": "Invalid RSA modulus length 8192: Ridge generates keys of 512 to 4096 bits",
            "saltTooLong": "Signing failed: the salt is too long for this key and digest",
            "scryptMemory": "Scrypt failed",
            "scryptWork": "Scrypt failed",
            "lowOrderKey": "Failed to derive the shared secret: the public key is of low order",
            "gcmTagLength": "Invalid authentication tag length: 6",
        })
    );
}

/// Buffer's base64 and hex work at a worker's top level while its snapshot
/// is made (V8's own codecs are missing then, and the JavaScript ones
/// answer), and give the same bytes in its handlers once restored.
#[tokio::test]
async fn buffer_codecs_work_while_a_snapshot_is_made() {
    let dir = TempDir::new();
    write(
        dir.path(),
        &[
            (
                "ridge.toml",
                "name = \"codecs\"\nmain = \"index.js\"\ncompatibility_date = \"2025-09-01\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
            ),
            (
                "index.js",
                "const bytes = Buffer.alloc(3000, 0xab);\n\
                 const top = [bytes.toString(\"base64\"), bytes.toString(\"hex\"), bytes.toString(\"base64url\")];\n\
                 const back = Buffer.from(top[0], \"base64\").equals(bytes) && Buffer.from(top[1], \"hex\").equals(bytes);\n\
                 export default { fetch() {\n\
                   const now = [bytes.toString(\"base64\"), bytes.toString(\"hex\"), bytes.toString(\"base64url\")];\n\
                   return Response.json({ back, same: now.every((text, i) => text === top[i]), lengths: top.map((t) => t.length) });\n\
                 } };\n",
            ),
        ],
    );
    let ridge = Ridge::dev(dir.path(), &["--snapshots", "always"]);
    ridge.wait_for_log("worker snapshot made");
    assert_eq!(
        ridge.json("/").await,
        json!({ "back": true, "same": true, "lengths": [4000, 6000, 4000] })
    );
}

#[tokio::test]
async fn process_env_and_the_globals() {
    let state = TempDir::new();
    let ridge = dev_node_compat(&state);
    // Vars as text, a JSON var as its JSON text (as workerd).
    assert_eq!(
        ridge.json("/env").await,
        json!({ "GREETING": "hi", "LIMITS": "{\"max\":3}" })
    );
    assert_eq!(
        ridge.json("/globals").await,
        json!({
            "Buffer": "function",
            "process": "object",
            "global": true,
            "setImmediate": "function",
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "hmac": "UDH+PZicbRU3oBP6bnOdojRj/a7DtwE32Cjjas4iG9A=",
        })
    );
}

#[test]
fn the_flag_and_the_date_decide_what_imports() {
    let dir = TempDir::new();
    let deploy = |config: &str, source: &str| {
        write(
            dir.path(),
            &[("wrangler.toml", config), ("src/index.js", source)],
        );
        ridge_in(dir.path(), &["deploy", "--server", "http://127.0.0.1:9"])
    };
    let worker = "import { Buffer } from \"node:buffer\";\nexport default { fetch() { return new Response(Buffer.from(\"x\")) } };\n";
    let (ok, out) = deploy(
        "name = \"x\"\nmain = \"src/index.js\"\ncompatibility_date = \"2025-09-01\"\n",
        worker,
    );
    assert!(!ok);
    assert!(
        out.contains("src/index.js:1: cannot import \"node:buffer\": \"buffer\" is a Node.js built-in module: add \"nodejs_compat\" to `compatibility_flags`"),
        "{out}"
    );
    // Before 2024-09-23 nodejs_compat takes `node:` imports only (v1).
    let bare = "import { Buffer } from \"buffer\";\nexport default { fetch() { return new Response(Buffer.from(\"x\")) } };\n";
    let (ok, out) = deploy(
        "name = \"x\"\nmain = \"src/index.js\"\ncompatibility_date = \"2024-06-01\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
        bare,
    );
    assert!(!ok);
    assert!(out.contains("import it as \"node:buffer\""), "{out}");
    let (ok, out) = deploy(
        "name = \"x\"\nmain = \"src/index.js\"\ncompatibility_date = \"2025-09-01\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
        "import sqlite from \"node:sqlite\";\nexport default {};\n",
    );
    assert!(!ok);
    assert!(
        out.contains("Ridge does not provide the Node.js module \"node:sqlite\""),
        "{out}"
    );
    // With the flag the bundle is made; the deploy then fails to reach the
    // (absent) server, not to build.
    let (ok, out) = deploy(
        "name = \"x\"\nmain = \"src/index.js\"\ncompatibility_date = \"2025-09-01\"\ncompatibility_flags = [\"nodejs_compat\"]\n",
        bare,
    );
    assert!(!ok);
    assert!(!out.contains("cannot import"), "{out}");
    assert!(!out.contains("stack backtrace"), "{out}");
}
