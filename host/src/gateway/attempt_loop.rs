//! The attempt loop: runs a plan's attempts in order until one serves the client.
//!
//! Called by the server when the plugin decides `forward(plan)`. Bounds: each attempt's own
//! deadline, the plan's total deadline (which includes Retry-After waits), the attempt cap
//! (retries included), and never the same provider/model/key twice except for a deliberate
//! retry of the same target. After every failure the next step is the plugin's answer
//! (through [`FailoverClassifier`]); the loop only carries it out within those bounds. Once
//! an attempt commits there is no failover: its bytes are already the client's.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::time::Instant;

use crate::body::ResponseBody;
use crate::host_services::{AttemptRecord, TargetKey, TargetRef};
use crate::wit::types::{
    Attempt, AttemptResult, AttemptStep, FailoverAction, GatewayOutcome, Plan, ProviderAnswer,
};

use super::attempt::{Committed, Failed, run_attempt};
use super::attempt_error::{AttemptError, millis};
use super::attempt_step::step_label;
use super::break_report::BreakReport;
use super::context::GatewayContext;
use super::defaults::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_MAX_ATTEMPTS, DEFAULT_TOTAL_TIMEOUT, MAX_SAME_RETRIES,
    or_default,
};
use super::excerpt::excerpt_of_bytes;
use super::failover_classifier::FailoverClassifier;
use super::plan_result::PlanResult;
use super::provider_gate::ProviderSlot;
use super::redaction::{redact, secrets_of};
use super::relay_body::RelayBody;
use super::response_headers::client_headers;
use super::retry_after::retry_after;

/// Runs `plan` and returns either the committed response or the record of every failure.
/// `request_body` is the client's body as handed to the plugin (attempt bodies refer to
/// ranges of it); `classifier` is asked after every failed attempt.
pub async fn execute_plan(
    ctx: &GatewayContext,
    plan: &Plan,
    request_body: &Bytes,
    classifier: &dyn FailoverClassifier,
) -> PlanResult {
    let mut run = LoopState::new(plan);
    let mut next = run.next_candidate(plan, 0);
    while let Some(index) = next {
        let Some(attempt) = plan.attempts.get(index) else {
            break;
        };
        let now = Instant::now();
        if now >= run.total_deadline {
            run.timed_out = true;
            break;
        }
        run.tried.insert(target(attempt).to_key());
        let attempt_deadline = now + or_default(attempt.timeout_ms, DEFAULT_ATTEMPT_TIMEOUT);
        // A capped provider's slot (docs/ai-gateway.md, "Provider concurrency"): the wait
        // counts against the attempt's deadline, and a saturated provider fails over.
        let admitted = ctx
            .gates
            .admit(
                &attempt.provider,
                attempt.concurrency,
                attempt_deadline,
                run.total_deadline,
            )
            .await;
        let slot = match admitted {
            Ok(slot) => slot,
            Err(error) => {
                let failed = Failed::bare(error);
                next = run
                    .after_failure(ctx, plan, classifier, index, failed, now.elapsed())
                    .await;
                continue;
            }
        };
        let outcome = run_attempt(
            &ctx.client,
            attempt,
            request_body,
            plan.stream.then_some(plan.stream_protocol),
            attempt_deadline,
            run.total_deadline,
        )
        .await;
        let duration = now.elapsed();
        match outcome {
            Ok(committed) => return serve(ctx, plan, run, index, committed, duration, slot),
            Err(failed) => {
                // Given back before any Retry-After wait: a waiting attempt holds no slot.
                drop(slot);
                next = run
                    .after_failure(ctx, plan, classifier, index, failed, duration)
                    .await
            }
        }
    }
    PlanResult::Failed(run.finish(None))
}

/// The provider, model and key an attempt goes to.
fn target(attempt: &Attempt) -> TargetRef<'_> {
    TargetRef {
        provider: &attempt.provider,
        model: &attempt.model,
        key_id: &attempt.key_id,
    }
}

/// Bookkeeping of one run of the loop.
struct LoopState {
    started: Instant,
    total_deadline: Instant,
    max_calls: usize,
    results: Vec<AttemptResult>,
    tried: HashSet<TargetKey>,
    abandoned_groups: HashSet<u32>,
    /// (provider, key id) pairs the provider rejected (`drop-key`): never sent to it again.
    dropped_keys: Vec<(String, String)>,
    same_retries: u32,
    timed_out: bool,
    /// The last failed attempt's answer, when it had a status.
    last_answer: Option<ProviderAnswer>,
}

impl LoopState {
    fn new(plan: &Plan) -> Self {
        let started = Instant::now();
        let max_calls = match usize::try_from(plan.max_attempts) {
            Ok(0) | Err(_) => DEFAULT_MAX_ATTEMPTS,
            Ok(n) => n,
        };
        Self {
            started,
            total_deadline: started + or_default(plan.total_timeout_ms, DEFAULT_TOTAL_TIMEOUT),
            max_calls,
            results: Vec::new(),
            tried: HashSet::new(),
            abandoned_groups: HashSet::new(),
            dropped_keys: Vec::new(),
            same_retries: 0,
            timed_out: false,
            last_answer: None,
        }
    }

    /// The first attempt at or after `from` whose model is still in play, whose key the
    /// provider has not rejected, and whose provider/model/key has not been tried.
    fn next_candidate(&self, plan: &Plan, from: usize) -> Option<usize> {
        (from..plan.attempts.len()).find(|&i| {
            plan.attempts.get(i).is_some_and(|a| {
                !self.abandoned_groups.contains(&a.model_group)
                    && !self
                        .dropped_keys
                        .iter()
                        .any(|(p, k)| *p == a.provider && *k == a.key_id)
                    && !self.tried.contains(&target(a).to_key())
            })
        })
    }

    /// Records a failed attempt, decides what comes next (waiting for Retry-After when that
    /// is the decision) and returns the index of the next attempt to run.
    async fn after_failure(
        &mut self,
        ctx: &GatewayContext,
        plan: &Plan,
        classifier: &dyn FailoverClassifier,
        index: usize,
        failed: Failed,
        duration: Duration,
    ) -> Option<usize> {
        let attempt = plan.attempts.get(index)?;
        ctx.sink.record(&AttemptRecord {
            target: target(attempt),
            status: failed.status,
            ok: false,
            latency: duration,
            headers: &failed.headers,
        });
        let secrets = secrets_of(attempt);
        let message = redact(failed.error.to_string().as_bytes(), &secrets);
        let wait = retry_after(&failed.headers, SystemTime::now());
        // The whole body is redacted before the excerpt is cut from it, so a secret that
        // straddles the cut cannot leave half of itself behind.
        let body = failed
            .body
            .map(|b| (redact(&b.bytes, &secrets), b.complete));
        let excerpt = match &body {
            Some((bytes, _)) => excerpt_of_bytes(bytes),
            None => redact(&failed.excerpt, &secrets),
        };
        self.last_answer = match (failed.status, body) {
            (Some(status), Some((body, complete))) => Some(ProviderAnswer {
                status,
                content_type: failed
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                body,
                complete,
            }),
            _ => None,
        };
        let mut result = AttemptResult {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            provider: attempt.provider.clone(),
            model: attempt.model.clone(),
            key_id: attempt.key_id.clone(),
            status: failed.status,
            failure: Some(failed.error.kind()),
            message: String::from_utf8_lossy(&message).into_owned(),
            headers: crate::headers::to_wit(&failed.headers),
            body_excerpt: excerpt,
            duration_ms: millis(duration),
            retry_after_ms: wait.map(millis),
            // Decided just below.
            step: AttemptStep::Exhausted,
        };
        let (action, step) = self.decide(plan, classifier, &result, &failed.error, wait);
        result.step = step;
        tracing::debug!(
            provider = %result.provider,
            model = %result.model,
            key_id = %result.key_id,
            status = ?result.status,
            error = %result.message,
            next = step_label(step),
            "upstream attempt failed"
        );
        self.results.push(result);
        match action {
            Step::RetrySame(wait) => {
                self.same_retries += 1;
                tokio::time::sleep_until((Instant::now() + wait).min(self.total_deadline)).await;
                Some(index)
            }
            Step::Go(next) => next,
        }
    }

    /// The step after a failure: the plugin's decision, carried out within the loop's
    /// limits (the attempt cap, the same-target retry cap, the longest Retry-After it
    /// waits, the total deadline), and the step as recorded.
    fn decide(
        &mut self,
        plan: &Plan,
        classifier: &dyn FailoverClassifier,
        result: &AttemptResult,
        error: &AttemptError,
        retry_after: Option<Duration>,
    ) -> (Step, AttemptStep) {
        if matches!(error, AttemptError::TotalTimeout) {
            self.timed_out = true;
            return (Step::Go(None), AttemptStep::TotalTimeout);
        }
        let calls_left = self.results.len() + 1 < self.max_calls;
        let wait = retry_after.unwrap_or(Duration::ZERO);
        let can_retry_same = calls_left
            && self.same_retries < MAX_SAME_RETRIES
            && wait <= Duration::from_millis(plan.max_retry_after_ms)
            && Instant::now() + wait < self.total_deadline;
        let action = match classifier.classify(result, can_retry_same) {
            // The plugin was told the loop cannot wait; a policy rule may still ask. Moving
            // on is the only step left that makes progress.
            FailoverAction::RetrySame if !can_retry_same => FailoverAction::NextKey,
            other => other,
        };
        let index = usize::try_from(result.index).unwrap_or(usize::MAX);
        let (next, step) = match action {
            FailoverAction::RetrySame => return (Step::RetrySame(wait), AttemptStep::RetrySame),
            FailoverAction::Stop => return (Step::Go(None), AttemptStep::FailFast),
            FailoverAction::NextKey => (self.next_candidate(plan, index + 1), AttemptStep::NextKey),
            FailoverAction::NextModel => {
                if let Some(a) = plan.attempts.get(index) {
                    self.abandoned_groups.insert(a.model_group);
                }
                (self.next_candidate(plan, index + 1), AttemptStep::NextModel)
            }
            FailoverAction::DropKey => {
                if let Some(a) = plan.attempts.get(index) {
                    self.dropped_keys
                        .push((a.provider.clone(), a.key_id.clone()));
                }
                (self.next_candidate(plan, index + 1), AttemptStep::DropKey)
            }
        };
        match next {
            Some(next) if calls_left => (Step::Go(Some(next)), step),
            Some(_) => (Step::Go(None), AttemptStep::AttemptCap),
            None => (Step::Go(None), AttemptStep::Exhausted),
        }
    }

    /// The outcome handed to the server (and, on failure, to the plugin's `resume`).
    fn finish(self, served: Option<u16>) -> GatewayOutcome {
        GatewayOutcome {
            served,
            attempts: self.results,
            timed_out: self.timed_out,
            duration_ms: millis(self.started.elapsed()),
            last_answer: if served.is_some() {
                None
            } else {
                self.last_answer
            },
        }
    }
}

/// What the loop does after a failure.
enum Step {
    /// Wait this long, then run the same attempt again.
    RetrySame(Duration),
    /// Run this attempt next, or stop.
    Go(Option<usize>),
}

/// Builds the client's response from the committed attempt; `slot` (a capped provider's)
/// travels with the body, so the provider's slot is taken until the body is relayed.
fn serve(
    ctx: &GatewayContext,
    plan: &Plan,
    mut run: LoopState,
    index: usize,
    committed: Committed,
    duration: Duration,
    slot: Option<ProviderSlot>,
) -> PlanResult {
    let Some(attempt) = plan.attempts.get(index) else {
        return PlanResult::Failed(run.finish(None));
    };
    let status = committed.status.as_u16();
    ctx.sink.record(&AttemptRecord {
        target: target(attempt),
        status: Some(status),
        ok: true,
        latency: duration,
        headers: &committed.headers,
    });
    run.results.push(AttemptResult {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        provider: attempt.provider.clone(),
        model: attempt.model.clone(),
        key_id: attempt.key_id.clone(),
        status: Some(status),
        failure: None,
        message: String::new(),
        headers: Vec::new(),
        body_excerpt: Vec::new(),
        duration_ms: millis(duration),
        retry_after_ms: None,
        step: AttemptStep::Succeeded,
    });
    let headers = client_headers(
        committed.headers,
        &plan.response_headers,
        run.results.len(),
        &attempt.provider,
        &attempt.model,
        plan.stream,
        attempt.key_id.is_empty(),
    );
    let report = BreakReport::new(
        ctx.sink.clone(),
        target(attempt).to_key(),
        &plan.response_headers,
    );
    let body: ResponseBody =
        RelayBody::for_plan(plan, committed.replay, committed.body, committed.cursor)
            .with_break_report(report)
            .holding(slot)
            .boxed();
    let mut response = http::Response::new(body);
    *response.status_mut() = committed.status;
    *response.headers_mut() = headers;
    let outcome = run.finish(Some(status));
    PlanResult::Served { response, outcome }
}
