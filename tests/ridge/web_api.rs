//! The WinterTC globals are present and work; Deno's namespace is not.

use crate::support::{fixture, Ridge};

#[tokio::test]
async fn wintertc_globals_are_present_and_work() {
    let ridge = Ridge::dev(&fixture("web-api.js"), &[]);
    let report: serde_json::Value = ridge.json("/").await;

    for (name, kind) in report["present"].as_object().unwrap() {
        let expected = match name.as_str() {
            "crypto" | "performance" | "console" | "navigator" | "WebAssembly" | "self" => "object",
            _ => "function",
        };
        assert_eq!(kind, expected, "typeof {name}");
    }
    for (name, kind) in report["absent"].as_object().unwrap() {
        assert_eq!(
            kind, "undefined",
            "{name} must not be reachable from worker code"
        );
    }
    let checks = &report["checks"];
    assert_eq!(checks["sha256"], "ba7816bf");
    assert_eq!(checks["hmac"], "2d93cbc1", "HMAC-SHA256(\"key\", \"msg\")");
    assert_eq!(checks["randomUUID"], true);
    assert_eq!(checks["urlPattern"], "42");
    assert_eq!(checks["searchParams"], "1,3");
    assert_eq!(checks["structuredClone"], 0);
    assert_eq!(checks["compression"], "hello hello hello");
    assert_eq!(checks["textDecoderStream"], "€");
    assert_eq!(checks["formData"], "data:a.txt");
    assert_eq!(checks["abort"], "stop");
    assert_eq!(checks["base64"], "ridge");
    assert_eq!(checks["microtask"], "ran");
    assert_eq!(checks["timer"], "fired");
    assert_eq!(checks["eventTarget"], "ping");
    assert_eq!(checks["domException"], 8);
    assert_eq!(checks["performance"], true);
    assert_eq!(checks["userAgent"], "Cloudflare-Workers");
    assert_eq!(checks["wasm"], "function");
}
