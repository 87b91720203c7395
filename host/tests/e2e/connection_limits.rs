//! Limits on client connections (docs/limits.md): a cap on how many are
//! open at once, with a clear refusal and a metric past it, and the idle timeout that closes
//! a connection no request is using, never one whose response is still streaming.

use std::time::{Duration, Instant};

use crate::edge;
use bytes::Bytes;
use edge_test_support::ai::{ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, Edge, provider};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const OK_POLICY: &str = "on_http_request:\n  - actions:\n      - type: custom-response\n        config: {status_code: 200, body: ok}\n";

async fn metrics(e: &Edge) -> String {
    Client::new()
        .unwrap()
        .get(&e.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
}

/// Polls `/metrics` until it contains `line`.
async fn wait_for_metric(e: &Edge, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = metrics(e).await;
        if text.contains(line) {
            return;
        }
        assert!(Instant::now() < deadline, "no {line} in\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_with_a_503_and_counted() {
    let e = edge()
        .policy(OK_POLICY)
        .arg("--max-connections")
        .arg("4")
        .start()
        .await
        .unwrap();
    // Four connections that send nothing yet fill the cap.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(e.addr).await.unwrap());
    }
    wait_for_metric(&e, r#"edge_open_connections{listener="public"} 4"#).await;
    let mut fifth = TcpStream::connect(e.addr).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), fifth.read_to_end(&mut raw))
        .await
        .expect("the refused connection was not closed")
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 503"), "{raw}");
    assert!(
        raw.contains("x-edge-error-code: too_many_connections"),
        "{raw}"
    );
    assert!(raw.contains("retry-after: 1"), "{raw}");
    let body: serde_json::Value =
        serde_json::from_str(raw.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections");
    wait_for_metric(&e, r#"edge_connections_refused_total{listener="public"} 1"#).await;

    // Room again once they close.
    drop(held);
    wait_for_metric(&e, r#"edge_open_connections{listener="public"} 0"#).await;
    let r = Client::new().unwrap().get(&e.url("/")).await.unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_but_a_long_stream_is_not() {
    // A stream of 8 events 150 ms apart outlives the 400 ms idle timeout.
    let slow = provider("slow")
        .stream_chunks(8)
        .chunk_delay(150)
        .start()
        .await
        .unwrap();
    let policy = ai_policy().provider(ProviderCfg::of(&slow)).build();
    let e = edge()
        .policy(&policy)
        .provider(&slow)
        .arg("--idle-timeout")
        .arg("400ms")
        .start()
        .await
        .unwrap();
    let tcp = TcpStream::connect(e.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let request = http::Request::post(e.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            chat("slow:slow-model", &[], true).to_string(),
        )))
        .unwrap();
    let started = Instant::now();
    let res = sender.send_request(request).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(text.contains("data: [DONE]"), "the stream was cut: {text}");
    // Nothing in flight now: the edge closes the connection with a GOAWAY.
    let idle_from = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
    let idle = idle_from.elapsed();
    assert!(
        idle >= Duration::from_millis(300),
        "closed too early: {idle:?}"
    );
}
