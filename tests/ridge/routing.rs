//! `ridge serve` routes by host and path, most specific pattern first.

use crate::support::{fixture, http1, serve, Ridge};

fn routes_node(extra: &[&str]) -> Ridge {
    let folder = fixture("routes");
    let workers: Vec<(&str, std::path::PathBuf)> =
        ["apex", "wildcard", "api", "exact-path", "named"]
            .into_iter()
            .map(|name| (name, folder.join(name)))
            .collect();
    serve(&workers, extra)
}

async fn route(ridge: &Ridge, host: &str, path: &str) -> (u16, String) {
    ridge.get_host(host, path).await
}

#[tokio::test]
async fn the_most_specific_route_wins() {
    let ridge = routes_node(&["--base-domain", "workers.test"]);
    let cases = [
        ("example.test", "/", "apex /"),
        ("example.test", "/about", "apex /about"),
        ("EXAMPLE.test:8080", "/x", "apex /x"),
        ("example.test", "/api/users", "api /api/users"),
        ("example.test", "/api/health", "exact-path /api/health"),
        ("example.test", "/api/health/deep", "api /api/health/deep"),
        ("shop.example.test", "/", "wildcard /"),
        ("a.b.example.test", "/deep", "wildcard /deep"),
        ("shop.example.test", "/api/cart", "api /api/cart"),
        ("named.workers.test", "/hi", "named /hi"),
    ];
    for (host, path, expected) in cases {
        assert_eq!(
            route(&ridge, host, path).await,
            (200, expected.to_string()),
            "{host}{path}"
        );
    }
}

#[tokio::test]
async fn requests_matching_no_route_get_a_plain_404() {
    let ridge = routes_node(&[]);
    for (host, path) in [
        ("other.test", "/"),
        ("xexample.test", "/"),
        ("named.workers.test", "/"),
    ] {
        let response = http1()
            .get(ridge.url(path))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{host}{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            response.text().await.unwrap(),
            format!("No worker is routed for {host}{path}\n")
        );
    }
}

#[tokio::test]
async fn each_connection_reaches_workers_on_every_isolate_thread() {
    // Connections are served on the isolate threads in turn, and each
    // worker lives on one of them: with three threads and five workers,
    // most requests below cross from their connection's thread to their
    // worker's, and every connection reaches every worker.
    let ridge = routes_node(&["--base-domain", "workers.test", "--isolate-threads", "3"]);
    let cases = [
        ("example.test", "/", "apex /"),
        ("shop.example.test", "/", "wildcard /"),
        ("example.test", "/api/users", "api /api/users"),
        ("example.test", "/api/health", "exact-path /api/health"),
        ("named.workers.test", "/hi", "named /hi"),
    ];
    let connections = (0..6).map(|_| {
        // One client each: its own keep-alive connection.
        let client = http1();
        let ridge = &ridge;
        async move {
            for _ in 0..3 {
                for (host, path, expected) in cases {
                    let response = client
                        .get(ridge.url(path))
                        .header("host", host)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "{host}{path}");
                    assert_eq!(response.text().await.unwrap(), expected, "{host}{path}");
                }
            }
        }
    });
    futures::future::join_all(connections).await;
}
