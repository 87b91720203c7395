//! When the attempt loop gives a capped provider's slot back (docs/ai-gateway.md, "Provider
//! concurrency"): a failed attempt gives it back before waiting for its Retry-After, so
//! another request can use the provider meanwhile.

use std::time::{Duration, Instant};

use crate::plan_support::*;
use edge::gateway::PlanResult;
use edge::wit::types::{AttemptStep, ConcurrencyLimit};
use edge_test_support::provider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_waiting_for_retry_after_holds_no_slot() {
    // One slot, no queue. The first request is told to come back in 1s; while it waits, a
    // second request must get the slot (with the slot held, it would fail as saturated).
    let p = provider("p")
        .status(429)
        .retry_after(1)
        .then()
        .start()
        .await
        .unwrap();
    let (ctx, _) = context(&[("p.internal", p.server.addr)], None);
    let mut a = attempt(url(p.server.addr, "p.internal", "http"), "p", "m", "k", 0);
    a.concurrency = Some(ConcurrencyLimit {
        concurrency: 1,
        buffer_size: 0,
    });
    let plan = plan(vec![a]);
    let first = {
        let (ctx, plan) = (ctx.clone(), plan.clone());
        tokio::spawn(async move { run(&ctx, &plan).await })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.hits() == 0 {
        assert!(Instant::now() < deadline, "the first request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The 429 has been answered; the first loop is now in its Retry-After wait.
    tokio::time::sleep(Duration::from_millis(200)).await;
    match run(&ctx, &plan).await {
        PlanResult::Served { outcome, .. } => assert_eq!(outcome.attempts.len(), 1),
        PlanResult::Failed(outcome) => panic!("the slot was held during the wait: {outcome:?}"),
    }
    match first.await.unwrap() {
        PlanResult::Served { outcome, .. } => {
            let steps: Vec<AttemptStep> = outcome.attempts.iter().map(|a| a.step).collect();
            assert_eq!(steps, [AttemptStep::RetrySame, AttemptStep::Succeeded]);
        }
        PlanResult::Failed(outcome) => panic!("the retry failed: {outcome:?}"),
    }
    assert_eq!(p.hits(), 3);
}
