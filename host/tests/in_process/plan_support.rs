//! Driving the attempt loop in-process: a gateway context over loopback providers (from
//! `edge-test-support`), a recording metrics sink, and plan builders.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use edge::body::ResponseBody;
use edge::gateway::{
    FailoverClassifier, GatewayConfig, GatewayContext, PlanResult, execute_plan, step_label,
};
use edge::host_services::{AttemptRecord, TargetMetricsSink, TargetRef};
use edge::plugin_runtime::{ArtifactCache, LoadedPolicy, PluginRuntime, RuntimeConfig};
use edge::wit::types::{
    ApiFormat, Attempt, AttemptResult, BodyPiece, FailoverAction, Plan, StreamProtocol, TlsTrust,
};
use edge_test_support::TestCa;
use http::Response;
use http_body_util::BodyExt;

/// One metrics record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub provider: String,
    pub model: String,
    pub key_id: String,
    pub status: Option<u16>,
    pub ok: bool,
}

#[derive(Default)]
pub struct RecordingSink(Mutex<Vec<Record>>, Mutex<Vec<String>>);

impl RecordingSink {
    pub fn records(&self) -> Vec<Record> {
        self.0.lock().unwrap().clone()
    }
    /// `provider/model/key` of every committed response that broke.
    pub fn broken(&self) -> Vec<String> {
        self.1.lock().unwrap().clone()
    }
}

impl TargetMetricsSink for RecordingSink {
    fn record(&self, attempt: &AttemptRecord<'_>) {
        self.0.lock().unwrap().push(Record {
            provider: attempt.target.provider.into(),
            model: attempt.target.model.into(),
            key_id: attempt.target.key_id.into(),
            status: attempt.status,
            ok: attempt.ok,
        });
    }

    fn record_broken_stream(&self, t: TargetRef<'_>) {
        self.1
            .lock()
            .unwrap()
            .push(format!("{}/{}/{}", t.provider, t.model, t.key_id));
    }
}

/// A gateway context resolving the given `.internal` names, trusting `ca` if given.
pub fn context(
    hosts: &[(&str, SocketAddr)],
    ca: Option<&TestCa>,
) -> (GatewayContext, Arc<RecordingSink>) {
    let sink = Arc::new(RecordingSink::default());
    let config = GatewayConfig {
        internal_hosts: hosts.iter().map(|(n, a)| ((*n).to_owned(), *a)).collect(),
        provider_ca_pem: ca.map(|ca| ca.cert_pem().as_bytes().to_vec()),
        connect_timeout: Duration::from_secs(2),
        use_system_roots: false,
        ..GatewayConfig::default()
    };
    let ctx = GatewayContext::new(&config, sink.clone()).unwrap();
    (ctx, sink)
}

/// An attempt at `url` with a bearer key named `key`.
pub fn attempt(url: String, provider: &str, model: &str, key: &str, group: u32) -> Attempt {
    Attempt {
        url,
        method: "POST".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), format!("Bearer secret-{key}")),
        ],
        body: vec![BodyPiece::Bytes(
            format!("{{\"model\":\"{model}\"}}").into_bytes(),
        )],
        provider: provider.into(),
        model: model.into(),
        key_id: key.into(),
        model_group: group,
        timeout_ms: 2_000,
        redact: Vec::new(),
        tls: TlsTrust::DefaultRoots,
        concurrency: None,
    }
}

pub fn plan(attempts: Vec<Attempt>) -> Plan {
    Plan {
        attempts,
        format: ApiFormat::Openai,
        stream: false,
        total_timeout_ms: 10_000,
        max_attempts: 10,
        stream_idle_timeout_ms: 2_000,
        stream_protocol: StreamProtocol::DoneMarker,
        stream_max_duration_ms: 0,
        max_retry_after_ms: 5_000,
        response_headers: vec![("x-plan".into(), "yes".into())],
        continuation: Vec::new(),
    }
}

pub fn url(addr: SocketAddr, host: &str, scheme: &str) -> String {
    format!("{scheme}://{host}:{}/v1/chat/completions", addr.port())
}

/// The default failover rules where they live: the real gateway plugin (embedded in the
/// edge), loaded once per test process with an ai-gateway policy that sets no rule of its
/// own, answering through the same export the server uses.
pub struct PluginRules(LoadedPolicy);

impl PluginRules {
    pub fn shared() -> &'static PluginRules {
        static RULES: OnceLock<PluginRules> = OnceLock::new();
        RULES.get_or_init(|| {
            let cfg = RuntimeConfig {
                cache: ArtifactCache::Dir(edge_test_support::paths::plugin_cache_dir()),
                warm_instances: 0,
                ..RuntimeConfig::default()
            };
            let rt = PluginRuntime::new(edge::EMBEDDED_PLUGIN, cfg, Arc::default()).unwrap();
            let options = crate::plugin_runtime::options();
            let policy = "on_http_request:\n  - type: ai-gateway\n    config:\n      providers: [{id: openai}]\n";
            PluginRules(rt.load_policy(policy, options).unwrap())
        })
    }
}

impl FailoverClassifier for PluginRules {
    fn classify(&self, failed: &AttemptResult, can_retry_same: bool) -> FailoverAction {
        self.0.classify_failure(failed, can_retry_same).unwrap()
    }
}

/// Runs a plan with the plugin's default failover rules.
pub async fn run(ctx: &GatewayContext, plan: &Plan) -> PlanResult {
    tokio::time::timeout(
        Duration::from_secs(30),
        execute_plan(ctx, plan, &bytes::Bytes::new(), PluginRules::shared()),
    )
    .await
    .expect("the loop must end")
}

/// `(provider, model, key, status, retry_action)` of each attempt, for compact asserts.
pub fn trail(attempts: &[AttemptResult]) -> Vec<(String, String, String, Option<u16>, String)> {
    attempts
        .iter()
        .map(|a| {
            (
                a.provider.clone(),
                a.model.clone(),
                a.key_id.clone(),
                a.status,
                step_label(a.step).to_owned(),
            )
        })
        .collect()
}

pub fn t(
    provider: &str,
    model: &str,
    key: &str,
    status: Option<u16>,
    action: &str,
) -> (String, String, String, Option<u16>, String) {
    (
        provider.into(),
        model.into(),
        key.into(),
        status,
        action.into(),
    )
}

/// The whole client body as text.
pub async fn body_text(response: Response<ResponseBody>) -> String {
    let bytes = tokio::time::timeout(Duration::from_secs(20), response.into_body().collect())
        .await
        .expect("body must end")
        .expect("body must not error")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}
