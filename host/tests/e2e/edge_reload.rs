//! Hot reload under load: a steady stream of requests while the policy file is replaced by a
//! broken policy and then a good one. Zero requests may fail; the broken policy is reported
//! on `/policy` and the previous one keeps serving; SIGHUP reloads too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::Client;

fn policy(version: &str) -> String {
    format!(
        "on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n          status_code: 200\n          body: \"{version}\"\n"
    )
}

const BROKEN: &str = "on_http_request:\n  - actions:\n      - type: custom-response\n        config:\n          status_code: \"${req.nope(\"\n";

async fn policy_status(c: &Client, e: &edge_test_support::Edge) -> serde_json::Value {
    c.get(&e.admin_url("/policy")).await.unwrap().json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_then_good_policy_under_steady_traffic_fails_no_request() {
    let e = Arc::new(edge().policy(&policy("v1")).start().await.unwrap());
    let c = Client::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut loops = Vec::new();
    for _ in 0..4 {
        let (e, c, stop) = (e.clone(), c.clone(), stop.clone());
        loops.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match c.get(&e.url("/")).await {
                    Ok(r) if r.status == 200 => seen.push(r.text()),
                    Ok(r) => failures.push(format!("{} {}", r.status, r.text())),
                    Err(err) => failures.push(err.to_string()),
                }
            }
            (seen, failures)
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;

    e.write_policy(BROKEN).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = policy_status(&c, &e).await;
        if !st["last_error"].is_null() {
            let text = st["last_error"].to_string();
            assert!(
                text.contains("line") || text.contains(":5:"),
                "diagnostics carry positions: {text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "broken policy never reported: {st}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The previous policy keeps answering.
    assert_eq!(c.get(&e.url("/")).await.unwrap().text(), "v1");
    tokio::time::sleep(Duration::from_millis(100)).await;

    e.write_policy(&policy("v2")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.get(&e.url("/")).await.unwrap().text() != "v2" {
        assert!(Instant::now() < deadline, "good policy never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);

    let mut total = 0;
    for l in loops {
        let (seen, failures) = l.await.unwrap();
        assert!(
            failures.is_empty(),
            "failed requests during reload: {failures:?}"
        );
        assert!(
            seen.iter().all(|b| b == "v1" || b == "v2"),
            "only whole policies answer: {seen:?}"
        );
        total += seen.len();
    }
    assert!(
        total > 20,
        "the load loop made too few requests ({total}) to mean anything"
    );
    let st = policy_status(&c, &e).await;
    assert!(
        st["last_error"].is_null(),
        "a good load clears the error: {st}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_policy_file() {
    let e = edge().policy(&policy("v1")).start().await.unwrap();
    let c = Client::new().unwrap();
    let before = policy_status(&c, &e).await;
    // SIGHUP with an unchanged file still reloads (a file watcher would not fire).
    tokio::time::sleep(Duration::from_millis(20)).await;
    e.signal("HUP").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = policy_status(&c, &e).await;
        if now["generation"].as_u64() > before["generation"].as_u64() {
            assert_eq!(now["hash"], before["hash"]);
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload: {now}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.get(&e.url("/")).await.unwrap().text(), "v1");
    // And the process is still alive and serving after the signal.
    assert!(e.pid().is_some());
}

/// A burst of 512 concurrent clients, each sending several requests, while the policy is
/// reloaded twice in the middle of it: every request is answered by one policy or the next,
/// and no plugin call fails for want of an instance (`edge_plugin_errors_total` stays
/// absent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_512_clients_through_two_reloads_fails_no_request() {
    const CLIENTS: usize = 512;
    let e = Arc::new(edge().policy(&policy("v1")).start().await.unwrap());
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let e = e.clone();
        clients.push(tokio::spawn(async move {
            // A client of its own: its own connection, as 512 separate clients would have.
            let c = Client::new().unwrap();
            let mut failures = Vec::new();
            for _ in 0..4 {
                match c.get(&e.url("/")).await {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => failures.push(format!("{} {}", r.status, r.text())),
                    Err(err) => failures.push(err.to_string()),
                }
            }
            failures
        }));
    }
    e.write_policy(&policy("v2")).unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    e.write_policy(&policy("v3")).unwrap();
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(c.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let c = Client::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.get(&e.url("/")).await.unwrap().text() != "v3" {
        assert!(Instant::now() < deadline, "the last policy never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = c.get(&e.admin_url("/metrics")).await.unwrap().text();
    assert!(
        !metrics.contains("edge_plugin_errors_total{"),
        "plugin calls failed:\n{metrics}"
    );
}
