//! A hostile plugin (`--plugin`, built from tests/fixtures/hostile-plugin): an infinite loop,
//! a memory hog and a panic each get a clear JSON 5xx naming the cause, while ordinary
//! requests sent at the same time keep succeeding.

use crate::edge;
use edge_test_support::Client;
use edge_test_support::paths::hostile_plugin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_hog_and_panic_fail_alone_while_other_requests_succeed() {
    let wasm = hostile_plugin();
    let e = edge()
        .policy("any policy text loads\n")
        .plugin(&wasm)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();

    // Ordinary traffic in the background for the whole test.
    let ordinary = {
        let (c, url) = (c.clone(), e.url("/fine"));
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..60 {
                statuses.push(
                    c.get(&url)
                        .await
                        .map(|r| r.status)
                        .map_err(|e| e.to_string()),
                );
            }
            statuses
        })
    };

    let cases = [
        ("/loop", vec!["plugin_deadline_exceeded"]),
        ("/hog", vec!["plugin_memory_exhausted", "plugin_trap"]),
        ("/panic", vec!["plugin_trap"]),
    ];
    for round in 0..2 {
        let mut hostile = Vec::new();
        for (path, _) in &cases {
            let (c, url) = (c.clone(), e.url(path));
            hostile.push(tokio::spawn(async move { c.get(&url).await }));
        }
        for ((path, codes), h) in cases.iter().zip(hostile) {
            let r = h.await.unwrap().unwrap();
            assert_eq!(r.status, 500, "round {round} {path}: {}", r.text());
            assert_eq!(r.header("content-type"), Some("application/json"));
            let code = r.error_code().unwrap_or_default();
            assert!(
                codes.contains(&code.as_str()),
                "round {round} {path}: code {code}: {}",
                r.text()
            );
            assert_eq!(r.header("x-edge-error-code"), Some(code.as_str()));
        }
    }

    let statuses = ordinary.await.unwrap();
    let bad: Vec<_> = statuses.iter().filter(|s| !matches!(s, Ok(200))).collect();
    assert!(
        bad.is_empty(),
        "ordinary requests failed next to hostile ones: {bad:?}"
    );
    // The plugin keeps serving after everything.
    assert_eq!(c.get(&e.url("/after")).await.unwrap().status, 200);

    let m = c.get(&e.admin_url("/metrics")).await.unwrap().text();
    assert!(m.contains("edge_plugin_errors_total"), "{m}");
}
