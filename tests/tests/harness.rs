//! Self-tests of the harness: the mock providers really inject the faults the e2e tests rely
//! on (no edge involved), so a passing gateway test cannot be a mock that never failed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_test_support::ai::chat;
use edge_test_support::{Client, TestCa, echo_upstream, provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_run_in_order_and_the_last_behaviour_repeats() {
    let p = provider("p")
        .status(503)
        .retry_after(2)
        .then()
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = format!("{}/v1/chat/completions", p.server.url());
    let r1 = c.post_json(&url, &chat("m", &[], false)).await.unwrap();
    assert_eq!((r1.status, r1.header("retry-after")), (503, Some("2")));
    for _ in 0..2 {
        let r = c.post_json(&url, &chat("m", &[], false)).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["choices"][0]["message"]["content"], "p:m");
    }
    assert_eq!(p.models_seen(), vec!["m", "m", "m"]);
    p.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_model_scripts_are_independent() {
    let p = provider("p")
        .on_model("bad")
        .status(500)
        .start()
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let url = format!("{}/v1/chat/completions", p.server.url());
    assert_eq!(
        c.post_json(&url, &chat("bad", &[], false))
            .await
            .unwrap()
            .status,
        500
    );
    assert_eq!(
        c.post_json(&url, &chat("good", &[], false))
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_providers_trust_only_their_ca() {
    let ca = Arc::new(TestCa::new("ca").unwrap());
    let other = Arc::new(TestCa::new("other").unwrap());
    let p = provider("secure").tls(&ca).start().await.unwrap();
    let url = format!(
        "https://localhost:{}/v1/chat/completions",
        p.server.addr.port()
    );
    let ok = Client::with_ca(&ca)
        .unwrap()
        .post_json(&url, &chat("m", &[], false))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert!(
        Client::with_ca(&other)
            .unwrap()
            .post_json(&url, &chat("m", &[], false))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_bodies_and_events_are_sent_as_scripted() {
    let c = Client::new().unwrap();
    let p = provider("raw")
        .status(401)
        .body("not json")
        .header("x-extra", "1")
        .then()
        .events(&["data: one\n\n", "data: two\n\n"])
        .header("content-type", "application/json")
        .drop_after(2)
        .start()
        .await
        .unwrap();
    let url = format!("{}/v1/chat/completions", p.server.url());
    let r = c.post_json(&url, &chat("m", &[], false)).await.unwrap();
    assert_eq!((r.status, r.text().as_str()), (401, "not json"));
    assert_eq!(r.header("x-extra"), Some("1"));
    // Streamed although the request did not ask for a stream, with the scripted content type
    // replacing the default, and broken after the two events.
    let s = c
        .post_stream(&url, &chat("m", &[], false), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(s.header("content-type"), Some("application/json"));
    assert_eq!(s.raw, "data: one\n\ndata: two\n\n");
    assert!(s.transport_error.is_some());
    assert_eq!(p.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_provider_never_answers() {
    let p = provider("hang").hang().start().await.unwrap();
    let url = format!("{}/v1/chat/completions", p.server.url());
    let c = Client::new().unwrap();
    let answer = tokio::time::timeout(
        Duration::from_millis(500),
        c.post_json(&url, &chat("m", &[], false)),
    )
    .await;
    assert!(answer.is_err(), "no answer within 500 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_faults_are_real() {
    let c = Client::new().unwrap();
    let body = chat("m", &[], true);

    let ok = provider("ok").start().await.unwrap();
    let s = c
        .post_stream(
            &format!("{}/v1/chat/completions", ok.server.url()),
            &body,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(
        edge_test_support::sse::stream_text(&s.events),
        "ok:m c1 c2 "
    );
    assert_eq!(s.events.last().unwrap().data, "[DONE]");
    assert!(s.transport_error.is_none());

    let drop = provider("drop")
        .stream_chunks(6)
        .drop_after(3)
        .start()
        .await
        .unwrap();
    let s = c
        .post_stream(
            &format!("{}/v1/chat/completions", drop.server.url()),
            &body,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(s.events.len(), 3);
    assert!(
        s.transport_error.is_some(),
        "a dropped stream is a transport error, not a clean end"
    );

    let stall = provider("stall").stall_after(1).start().await.unwrap();
    let t = Instant::now();
    let s = c
        .post_stream(
            &format!("{}/v1/chat/completions", stall.server.url()),
            &body,
            Duration::from_millis(300),
        )
        .await
        .unwrap();
    assert_eq!(s.events.len(), 1);
    assert!(
        s.transport_error
            .as_deref()
            .unwrap_or("")
            .contains("client gave up")
    );
    assert!(t.elapsed() >= Duration::from_millis(300));

    let early = provider("early")
        .fail_before_first_byte()
        .start()
        .await
        .unwrap();
    let s = c
        .post_stream(
            &format!("{}/v1/chat/completions", early.server.url()),
            &body,
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.events.is_empty() && s.transport_error.is_some());

    let err = provider("err").first_event_error().start().await.unwrap();
    let s = c
        .post_stream(
            &format!("{}/v1/messages", err.server.url()),
            &edge_test_support::ai::messages("m", true),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(s.status, 200);
    assert!(s.events[0].is_error());
    stall.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_holds_the_response_head() {
    let p = provider("slow").delay(200).start().await.unwrap();
    let t = Instant::now();
    let r = Client::new()
        .unwrap()
        .post_json(
            &format!("{}/v1/chat/completions", p.server.url()),
            &chat("m", &[], false),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_proxy_forwards_to_the_upstream() {
    let up = echo_upstream().await.unwrap();
    let proxy = edge_test_support::baseline_proxy::start_baseline_proxy(&up.server.url())
        .await
        .unwrap();
    let c = Client::new().unwrap();
    let r = c
        .send(
            c.inner()
                .post(format!("{}/x?y=1", proxy.url()))
                .header("x-h", "v")
                .body("b"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["path"], "/x?y=1");
    assert_eq!(r.json()["body"], "b");
    assert_eq!(up.requests.all()[0].header("x-h"), Some("v"));
    proxy.stop().await.unwrap();
    up.server.stop().await.unwrap();
}
