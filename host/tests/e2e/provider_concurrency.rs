//! A provider's `concurrency_and_buffer_size` (docs/ai-gateway.md, "Provider concurrency"):
//! the edge keeps at most `concurrency` attempts in flight to it, lets `buffer_size` wait,
//! and fails the rest over to the next model; a stream keeps its slot until it ends.

use std::time::{Duration, Instant};

use crate::edge;
use crate::edge_check::check;
use edge_test_support::ai::{AiPolicy, ProviderCfg, ai_policy, chat};
use edge_test_support::{Client, Edge, MockProvider, provider};
use serde_json::json;

/// The value of the Prometheus series `name` (labels included) in `text`, 0 when absent.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// An edge whose `action` lists `capped` (as `capped_cfg`), then `spill`, both serving
/// model `shared`: what `capped` cannot take goes to `spill`.
async fn capped_then_spill(
    action: AiPolicy,
    capped_cfg: ProviderCfg,
    capped: &MockProvider,
    spill: &MockProvider,
) -> Edge {
    let policy = action
        .provider(capped_cfg.models(&["shared"]))
        .provider(ProviderCfg::of(spill).models(&["shared"]))
        .build();
    edge()
        .policy(&policy)
        .provider(capped)
        .provider(spill)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_provider_never_sees_more_than_its_cap_and_the_overflow_fails_over() {
    // 2 slots and a queue of 1 in front of a slow provider: of 8 concurrent requests, at
    // most 3 reach it (2 at once, then the queued one), the rest go to `spill` at once.
    let capped = provider("capped").delay(1_500).start().await.unwrap();
    let spill = provider("spill").start().await.unwrap();
    let capped_cfg = ProviderCfg::of(&capped).field(
        "concurrency_and_buffer_size",
        json!({"concurrency": 2, "buffer_size": 1}),
    );
    let action = ai_policy().set("per_request_timeout", json!("10s"));
    let e = capped_then_spill(action, capped_cfg, &capped, &spill).await;
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");
    let body = chat("shared", &[], false);
    let calls = (0..8).map(|_| c.post_json(&url, &body));
    let replies = futures_util::future::join_all(calls).await;
    let mut served_by = Vec::new();
    for r in replies {
        let r = r.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        served_by.push(r.header("x-aigw-provider").unwrap_or_default().to_owned());
    }
    assert_eq!(
        capped.peak_in_flight(),
        2,
        "the cap was not reached or was exceeded"
    );
    assert!(capped.hits() <= 3, "capped got {} requests", capped.hits());
    assert_eq!(capped.hits() + spill.hits(), 8);
    let by_spill = served_by.iter().filter(|p| *p == "spill").count();
    assert_eq!(by_spill, spill.hits(), "{served_by:?}");
    assert!(by_spill >= 5, "{served_by:?}");

    let m = c.get(&e.admin_url("/metrics")).await.unwrap().text();
    let full = series(
        &m,
        r#"edge_provider_saturated_total{provider="capped",reason="queue_full"}"#,
    );
    assert_eq!(full as usize, by_spill, "{m}");
    let waited = series(
        &m,
        r#"edge_provider_queue_wait_seconds_count{provider="capped"}"#,
    );
    assert_eq!(waited as usize, capped.hits(), "{m}");
    assert_eq!(
        series(&m, r#"edge_provider_queue_depth{provider="capped"}"#),
        0.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_request_that_outwaits_its_deadline_fails_over_while_a_stream_holds_the_slot() {
    // One slot, taken by a stream that runs ~3s after its commit. A request queued behind it
    // has 1s: it must not wait for the stream, and must not be sent to `capped`.
    let capped = provider("capped")
        .stream_chunks(10)
        .chunk_delay(300)
        .start()
        .await
        .unwrap();
    let spill = provider("spill").start().await.unwrap();
    let capped_cfg = ProviderCfg::of(&capped)
        .field("per_request_timeout", json!("1s"))
        .field(
            "concurrency_and_buffer_size",
            json!({"concurrency": 1, "buffer_size": 4}),
        );
    let e = capped_then_spill(ai_policy(), capped_cfg, &capped, &spill).await;
    let c = Client::new().unwrap();
    let url = e.url("/v1/chat/completions");
    let stream = {
        let (c, url) = (c.clone(), url.clone());
        tokio::spawn(async move {
            c.post_stream(&url, &chat("shared", &[], true), Duration::from_secs(5))
                .await
        })
    };
    // The stream has committed (its first chunk went out) before the second request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while capped.sent_chunks().is_empty() {
        assert!(Instant::now() < deadline, "the stream never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let r = c
        .post_json(&url, &chat("shared", &[], false))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-provider"), Some("spill"));
    assert_eq!(r.header("x-aigw-attempts"), Some("2"));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2_500),
        "took {took:?}"
    );
    assert_eq!((capped.hits(), spill.hits()), (1, 1));

    let s = stream.await.unwrap().unwrap();
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.header("x-aigw-provider"), Some("capped"));
    assert!(s.transport_error.is_none(), "{:?}", s.transport_error);
    assert!(s.raw.contains("[DONE]"), "{}", s.raw);

    let m = c.get(&e.admin_url("/metrics")).await.unwrap().text();
    assert_eq!(
        series(
            &m,
            r#"edge_provider_saturated_total{provider="capped",reason="wait_timeout"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        series(&m, r#"edge_provider_in_flight{provider="capped"}"#),
        0.0,
        "the stream's slot was not given back: {m}"
    );
}

#[test]
fn edge_check_places_a_bad_cap_and_queue_at_their_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("caps.yaml");
    std::fs::write(
        &policy,
        "\
on_http_request:
  - type: ai-gateway
    config:
      providers:
        - id: vllm
          base_url: http://vllm.internal/v1
          concurrency_and_buffer_size:
            concurrency: 0
            buffer_size: -2
",
    )
    .unwrap();
    let (code, stdout, _) = check(&[&policy]);
    assert_ne!(code, 0, "{stdout}");
    let f = policy.display();
    assert!(
        stdout.contains(&format!("{f}:8:26: error:"))
            && stdout.contains("concurrency must be between 1 and 100000, got 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{f}:9:26: error:"))
            && stdout.contains("buffer_size must be between 0 and 100000, got -2"),
        "{stdout}"
    );
}
