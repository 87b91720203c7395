//! Request limits: bounded bodies (clear JSON 413) and the header read timeout, which stops
//! slow clients from holding connections.

use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::{Client, echo_upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_a_json_413() {
    let up = echo_upstream().await.unwrap();
    let e = edge()
        .policy("on_http_request: []\n")
        .upstream(&up.server.url())
        .arg("--max-body-bytes")
        .arg("1024")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let ok = c
        .send(c.inner().post(e.url("/small")).body(vec![b'a'; 1024]))
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "a body at the limit passes");
    assert_eq!(up.requests.all()[0].body.len(), 1024);

    let big = c
        .send(c.inner().post(e.url("/big")).body(vec![b'a'; 4096]))
        .await
        .unwrap();
    assert_eq!(big.status, 413, "{}", big.text());
    assert_eq!(big.header("content-type"), Some("application/json"));
    assert_eq!(big.error_code().as_deref(), Some("request_body_too_large"));
    assert_eq!(
        big.header("x-edge-error-code"),
        Some("request_body_too_large")
    );

    // Chunked (no content-length) bodies are bounded too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b'b'; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let chunked = c.send(c.inner().post(e.url("/chunked")).body(body)).await;
    match chunked {
        Ok(r) => assert_eq!(r.status, 413, "{}", r.text()),
        // The edge may close the connection while the client is still sending.
        Err(err) => assert!(
            format!("{err:?}").contains("connection") || format!("{err:?}").contains("reset"),
            "{err:?}"
        ),
    }
    let paths: Vec<String> = up.requests.all().iter().map(|r| r.path.clone()).collect();
    assert!(
        !paths.iter().any(|p| p == "/big"),
        "oversized body never forwarded: {paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_head_is_disconnected() {
    let e = edge()
        .policy("on_http_request:\n  - actions:\n      - type: custom-response\n        config: {status_code: 200, body: ok}\n")
        .arg("--header-read-timeout")
        .arg("300ms")
        .start()
        .await
        .unwrap();
    let mut slow = tokio::net::TcpStream::connect(e.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Meanwhile ordinary requests are served.
    let r = Client::new().unwrap().get(&e.url("/")).await.unwrap();
    assert_eq!(r.status, 200);
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    let elapsed = started.elapsed();
    assert!(
        read.is_ok(),
        "the slow connection was not closed within 5 s"
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "closed too early: {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "only a 408 (or nothing) may be written: {text}"
    );
}
