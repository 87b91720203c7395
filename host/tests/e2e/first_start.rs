//! A first start, with nothing in the plugin cache: the edge compiles the plugin in a child
//! process of itself (`edge __precompile-plugin`), stores the artifact, and keeps only the
//! mapped artifact, not the compiler's memory (docs/architecture.md, "The plugin runtime").

use std::time::Duration;

use crate::edge;
use edge_test_support::Client;
use edge_test_support::process_stats::rss_mib;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_compiles_the_plugin_in_a_child_and_stays_small() {
    let cache = tempfile::tempdir().unwrap();
    let e = edge()
        .policy("on_http_request:\n  - actions:\n      - type: custom-response\n        config: {status_code: 200, body: ok}\n")
        .cache_dir(cache.path())
        .start()
        .await
        .unwrap();
    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        artifacts
            .iter()
            .any(|a| a.ends_with(".cwasm") && !a.starts_with('.')),
        "no artifact stored: {artifacts:?}"
    );
    assert!(
        !artifacts.iter().any(|a| a.ends_with(".wasm")),
        "the compiler's input was left behind: {artifacts:?}"
    );
    assert!(
        !e.logs().contains("compiling the plugin in-process instead"),
        "{}",
        e.logs()
    );
    let r = Client::new().unwrap().get(&e.url("/")).await.unwrap();
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = rss_mib(e.pid().unwrap());
    println!("edge RSS after a first start that compiled the plugin: {rss:.1} MiB");
    assert!(rss < 60.0, "RSS {rss:.1} MiB after a first start");
}
