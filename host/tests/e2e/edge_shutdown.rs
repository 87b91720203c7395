//! Graceful shutdown: SIGTERM stops accepting, lets in-flight requests finish within the
//! grace period, and exits 0.

use std::time::{Duration, Instant};

use crate::edge;
use edge_test_support::{Client, echo_upstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_cleanly() {
    let up = echo_upstream().await.unwrap();
    let mut e = edge()
        .policy("on_http_request: []\n")
        .upstream(&up.server.url())
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = e.url("/delay/600");
    let in_flight = tokio::spawn({
        let c = c.clone();
        async move { c.get(&url).await }
    });
    // Wait until the upstream has the request, then signal.
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.requests.count() == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    e.signal("TERM").unwrap();
    let r = in_flight.await.unwrap().unwrap();
    assert_eq!(
        r.status,
        200,
        "the in-flight request completes: {}",
        r.text()
    );
    let status = e.wait_exit(Duration::from_secs(10)).await.unwrap();
    assert!(status.success(), "exit status {status}");
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(e.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_period_bounds_how_long_shutdown_waits() {
    let up = echo_upstream().await.unwrap();
    let mut e = edge()
        .policy("on_http_request: []\n")
        .upstream(&up.server.url())
        .arg("--shutdown-grace")
        .arg("300ms")
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = e.url("/delay/20000");
    let _stuck = tokio::spawn(async move { c.get(&url).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.requests.count() == 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t = Instant::now();
    e.signal("TERM").unwrap();
    e.wait_exit(Duration::from_secs(5)).await.unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        t.elapsed()
    );
}
