//! Mock AI providers: real hyper servers speaking the OpenAI and Anthropic wire formats, with
//! scripted faults. Each records every request it got (headers and body included) so a test
//! can assert the exact attempt order and which credential reached which provider.
//!
//! ```ignore
//! let p = provider("p1").status(503).retry_after(1).then().start().await?; // 503 once, then 200
//! let s = provider("s").stream_chunks(5).stall_after(2).tls(&ca).start().await?;
//! ```
//!
//! Besides the generated answers a script can send raw bytes: `body(text)` answers exactly
//! that, `events([...])` streams exactly those SSE events, `hang()` never answers.
//! Stream faults: `drop_after(n)` breaks between events, `cut_inside_event(n)` inside one,
//! `no_closing_event()` ends cleanly without `[DONE]`/`message_stop`, `stall_after(n)` goes
//! silent, `ping_forever_after(n, ms)` sends only keep-alives.
//!
//! Behaviours form a script: request N gets behaviour N, the last one repeats. Builder
//! methods edit the behaviour being written; `then()` starts the next one (a plain success
//! until edited). `on_model(id, ..)` gives one model its own script.
//!
//! What a success looks like: the assistant text starts with `"<provider>:<model>"` so a test
//! can tell who served it; streams send that as the first chunk, then `c1 `, `c2 `, … and end
//! with `[DONE]` (OpenAI) or `message_stop` (Anthropic). The format follows the request path:
//! `/v1/messages` is Anthropic, everything else OpenAI.
//!
//! `peak_in_flight()` is the most requests it was answering at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use serde_json::{Value, json};

pub use self::behaviour::Behaviour;
use self::in_flight::InFlight;
use self::wire::{anthropic_message, embeddings, error_body, openai_completion, stream_events};
use crate::Result;
use crate::http_server::{
    Body, BoxError, Handler, ServerHandle, json_response, json_text_response,
};
pub use crate::recorded::RecordedRequest;
use crate::recorded::{Recorder, record};
use crate::test_ca::TestCa;

mod behaviour;
mod in_flight;
mod wire;

#[derive(Clone)]
enum TlsMode {
    Plain,
    /// Certificate from the given CA (PEM of leaf + key prepared at start).
    Ca(Arc<TestCa>),
}

/// Starts describing a provider called `name` (its `.internal` host is `<name>.internal`).
pub fn provider(name: &str) -> ProviderBuilder {
    ProviderBuilder {
        name: name.to_owned(),
        tls: TlsMode::Plain,
        script: vec![Behaviour::default()],
        per_model: Vec::new(),
        editing_model: None,
    }
}

pub struct ProviderBuilder {
    name: String,
    tls: TlsMode,
    script: Vec<Behaviour>,
    per_model: Vec<(String, Vec<Behaviour>)>,
    editing_model: Option<usize>,
}

impl ProviderBuilder {
    fn current(&mut self) -> &mut Behaviour {
        let script = match self.editing_model {
            Some(i) => match self.per_model.get_mut(i) {
                Some((_, s)) => s,
                None => &mut self.script,
            },
            None => &mut self.script,
        };
        if script.is_empty() {
            script.push(Behaviour::default());
        }
        let last = script.len() - 1;
        &mut script[last]
    }

    /// Answer with this status (non-2xx gets a provider-shaped error body).
    pub fn status(mut self, status: u16) -> Self {
        self.current().status = status;
        self
    }
    /// Send `retry-after: <secs>`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.current().retry_after = Some(secs.to_string());
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.current()
            .headers
            .push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn error_body(mut self, body: Value) -> Self {
        self.current().error_body = Some(body);
        self
    }
    /// Wait before the response head (per-attempt timeout tests).
    pub fn delay(mut self, ms: u64) -> Self {
        self.current().delay_ms = ms;
        self
    }
    pub fn stream_chunks(mut self, n: usize) -> Self {
        self.current().chunks = n;
        self
    }
    pub fn chunk_delay(mut self, ms: u64) -> Self {
        self.current().chunk_delay_ms = ms;
        self
    }
    pub fn stall_after(mut self, n: usize) -> Self {
        self.current().stall_after = Some(n);
        self
    }
    pub fn drop_after(mut self, n: usize) -> Self {
        self.current().drop_after = Some(n);
        self
    }
    pub fn first_event_error(mut self) -> Self {
        self.current().first_event_error = true;
        self
    }
    pub fn fail_before_first_byte(mut self) -> Self {
        self.current().fail_before_first_byte = true;
        self
    }
    /// Answer exactly `text` (content type `application/json` unless a `header` says otherwise).
    pub fn body(mut self, text: &str) -> Self {
        self.current().body = Some(text.to_owned());
        self
    }
    /// Stream exactly these SSE events (content type `text/event-stream` unless a `header`
    /// says otherwise), whatever the request asked for.
    pub fn events(mut self, events: &[&str]) -> Self {
        self.current().events = Some(events.iter().map(|e| (*e).to_owned()).collect());
        self
    }
    /// Non-2xx answers quote these request headers' values in the error message (a
    /// provider echoing what it rejected).
    pub fn echo_headers(mut self, names: &[&str]) -> Self {
        self.current().echo_headers = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }
    /// Non-2xx answers quote the request's query string in the error message.
    pub fn echo_query(mut self) -> Self {
        self.current().echo_query = true;
        self
    }
    /// Send the headers a provider ties to the key it was called with, and its own request
    /// id: `x-ratelimit-limit-requests: 100`, `x-ratelimit-remaining-requests: 99`,
    /// `anthropic-ratelimit-requests-remaining: 99`, `openai-organization: org-mock`,
    /// `openai-project: proj_mock`, `set-cookie: __cf_bm=mock; Path=/`,
    /// `x-request-id: req_<name>`.
    pub fn account_headers(self) -> Self {
        let id = format!("req_{}", self.name);
        self.header("x-ratelimit-limit-requests", "100")
            .header("x-ratelimit-remaining-requests", "99")
            .header("anthropic-ratelimit-requests-remaining", "99")
            .header("openai-organization", "org-mock")
            .header("openai-project", "proj_mock")
            .header("set-cookie", "__cf_bm=mock; Path=/")
            .header("x-request-id", &id)
    }
    /// After `n` events, send half of the next event (cut inside its JSON), then break the
    /// connection.
    pub fn cut_inside_event(mut self, n: usize) -> Self {
        self.current().cut_inside_event = Some(n);
        self
    }
    /// End the stream cleanly without its closing event (`[DONE]` / `message_stop`).
    pub fn no_closing_event(mut self) -> Self {
        self.current().no_closing_event = true;
        self
    }
    /// After `n` events, send only keep-alives (`: keep-alive` comments, or Anthropic
    /// `ping` events on `/v1/messages`) every `every_ms`, forever.
    pub fn ping_forever_after(mut self, n: usize, every_ms: u64) -> Self {
        let b = self.current();
        b.pings_after = Some(n);
        b.ping_every_ms = every_ms;
        self
    }
    /// Never send a response head (the connection stays open until the test ends).
    pub fn hang(self) -> Self {
        self.delay(3_600_000)
    }
    /// The next request gets a new behaviour (a plain success until edited).
    pub fn then(mut self) -> Self {
        match self.editing_model.and_then(|i| self.per_model.get_mut(i)) {
            Some((_, s)) => s.push(Behaviour::default()),
            None => self.script.push(Behaviour::default()),
        }
        self
    }
    /// Following edits apply to requests for `model` only (its own script).
    pub fn on_model(mut self, model: &str) -> Self {
        self.per_model
            .push((model.to_owned(), vec![Behaviour::default()]));
        self.editing_model = Some(self.per_model.len() - 1);
        self
    }
    /// Following edits apply to the default script again.
    pub fn default_script(mut self) -> Self {
        self.editing_model = None;
        self
    }
    /// Serve HTTPS with a certificate from `ca` (valid for `<name>.internal`, localhost, 127.0.0.1).
    pub fn tls(mut self, ca: &Arc<TestCa>) -> Self {
        self.tls = TlsMode::Ca(ca.clone());
        self
    }

    pub async fn start(self) -> Result<MockProvider> {
        let tls = match &self.tls {
            TlsMode::Plain => None,
            TlsMode::Ca(ca) => {
                let host = format!("{}.internal", self.name);
                Some(ca.server_cert(&[host.as_str()])?.server_config()?)
            }
        };
        let state = Arc::new(State {
            name: self.name.clone(),
            script: self.script,
            per_model: self.per_model,
            counter: AtomicUsize::new(0),
            model_counters: Mutex::new(Vec::new()),
            sent_chunks: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
        });
        let requests = Recorder::default();
        let rec = requests.clone();
        let st = state.clone();
        let in_flight = Arc::new(InFlight::default());
        let counted = in_flight.clone();
        let handler: Handler = Arc::new(move |req| {
            let rec = rec.clone();
            let st = st.clone();
            let counted = counted.clone();
            Box::pin(async move {
                // From arrival until the answer is handed over (for a non-stream answer,
                // its whole body; a stream's body is sent after).
                let _answering = counted.enter();
                let r = record(req, &rec).await;
                st.answer(&r).await
            })
        });
        let server = ServerHandle::start(handler, tls).await?;
        Ok(MockProvider {
            name: self.name,
            server,
            requests,
            state,
            in_flight,
        })
    }
}

struct State {
    name: String,
    script: Vec<Behaviour>,
    per_model: Vec<(String, Vec<Behaviour>)>,
    counter: AtomicUsize,
    model_counters: Mutex<Vec<(String, usize)>>,
    /// (sequence number, when the chunk was handed to hyper) for chunk-latency measurement.
    sent_chunks: Mutex<Vec<(usize, Instant)>>,
    seq: AtomicUsize,
}

/// What a failing answer quotes of the request (`echo_headers`, `echo_query`).
fn echoed(b: &Behaviour, r: &RecordedRequest) -> String {
    let mut parts: Vec<String> = b
        .echo_headers
        .iter()
        .map(|n| format!("{n}={}", r.header(n).unwrap_or("")))
        .collect();
    if b.echo_query {
        parts.push(format!(
            "query={}",
            r.path.split_once('?').map_or("", |(_, q)| q)
        ));
    }
    parts.join(" ")
}

fn pick(script: &[Behaviour], n: usize) -> Behaviour {
    script
        .get(n)
        .or_else(|| script.last())
        .cloned()
        .unwrap_or_default()
}

impl State {
    fn behaviour_for(&self, model: &str) -> Behaviour {
        if let Some((_, script)) = self.per_model.iter().find(|(m, _)| m == model) {
            let n = match self.model_counters.lock() {
                Ok(mut c) => match c.iter_mut().find(|(m, _)| m == model) {
                    Some((_, n)) => {
                        *n += 1;
                        *n - 1
                    }
                    None => {
                        c.push((model.to_owned(), 1));
                        0
                    }
                },
                Err(_) => 0,
            };
            return pick(script, n);
        }
        pick(&self.script, self.counter.fetch_add(1, Ordering::SeqCst))
    }

    async fn answer(self: &Arc<Self>, r: &RecordedRequest) -> Response<Body> {
        let path = r.path.split('?').next().unwrap_or("/").to_owned();
        let anthropic = path.ends_with("/messages");
        let body = r.json();
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let b = self.behaviour_for(&model);
        if b.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(b.delay_ms)).await;
        }
        if r.method == "GET" && path.ends_with("/models") {
            return json_response(
                200,
                &json!({"object":"list","data":[{"id":"mock-model","object":"model","owned_by":self.name}]}),
            );
        }
        let ping = if anthropic {
            "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        } else {
            ": keep-alive\n\n"
        };
        let mut res = if let Some(events) = &b.events {
            self.stream(&b, events.clone(), ping)
        } else if let Some(text) = &b.body {
            json_text_response(b.status, text.clone())
        } else if !(200..300).contains(&b.status) {
            let err = b
                .error_body
                .clone()
                .unwrap_or_else(|| error_body(anthropic, b.status, &self.name, &echoed(&b, r)));
            json_response(b.status, &err)
        } else if body.get("stream").and_then(Value::as_bool) == Some(true) {
            self.stream(&b, stream_events(anthropic, &self.name, &model, &b), ping)
        } else if path.ends_with("/embeddings") {
            json_response(200, &embeddings(&model, &body))
        } else if anthropic {
            json_response(200, &anthropic_message(&self.name, &model))
        } else {
            json_response(200, &openai_completion(&self.name, &model))
        };
        if let Some(ra) = &b.retry_after
            && let Ok(v) = http::HeaderValue::from_str(ra)
        {
            res.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        // A scripted header replaces the default of that name (content type); a repeated
        // one adds a value.
        let mut scripted: Vec<http::HeaderName> = Vec::new();
        for (k, v) in &b.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                if scripted.contains(&k) {
                    res.headers_mut().append(k, v);
                } else {
                    scripted.push(k.clone());
                    res.headers_mut().insert(k, v);
                }
            }
        }
        res.headers_mut().insert(
            "x-mock-provider",
            http::HeaderValue::from_str(&self.name).unwrap_or(http::HeaderValue::from_static("?")),
        );
        res
    }

    fn stream(
        self: &Arc<Self>,
        b: &Behaviour,
        mut events: Vec<String>,
        ping: &'static str,
    ) -> Response<Body> {
        let status = http::StatusCode::from_u16(b.status).unwrap_or(http::StatusCode::OK);
        let mut b = b.clone();
        if b.no_closing_event {
            events.pop();
        }
        if let Some(n) = b.cut_inside_event
            && let Some(event) = events.get(n).cloned()
        {
            // Cut at a char boundary near the middle: inside the JSON, never on a boundary.
            let mut mid = event.len() / 2;
            while !event.is_char_boundary(mid) {
                mid -= 1;
            }
            events.truncate(n);
            events.push(event[..mid].to_owned());
            b.drop_after = Some(n + 1);
        }
        let st = self.clone();
        // Frames: Some(Ok(bytes)) to send, Some(Err) to break the connection, None to end.
        let stream = futures_util::stream::unfold((0usize, events), move |(i, events)| {
            let b = b.clone();
            let st = st.clone();
            async move {
                if b.fail_before_first_byte && i == 0 {
                    // An empty data frame makes hyper write the 200 head (it holds the
                    // head back until the body yields something); then the body breaks
                    // before its first byte.
                    return Some((Ok(Frame::data(Bytes::new())), (usize::MAX - 1, events)));
                }
                if i == usize::MAX - 1 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Some((
                        Err::<Frame<Bytes>, BoxError>("mock: broken before first byte".into()),
                        (usize::MAX, events),
                    ));
                }
                if i == usize::MAX {
                    return None;
                }
                if let Some(n) = b.pings_after
                    && i >= n
                {
                    tokio::time::sleep(Duration::from_millis(b.ping_every_ms)).await;
                    return Some((
                        Ok(Frame::data(Bytes::from_static(ping.as_bytes()))),
                        (i, events),
                    ));
                }
                // Content chunks are counted after the opening events of the format.
                if let Some(n) = b.stall_after
                    && i >= n
                {
                    std::future::pending::<()>().await;
                }
                if let Some(n) = b.drop_after
                    && i >= n
                {
                    // Let hyper flush what was sent so far; an error frame aborts the
                    // connection and discards anything still buffered.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Some((
                        Err("mock: connection dropped midway".into()),
                        (usize::MAX, events),
                    ));
                }
                let ev = events.get(i)?.clone();
                if i > 0 && b.chunk_delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(b.chunk_delay_ms)).await;
                }
                let seq = st.seq.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut s) = st.sent_chunks.lock() {
                    s.push((seq, Instant::now()));
                }
                Some((Ok(Frame::data(Bytes::from(ev))), (i + 1, events)))
            }
        });
        let mut res = Response::new(StreamBody::new(stream).boxed());
        *res.status_mut() = status;
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/event-stream"),
        );
        res.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-cache"),
        );
        res
    }
}

/// A running mock provider.
pub struct MockProvider {
    pub name: String,
    pub server: ServerHandle,
    pub requests: Recorder,
    state: Arc<State>,
    in_flight: Arc<InFlight>,
}

impl MockProvider {
    /// `NAME.internal`
    pub fn host(&self) -> String {
        format!("{}.internal", self.name)
    }
    /// `--internal NAME.internal=127.0.0.1:PORT`
    pub fn internal_flag(&self) -> String {
        format!("{}={}", self.host(), self.server.addr)
    }
    /// `http(s)://NAME.internal/v1`: the base URL a policy names it by.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}/v1",
            if self.server.tls { "https" } else { "http" },
            self.host()
        )
    }
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.requests.all()
    }
    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.requests.count()
    }
    /// The `model` of each request received, in order.
    pub fn models_seen(&self) -> Vec<String> {
        self.requests
            .all()
            .iter()
            .map(|r| r.model().unwrap_or_default())
            .collect()
    }
    /// The most requests it was answering at once (arrival to answer handed over).
    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.peak()
    }
    /// When each stream chunk was handed to the connection, by sequence number.
    pub fn sent_chunks(&self) -> Vec<(usize, Instant)> {
        self.state
            .sent_chunks
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
    pub async fn stop(self) -> Result<()> {
        self.server.stop().await
    }
}
