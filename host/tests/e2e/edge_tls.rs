//! The public listener over TLS (rustls): HTTPS with ALPN h2, TLS facts visible to CEL.

use std::sync::Arc;

use crate::edge;
use edge_test_support::{Client, TestCa, echo_upstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_negotiates_h2_and_exposes_tls_facts() {
    let ca = Arc::new(TestCa::new("edge test CA").unwrap());
    let up = echo_upstream().await.unwrap();
    let policy = r#"
on_http_request:
  - expressions: ["req.url.scheme == 'https'"]
    actions:
      - type: add-headers
        config:
          headers:
            x-tls-version: "${conn.tls.version}"
            x-scheme: "${req.url.scheme}"
"#;
    let e = edge()
        .policy(policy)
        .tls(&ca)
        .upstream(&up.server.url())
        .start()
        .await
        .unwrap();
    let c = Client::with_ca(&ca).unwrap();
    let r = c.get(&e.url("/secure")).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.version, http::Version::HTTP_2, "ALPN picks h2");
    let got = &up.requests.all()[0];
    assert_eq!(got.header("x-scheme"), Some("https"));
    assert!(
        got.header("x-tls-version")
            .is_some_and(|v| v.contains("1.3") || v.contains("1.2")),
        "{:?}",
        got.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let ca = Arc::new(TestCa::new("edge test CA").unwrap());
    let other = Arc::new(TestCa::new("some other CA").unwrap());
    let e = edge()
        .policy("on_http_request:\n  - actions:\n      - type: custom-response\n        config: {status_code: 200, body: ok}\n")
        .tls(&ca)
        .start()
        .await
        .unwrap();
    let err = Client::with_ca(&other).unwrap().get(&e.url("/")).await;
    assert!(err.is_err(), "handshake must fail with an untrusted CA");
    // And plain HTTP on the TLS port gets no HTTP answer.
    let plain = Client::new()
        .unwrap()
        .get(&format!("http://{}/", e.addr))
        .await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| r.status == 400),
        "{plain:?}"
    );
    // The listener still serves a trusting client afterwards.
    let r = Client::with_ca(&ca)
        .unwrap()
        .get(&e.url("/"))
        .await
        .unwrap();
    assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
}
