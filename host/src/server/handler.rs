//! The request path of the public listener: read the head (and the body when needed), ask
//! the policy, carry out its decision, run the response phase, log and count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;

use super::access_log::AccessRecord;
use super::connection::ConnInfo;
use super::decider::{FailoverClassifier, PlanResult, PlanRunner, PolicyDecider};
use super::errors::EdgeError;
use super::listener::RequestHandler;
use super::request::{new_request_id, to_wit};
use super::response::{from_wit, head_of, replace_headers};
use super::upstream::{ForwardedFor, OutgoingBody, Upstream};
use crate::body::{PacedRequestBody, ResponseBody, declared_too_large, read_bounded};
use crate::body_pace::{BodyPace, PacedBody};
use crate::gateway::step_label;
use crate::metrics::EdgeMetrics;
use crate::plugin_runtime::PluginError;
use crate::policy_state::PolicyState;
use crate::wit::types::{self, AttemptResult, Decision, FailoverAction, ServedPlan};

/// `resume` may answer with another plan (`on_error: continue` into a second
/// `ai-gateway`); this caps the chain so a policy cannot loop a request forever.
const MAX_DECISION_ROUNDS: usize = 8;

/// Shared state of the public listener.
pub struct EdgeHandler<P> {
    pub policy: Arc<PolicyState<P>>,
    pub metrics: Arc<EdgeMetrics>,
    pub upstream: Option<Upstream>,
    pub plans: Arc<dyn PlanRunner>,
    pub max_body_bytes: u64,
    /// How slowly a client may send its body.
    pub body_pace: BodyPace,
}

impl<P: PolicyDecider> RequestHandler for EdgeHandler<P> {
    async fn handle(
        self: Arc<Self>,
        conn: Arc<ConnInfo>,
        req: Request<Incoming>,
    ) -> Response<ResponseBody> {
        self.handle_request(&conn, req).await
    }
}

/// Where the client's body is while a request is handled.
enum ClientBody {
    Unread(PacedRequestBody),
    Read(Bytes),
    /// Streamed to the upstream already.
    Gone,
}

impl<P: PolicyDecider> EdgeHandler<P> {
    async fn handle_request(
        &self,
        conn: &ConnInfo,
        req: Request<Incoming>,
    ) -> Response<ResponseBody> {
        let started = Instant::now();
        let received = SystemTime::now();
        let _in_flight = self.metrics.in_flight();
        let id = new_request_id();
        let mut rec = AccessRecord {
            id: id.clone(),
            method: req.method().as_str().to_owned(),
            path: req.uri().path().to_owned(),
            client: conn.client.to_string(),
            ..AccessRecord::default()
        };
        let mut res = match self.serve(conn, req, &id, received, &mut rec).await {
            Ok(res) => res,
            Err(err) => {
                rec.decision = "error";
                rec.error_code = Some(err.code());
                if err.status().is_server_error() {
                    tracing::warn!(request_id = %id, code = err.code(), error = %err, "request failed");
                }
                err.to_response(&rec.path)
            }
        };
        crate::gateway::stamp_request_id(res.headers_mut(), &id);
        let elapsed = started.elapsed();
        self.metrics
            .record_request(rec.decision, res.status().as_u16(), elapsed);
        rec.emit(res.status().as_u16(), elapsed);
        res
    }

    async fn serve(
        &self,
        conn: &ConnInfo,
        req: Request<Incoming>,
        id: &str,
        received: SystemTime,
        rec: &mut AccessRecord,
    ) -> Result<Response<ResponseBody>, EdgeError> {
        let policy = self.policy.current().ok_or(EdgeError::NoPolicy)?;
        let (parts, incoming) = req.into_parts();
        if declared_too_large(&parts.headers, self.max_body_bytes) {
            return Err(EdgeError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let mut body = ClientBody::Unread(PacedBody::new(incoming, self.body_pace));
        let mut wit_body = Vec::new();
        if policy.needs_body() {
            let bytes = take_bytes(&mut body, self.max_body_bytes).await?;
            wit_body = bytes.to_vec();
            body = ClientBody::Read(bytes);
        }
        let wreq = to_wit(&parts, conn, id, received, wit_body);
        let outcome = self.call(rec, "on_http_request", || policy.on_http_request(&wreq))?;
        // The state of the latest decision: after `resume` it carries the failed plan's
        // results (`actions.ngrok.ai_gateway`) to whatever the remaining rules decide.
        let mut state = outcome.state;
        let mut decision = outcome.decision;
        for _ in 0..MAX_DECISION_ROUNDS {
            match decision {
                Decision::Respond(r) => {
                    rec.decision = "respond";
                    return from_wit(r);
                }
                Decision::Upstream(u) => {
                    rec.decision = "upstream";
                    let upstream = self.upstream.as_ref().ok_or(EdgeError::NoUpstream)?;
                    let out = match u.body.clone() {
                        Some(b) => OutgoingBody::Buffered(Bytes::from(b)),
                        None => match std::mem::replace(&mut body, ClientBody::Gone) {
                            ClientBody::Unread(inc) => OutgoingBody::Streaming(
                                crate::body::bounded_stream(inc, self.max_body_bytes),
                            ),
                            ClientBody::Read(b) => OutgoingBody::Buffered(b),
                            ClientBody::Gone => OutgoingBody::Buffered(Bytes::new()),
                        },
                    };
                    let fwd = ForwardedFor {
                        client_ip: conn.client.ip(),
                        scheme: conn.scheme(),
                        authority: &wreq.authority,
                    };
                    let res = upstream.forward(&u, out, &fwd).await?;
                    return self.response_phase(&*policy, &state, &wreq, res, None, rec);
                }
                Decision::Forward(plan) => {
                    rec.decision = "forward";
                    let classifier = PolicyClassifier {
                        policy: &*policy,
                        metrics: &self.metrics,
                        spent_ns: AtomicU64::new(0),
                    };
                    // The body the plugin planned from (ai-gateway policies always read it).
                    let request_body = read_once(&mut body, self.max_body_bytes).await?;
                    let result = self.plans.run(&plan, &request_body, &classifier).await;
                    rec.plugin_time +=
                        Duration::from_nanos(classifier.spent_ns.load(Ordering::Relaxed));
                    match result {
                        PlanResult::Served { response, outcome } => {
                            self.count_attempts(&outcome, rec);
                            let served = ServedPlan {
                                continuation: plan.continuation,
                                outcome,
                            };
                            return self.response_phase(
                                &*policy,
                                &state,
                                &wreq,
                                response,
                                Some(&served),
                                rec,
                            );
                        }
                        PlanResult::Failed(outcome) => {
                            self.count_attempts(&outcome, rec);
                            let next = self.call(rec, "resume", || {
                                policy.resume(&plan.continuation, &wreq, &outcome)
                            })?;
                            decision = next.decision;
                            state = next.state;
                        }
                    }
                }
            }
        }
        Err(EdgeError::ResumeLoop)
    }

    /// Runs `on_http_response` when the policy has response rules; otherwise returns the
    /// response untouched. `served` is the ai-gateway plan that produced `res`, if one did.
    fn response_phase(
        &self,
        policy: &P,
        state: &[u8],
        wreq: &types::Request,
        mut res: Response<ResponseBody>,
        served: Option<&ServedPlan>,
        rec: &mut AccessRecord,
    ) -> Result<Response<ResponseBody>, EdgeError> {
        if !policy.has_response_rules() {
            return Ok(res);
        }
        let head = head_of(&res);
        match self.call(rec, "on_http_response", || {
            policy.on_http_response(state, wreq, &head, served)
        })? {
            types::ResponseDecision::Headers(list) => {
                replace_headers(&mut res, &list);
                Ok(res)
            }
            types::ResponseDecision::Replace(r) => from_wit(r),
        }
    }

    /// Times one plugin call and turns its failure into this request's 500.
    fn call<T>(
        &self,
        rec: &mut AccessRecord,
        export: &'static str,
        f: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, EdgeError> {
        let (result, elapsed) = timed_plugin_call(&self.metrics, export, f);
        rec.plugin_time += elapsed;
        result.map_err(EdgeError::Plugin)
    }

    fn count_attempts(&self, outcome: &types::GatewayOutcome, rec: &mut AccessRecord) {
        for a in &outcome.attempts {
            self.metrics.record_attempt(&a.provider, step_label(a.step));
        }
        rec.add_attempts(outcome);
    }
}

/// Runs one plugin call, recording its time and, when it fails, its error code in the
/// metrics. Every plugin call of the request path goes through here.
fn timed_plugin_call<T>(
    metrics: &EdgeMetrics,
    export: &'static str,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> (Result<T, PluginError>, Duration) {
    let started = Instant::now();
    let result = f();
    let elapsed = started.elapsed();
    metrics.record_plugin_call(export, elapsed);
    if let Err(e) = &result {
        metrics.record_plugin_error(e.code());
    }
    (result, elapsed)
}

/// The client's body, read now if it was not yet, and kept for later rounds.
async fn read_once(body: &mut ClientBody, limit: u64) -> Result<Bytes, EdgeError> {
    let bytes = take_bytes(body, limit).await?;
    *body = ClientBody::Read(bytes.clone());
    Ok(bytes)
}

async fn take_bytes(body: &mut ClientBody, limit: u64) -> Result<Bytes, EdgeError> {
    match std::mem::replace(body, ClientBody::Gone) {
        ClientBody::Unread(inc) => Ok(read_bounded(inc, limit).await?),
        ClientBody::Read(b) => Ok(b),
        ClientBody::Gone => Ok(Bytes::new()),
    }
}

/// Wires the attempt loop's failover question to the policy's `classify_failure`, timed like
/// every other plugin call. A plugin failure here stops the loop (the safe choice: no further
/// upstream calls).
struct PolicyClassifier<'a, P> {
    policy: &'a P,
    metrics: &'a EdgeMetrics,
    /// Time spent in the plugin, for the request's access-log line.
    spent_ns: AtomicU64,
}

impl<P: PolicyDecider> FailoverClassifier for PolicyClassifier<'_, P> {
    fn classify(&self, failed: &AttemptResult, can_retry_same: bool) -> FailoverAction {
        let (answer, elapsed) = timed_plugin_call(self.metrics, "classify_failure", || {
            self.policy.classify_failure(failed, can_retry_same)
        });
        self.spent_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        match answer {
            Ok(action) => action,
            Err(err) => {
                tracing::warn!(code = err.code(), error = %err, "failover rule failed; stopping the attempt loop");
                FailoverAction::Stop
            }
        }
    }
}
