//! Nodes started inside the test process with `ridge_node::Node::start`
//! (the library the `ridge` binary only configures), over real sockets.
//! A node owns its observers, so two nodes in one process each count only
//! their own requests.

use std::time::Duration;

use ridge_ext::net::OutboundPolicy;
use ridge_node::{DevWorker, IsolateConfig, Node, NodeConfig, WorkerSource};
use ridge_runtime::isolate::worker_snapshot::SnapshotUse;
use ridge_server::{ConnectionLimits, EdgeOptions};

use crate::support::{http1, root};

async fn start_hello() -> Node {
    Node::start(NodeConfig {
        workers: WorkerSource::Dev(DevWorker {
            project: ridge_deploy::project::ProjectLocation::at(root().join("workers/hello")),
            others: Vec::new(),
            vars: Default::default(),
            state_dir: None,
            no_limits: false,
            inspect: None,
        }),
        edge: EdgeOptions {
            addr: "127.0.0.1:0".parse().unwrap(),
            certificates: None,
            quic: None,
            connections: ConnectionLimits::default(),
        },
        isolates: IsolateConfig {
            threads: 1,
            warm_isolates: 1,
            idle_timeout: Duration::from_secs(300),
            object_idle_timeout: Duration::from_secs(70),
            memory_budget_bytes: 1024 * 1024 * 1024,
            kv_cache_bytes: 1024 * 1024,
            cache_bytes: 1024 * 1024,
            asset_cache_bytes: 1024 * 1024,
        },
        // Worker snapshots are made by a child `ridge` process; the test
        // binary is not one.
        snapshots: SnapshotUse::Never,
        base_domain: None,
        outbound: OutboundPolicy::default(),
        traces: None,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_in_one_process_count_only_their_own_requests() {
    let (first, second) = (start_hello().await, start_hello().await);
    assert_ne!(first.url(), second.url());
    for (node, requests) in [(&first, 3), (&second, 1)] {
        for _ in 0..requests {
            let response = http1()
                .get(format!("{}/?name=Ridge", node.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), "Hello, Ridge!\n");
        }
    }
    for (node, expected) in [(&first, 3), (&second, 1)] {
        let line = format!("ridge_requests_total{{worker=\"hello\",status=\"200\"}} {expected}");
        // The record of a request is written just after its response.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = node.observers().metrics.render();
            if text.contains(&line) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{line} not in\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    first.shutdown(Duration::from_secs(1)).await;
    second.shutdown(Duration::from_secs(1)).await;
}
