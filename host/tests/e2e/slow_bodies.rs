//! Clients that send their request bodies too slowly (docs/limits.md): one
//! that declares a body and stops, one that trickles it below the minimum rate, one whose
//! body streams to `--upstream` and stalls, and two thousand such clients at once. Each gets
//! `408 request_body_timeout` in its API's format and loses its connection, and ordinary
//! requests keep being served meanwhile.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::ai::chat;
use edge_test_support::paths::workspace_root;
use edge_test_support::process_stats::rss_mib;
use edge_test_support::{Client, Edge, echo_upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The quickstart policy with the demo provider: its ai-gateway action reads every body.
async fn quickstart(extra: &[&str]) -> Edge {
    let mut b = edge()
        .policy_file(workspace_root().join("policies/quickstart.yaml"))
        .demo();
    for a in extra {
        b = b.arg(a);
    }
    b.start().await.unwrap()
}

/// Sends a request head declaring a 1,000-byte body, then `first` of it.
async fn start_body(addr: SocketAddr, path: &str, first: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    s
}

/// Everything the edge writes before it closes the connection (`None`: still open after
/// `within`).
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(raw: &str) -> serde_json::Value {
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_gets_408_in_the_clients_format_and_loses_its_connection() {
    let e = quickstart(&["--body-idle-timeout", "400ms"]).await;
    let started = Instant::now();
    let mut openai = start_body(e.addr, "/v1/chat/completions", b"{\"model\"").await;
    let mut anthropic = start_body(e.addr, "/v1/messages", b"{").await;
    // Meanwhile an ordinary request is served.
    let ok = Client::new()
        .unwrap()
        .post_json(
            &e.url("/v1/chat/completions"),
            &chat("demo-chat", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());

    let raw = until_closed(&mut openai, Duration::from_secs(5))
        .await
        .expect("the stalled connection was not closed");
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(
        raw.contains("x-edge-error-code: request_body_timeout"),
        "{raw}"
    );
    assert!(raw.contains("connection: close"), "{raw}");
    let v = json_body(&raw);
    assert_eq!(v["error"]["code"], "request_body_timeout", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no request body data"),
        "{v}"
    );

    let raw = until_closed(&mut anthropic, Duration::from_secs(5))
        .await
        .expect("the stalled connection was not closed");
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    let v = json_body(&raw);
    assert_eq!(v["type"], "error", "Anthropic's shape on /v1/messages: {v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_below_the_minimum_rate_gets_408() {
    let e = quickstart(&["--body-idle-timeout", "3s", "--min-body-rate", "500"]).await;
    let started = Instant::now();
    let mut s = start_body(e.addr, "/v1/chat/completions", b"{").await;
    // One byte every 200 ms: never idle for 3 s, but 5 bytes/s against 500.
    let (mut read, mut write) = s.split();
    let trickle = async {
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let answer = async {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(12), read.read_to_end(&mut buf)).await;
        String::from_utf8_lossy(&buf).into_owned()
    };
    let (_, raw) = tokio::join!(trickle, answer);
    let took = started.elapsed();
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert!(raw.contains("bytes/s"), "{raw}");
    // The rate is judged only after the 5 s grace.
    assert!(took >= Duration::from_millis(4_900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_streamed_to_the_upstream_that_stalls_gets_408() {
    let up = echo_upstream().await.unwrap();
    let e = edge()
        .policy("on_http_request: []\n")
        .upstream(&up.server.url())
        .arg("--body-idle-timeout")
        .arg("400ms")
        .start()
        .await
        .unwrap();
    let mut s = start_body(e.addr, "/upload", b"partial").await;
    let raw = until_closed(&mut s, Duration::from_secs(5))
        .await
        .expect("the stalled connection was not closed");
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert_eq!(json_body(&raw)["error"]["code"], "request_body_timeout");
    // The upstream saw the request start, and never the whole body.
    assert!(
        up.requests
            .all()
            .iter()
            .filter(|r| r.path == "/upload")
            .all(|r| r.body.len() < 1000),
        "the upstream got a whole body"
    );
}

/// Bounded load on loopback: 2,000 connections each stall in their body at once. The edge
/// keeps serving, its memory stays bounded (printed), and every stalled client gets its 408
/// and is disconnected once the idle timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_stalled_bodies_do_not_stop_ordinary_requests() {
    const STALLED: usize = 2_000;
    let e = quickstart(&["--body-idle-timeout", "3s"]).await;
    let pid = e.pid().unwrap();
    let idle_rss = rss_mib(pid);
    let mut stalled = Vec::with_capacity(STALLED);
    for _ in 0..STALLED {
        stalled.push(start_body(e.addr, "/v1/chat/completions", b"{").await);
    }
    let readers: Vec<_> = stalled
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move { until_closed(&mut s, Duration::from_secs(20)).await })
        })
        .collect();
    let client = Client::new().unwrap();
    let started = Instant::now();
    for _ in 0..50 {
        let r = client
            .post_json(
                &e.url("/v1/chat/completions"),
                &chat("demo-chat", &[], false),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let served_in = started.elapsed();
    let loaded_rss = rss_mib(pid);
    let mut timeouts = 0;
    for r in readers {
        let raw = r.await.unwrap().expect("a stalled connection stayed open");
        if raw.starts_with("HTTP/1.1 408") {
            timeouts += 1;
        }
    }
    println!(
        "edge RSS: {idle_rss:.1} MiB before, {loaded_rss:.1} MiB holding {STALLED} stalled bodies; \
         50 ordinary requests meanwhile in {served_in:?}"
    );
    assert_eq!(timeouts, STALLED);
    // Each stalled connection holds a connection task and its buffers, a few KiB.
    assert!(
        loaded_rss - idle_rss < 100.0,
        "{STALLED} stalled bodies took {:.1} MiB",
        loaded_rss - idle_rss
    );
}
