//! Test harness for the attempt loop: scripted loopback providers (plain HTTP and HTTPS with
//! an rcgen CA), a recording metrics sink, and plan builders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use edge::body::{BoxError, ResponseBody};
use edge::gateway::{DefaultFailover, GatewayConfig, GatewayContext, PlanResult, execute_plan};
use edge::host_services::{AttemptRecord, TargetMetricsSink, TargetRef};
use edge::wit::types::{ApiFormat, Attempt, AttemptResult, Plan};
use http::{HeaderMap, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// How a scripted provider ends a stream after its chunks.
#[derive(Clone, Debug)]
pub enum StreamEnd {
    Clean,
    /// Break the connection (the body errors, hyper aborts it).
    Drop,
    /// Send nothing more, keep the connection open.
    Stall,
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    Status {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    Sse {
        status: u16,
        content_type: &'static str,
        chunks: Vec<&'static str>,
        gap: Duration,
        end: StreamEnd,
    },
    /// Never send a head.
    Hang,
}

pub fn ok_json(body: &str) -> Reply {
    Reply::Status {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: body.into(),
    }
}

pub fn status(status: u16) -> Reply {
    Reply::Status {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: format!("{{\"error\":{{\"message\":\"scripted {status}\"}}}}"),
    }
}

pub fn status_with(status: u16, name: &'static str, value: &str) -> Reply {
    Reply::Status {
        status,
        headers: vec![
            ("content-type", "application/json".into()),
            (name, value.into()),
        ],
        body: format!("{{\"error\":{{\"message\":\"scripted {status}\"}}}}"),
    }
}

pub fn sse(chunks: Vec<&'static str>, end: StreamEnd) -> Reply {
    Reply::Sse {
        status: 200,
        content_type: "text/event-stream",
        chunks,
        gap: Duration::from_millis(5),
        end,
    }
}

/// What a provider received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A running scripted provider.
pub struct Provider {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Provider {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct ProviderBuilder {
    replies: Vec<Reply>,
    tls: Option<(Vec<CertificateDer<'static>>, Vec<u8>)>,
}

pub fn provider() -> ProviderBuilder {
    ProviderBuilder {
        replies: Vec::new(),
        tls: None,
    }
}

impl ProviderBuilder {
    /// Queues an answer; the last one repeats.
    pub fn reply(mut self, reply: Reply) -> Self {
        self.replies.push(reply);
        self
    }

    /// Serves HTTPS with a certificate for `name` signed by `ca`.
    pub fn tls(mut self, ca: &TestCa, name: &str) -> Self {
        self.tls = Some(ca.leaf(name));
        self
    }

    pub async fn start(self) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(self.replies);
        let acceptor = self.tls.map(|(chain, key)| {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
            let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let (task_hits, task_seen) = (hits.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (hits, seen, replies, acceptor) = (
                    task_hits.clone(),
                    task_seen.clone(),
                    replies.clone(),
                    acceptor.clone(),
                );
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        answer(req, hits.clone(), seen.clone(), replies.clone())
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Provider {
            addr,
            hits,
            seen,
            task,
        }
    }
}

async fn answer(
    req: Request<Incoming>,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Vec<Reply>>,
) -> Result<Response<ResponseBody>, Infallible> {
    let n = hits.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        path,
        headers,
        body,
    });
    let reply = replies
        .get(n.min(replies.len().saturating_sub(1)))
        .cloned()
        .unwrap_or_else(|| status(599));
    Ok(match reply {
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(edge::body::full(body));
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Sse {
            status,
            content_type,
            chunks,
            gap,
            end,
        } => {
            let stream = futures_util::stream::unfold(
                (chunks.into_iter(), end, false),
                move |(mut chunks, end, first_done)| async move {
                    if first_done {
                        tokio::time::sleep(gap).await;
                    }
                    if let Some(chunk) = chunks.next() {
                        let frame =
                            Ok::<_, BoxError>(Frame::data(Bytes::from_static(chunk.as_bytes())));
                        return Some((frame, (chunks, end, true)));
                    }
                    // Let the head (and earlier chunks) reach the client before ending.
                    tokio::time::sleep(gap).await;
                    match end {
                        StreamEnd::Clean => None,
                        StreamEnd::Drop => Some((
                            Err::<Frame<Bytes>, BoxError>("scripted drop".into()),
                            (chunks, StreamEnd::Clean, true),
                        )),
                        StreamEnd::Stall => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            None
                        }
                    }
                },
            );
            let mut response = Response::new(StreamBody::new(stream).boxed());
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            response
                .headers_mut()
                .insert("content-type", content_type.parse().unwrap());
            response
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(edge::body::full(""))
        }
    })
}

/// An address nothing listens on (bound, then closed).
pub async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A test certificate authority.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        Self {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    pub fn pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    fn leaf(&self, name: &str) -> (Vec<CertificateDer<'static>>, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone(), self.issuer.der().clone()],
            key.serialize_der(),
        )
    }
}

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
        provider_ca_pem: ca.map(TestCa::pem),
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
        body: format!("{{\"model\":\"{model}\"}}").into_bytes(),
        provider: provider.into(),
        model: model.into(),
        key_id: key.into(),
        model_group: group,
        timeout_ms: 2_000,
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
        max_retry_after_ms: 5_000,
        custom_failover: false,
        response_headers: vec![("x-plan".into(), "yes".into())],
        continuation: Vec::new(),
    }
}

pub fn url(addr: SocketAddr, host: &str, scheme: &str) -> String {
    format!("{scheme}://{host}:{}/v1/chat/completions", addr.port())
}

/// Runs a plan with the default failover rules.
pub async fn run(ctx: &GatewayContext, plan: &Plan) -> PlanResult {
    tokio::time::timeout(
        Duration::from_secs(30),
        execute_plan(ctx, plan, &DefaultFailover),
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
                a.retry_action.clone(),
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
