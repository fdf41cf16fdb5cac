//! The Cache API through real workers (fixtures/workers/cache-api): what is
//! stored and for how long, matching, deleting, named caches, and isolation
//! between workers.

use serde_json::{json, Value};

use crate::support::{fixture, serve, Ridge, TempDir};

/// `ridge dev` on the Cache API fixture, with nothing persisted (tests run
/// at the same time must not share a cache).
fn dev_cache() -> Ridge {
    Ridge::dev(&fixture("cache-api"), &["--no-persist"])
}

#[tokio::test]
async fn put_match_and_delete() {
    let ridge = dev_cache();
    assert_eq!(ridge.json("/match").await, json!({ "found": false }));
    assert_eq!(
        ridge
            .json("/put?h-cache-control=max-age%3D600&h-etag=%22v1%22&h-x-kind=test&status=201")
            .await,
        json!({ "threw": false })
    );
    let found = ridge.json("/match").await;
    assert_eq!(found["found"], true, "{found}");
    assert_eq!(found["status"], 201);
    assert_eq!(found["body"], "cached body");
    assert_eq!(found["headers"]["x-kind"], "test");
    assert_eq!(found["headers"]["cf-cache-status"], "HIT");

    // A matching If-None-Match gets a 304; another tag the full response.
    let conditional = ridge.json("/match?inm=%22v1%22").await;
    assert_eq!(
        (conditional["status"].clone(), conditional["body"].clone()),
        (json!(304), json!(""))
    );
    assert_eq!(ridge.json("/match?inm=%22v0%22").await["status"], 201);

    // Only GET matches (unless ignoreMethod), and other URLs miss.
    assert_eq!(ridge.json("/match?method=POST").await["found"], false);
    assert_eq!(ridge.json("/match?url=other").await["found"], false);

    // Streamed bodies are stored whole.
    ridge
        .json("/put?url=streamed&stream=1&body=from%20a%20stream&h-cache-control=max-age%3D600")
        .await;
    assert_eq!(
        ridge.json("/match?url=streamed").await["body"],
        "from a stream"
    );

    assert_eq!(ridge.json("/delete").await, json!({ "deleted": true }));
    assert_eq!(ridge.json("/delete").await, json!({ "deleted": false }));
    assert_eq!(ridge.json("/match").await["found"], false);
}

#[tokio::test]
async fn caching_headers_decide_what_is_stored() {
    let ridge = dev_cache();
    let not_stored = [
        ("no-store", "h-cache-control=no-store"),
        ("private", "h-cache-control=private%2C%20max-age%3D60"),
        (
            "set-cookie",
            "h-cache-control=max-age%3D60&h-set-cookie=session%3D1",
        ),
        ("max-age=0", "h-cache-control=max-age%3D0"),
        (
            "expired",
            "h-expires=Thu%2C%2001%20Jan%202015%2000%3A00%3A00%20GMT",
        ),
    ];
    for (case, headers) in not_stored {
        let outcome = ridge.json(&format!("/put?url={case}&{headers}")).await;
        assert_eq!(outcome["threw"], false, "{case}: {outcome}");
        assert_eq!(
            ridge.json(&format!("/match?url={case}")).await["found"],
            false,
            "{case} must not be stored"
        );
    }
    // s-maxage wins over max-age=0; no caching headers at all is cacheable.
    for (case, headers) in [
        ("s-maxage", "h-cache-control=max-age%3D0%2C%20s-maxage%3D60"),
        ("plain", ""),
    ] {
        ridge.json(&format!("/put?url={case}&{headers}")).await;
        assert_eq!(
            ridge.json(&format!("/match?url={case}")).await["found"],
            true,
            "{case} must be stored"
        );
    }
    // A response stays only as long as max-age says.
    ridge
        .json("/put?url=brief&h-cache-control=max-age%3D1")
        .await;
    assert_eq!(ridge.json("/match?url=brief").await["found"], true);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(ridge.json("/match?url=brief").await["found"], false);
}

#[tokio::test]
async fn uncacheable_puts_throw_type_errors() {
    let ridge = dev_cache();
    for (query, message) in [
        ("method=POST", "only GET requests are cached"),
        ("status=206", "206 Partial Content"),
        ("h-vary=%2A", "Vary: *"),
    ] {
        let outcome = ridge.json(&format!("/put?{query}")).await;
        assert_eq!(outcome["name"], "TypeError", "{query}: {outcome}");
        assert!(
            outcome["message"].as_str().unwrap().contains(message),
            "{query}: {outcome}"
        );
    }
    let twice: Value = ridge.json("/twice").await;
    assert_eq!(twice["name"], "TypeError", "{twice}");
    assert!(twice["message"]
        .as_str()
        .unwrap()
        .contains("already been used"));
}

#[tokio::test]
async fn named_caches_and_workers_are_separate() {
    // A second worker with the same code under another name.
    let two = TempDir::new();
    std::fs::copy(fixture("cache-api/index.js"), two.path().join("index.js")).unwrap();
    std::fs::write(
        two.path().join("ridge.toml"),
        "name = \"two\"\nmain = \"index.js\"\n",
    )
    .unwrap();
    let ridge = serve(
        &[
            ("one", fixture("cache-api")),
            ("two", two.path().to_path_buf()),
        ],
        &["--base-domain", "test"],
    );
    assert_eq!(
        ridge
            .get_host(
                "cache-api.test",
                "/put?h-cache-control=max-age%3D600&body=one"
            )
            .await
            .0,
        200
    );
    let (_, text) = ridge.get_host("cache-api.test", "/match").await;
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["body"], "one");
    let (_, text) = ridge.get_host("cache-api.test", "/match?cache=named").await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["found"],
        false
    );
    let (_, text) = ridge.get_host("two.test", "/match").await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["found"],
        false,
        "another worker does not see this worker's cache"
    );
}

#[tokio::test]
async fn dev_keeps_the_cache_across_restarts() {
    let state = TempDir::new();
    let persist = ["--persist-to", state.path().to_str().unwrap()];
    let mut ridge = Ridge::dev(&fixture("cache-api"), &persist);
    ridge
        .json("/put?url=kept&h-cache-control=max-age%3D600&body=persisted")
        .await;
    ridge
        .json("/put?url=brief&h-cache-control=max-age%3D1")
        .await;
    ridge.kill();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let ridge = Ridge::dev(&fixture("cache-api"), &persist);
    let found = ridge.json("/match?url=kept").await;
    assert_eq!(found["body"], "persisted", "{found}");
    assert_eq!(ridge.json("/match?url=brief").await["found"], false);
    assert_eq!(ridge.json("/delete?url=kept").await["deleted"], true);
    let fresh = Ridge::dev(&fixture("cache-api"), &persist);
    assert_eq!(fresh.json("/match?url=kept").await["found"], false);
}
