//! The variables of one request, served lazily to CEL.
//!
//! CEL asks for the longest qualified name first (`req.url.path`, then `req.url`, then
//! `req`), so a leaf read by an expression is answered directly from the request, without
//! building the whole `req` map. Maps that several reads share (headers, query parameters)
//! are built at most once per request phase. Building request values is the main per-request
//! cost of the engine, which is why nothing is built before an expression asks for it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use std::collections::HashMap;

use cel::Value;
use cel::common::types::{CelBool, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;

use super::convert::{string_map, string_value};
use super::functions::{
    HAS_HEADER_PREFIX, HAS_QUERY_PREFIX, HAS_RES_HEADER_PREFIX, HEADER_PREFIX, QUERY_PREFIX,
    RES_HEADER_PREFIX,
};
use crate::model::{EndpointInfo, Headers, Request, ResponseHead};

/// Request facts and the values built from them, for one phase of one request.
pub struct RequestData<'a> {
    pub req: &'a Request,
    pub endpoint: &'a EndpointInfo,
    pub res: Option<&'a ResponseHead>,
    // Built on first use; they borrow the request's strings instead of copying them.
    headers: OnceLock<Box<dyn Val + 'a>>,
    query_pairs: OnceLock<Vec<(String, String)>>,
    query_params: OnceLock<Box<dyn Val>>,
    res_headers: OnceLock<Box<dyn Val + 'a>>,
    whole_req: OnceLock<Box<dyn Val>>,
}

impl<'a> RequestData<'a> {
    pub fn new(
        req: &'a Request,
        endpoint: &'a EndpointInfo,
        res: Option<&'a ResponseHead>,
    ) -> Self {
        RequestData {
            req,
            endpoint,
            res,
            headers: OnceLock::new(),
            query_pairs: OnceLock::new(),
            query_params: OnceLock::new(),
            res_headers: OnceLock::new(),
            whole_req: OnceLock::new(),
        }
    }

    fn pairs(&self) -> &[(String, String)] {
        self.query_pairs.get_or_init(|| {
            url::form_urlencoded::parse(self.req.query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
    }

    fn host(&self) -> &str {
        split_host_port(&self.req.authority).0
    }

    fn port(&self) -> i64 {
        split_host_port(&self.req.authority)
            .1
            .unwrap_or(if self.req.scheme == "https" { 443 } else { 80 })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.req
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn full_url(&self) -> String {
        let mut url = format!(
            "{}://{}{}",
            self.req.scheme, self.req.authority, self.req.path
        );
        if !self.req.query.is_empty() {
            url.push('?');
            url.push_str(&self.req.query);
        }
        url
    }

    fn uri(&self) -> String {
        if self.req.query.is_empty() {
            self.req.path.clone()
        } else {
            format!("{}?{}", self.req.path, self.req.query)
        }
    }

    fn url_value(&self) -> Value {
        string_map([
            ("authority".to_string(), string_value(&self.req.authority)),
            ("host".to_string(), string_value(self.host())),
            ("path".to_string(), string_value(&self.req.path)),
            ("port".to_string(), Value::Int(self.port())),
            ("query".to_string(), string_value(&self.req.query)),
            ("query_params".to_string(), multimap(self.pairs())),
            ("raw".to_string(), string_value(&self.full_url())),
            ("raw_path".to_string(), string_value(&self.req.path)),
            ("scheme".to_string(), string_value(&self.req.scheme)),
            ("uri".to_string(), string_value(&self.uri())),
        ])
    }

    /// The whole `req` map (for an expression that reads `req` itself, or a strategy).
    /// `req.url` is a map here (with `raw` the full URL); read directly it is the URL string.
    pub fn req_value(&self) -> Value {
        string_map([
            ("id".to_string(), string_value(&self.req.id)),
            ("method".to_string(), string_value(&self.req.method)),
            ("url".to_string(), self.url_value()),
            ("host".to_string(), string_value(self.host())),
            ("headers".to_string(), headers_value(&self.req.headers)),
            ("query_params".to_string(), multimap(self.pairs())),
            (
                "content_type".to_string(),
                string_value(self.header("content-type").unwrap_or("")),
            ),
            ("content_length".to_string(), self.content_length()),
            ("version".to_string(), string_value(&self.req.version)),
            (
                "user_agent".to_string(),
                string_value(self.header("user-agent").unwrap_or("")),
            ),
            (
                "body".to_string(),
                string_value(&String::from_utf8_lossy(&self.req.body)),
            ),
            (
                "location".to_string(),
                string_value(self.header("location").unwrap_or("")),
            ),
            ("content_encoding".to_string(), self.content_encoding()),
            ("ts".to_string(), self.ts_value()),
        ])
    }

    /// `Content-Encoding` values, split on commas, lower-cased.
    fn content_encoding(&self) -> Value {
        let codings = self
            .req
            .headers
            .iter()
            .filter(|(k, _)| k == "content-encoding")
            .flat_map(|(_, v)| v.split(','))
            .map(|c| string_value(&c.trim().to_ascii_lowercase()))
            .filter(|v| !matches!(v, Value::String(s) if s.is_empty()))
            .collect();
        Value::List(Arc::new(codings))
    }

    /// `req.ts.header_received`: when the request head arrived (a CEL timestamp). The edge
    /// hands the plugin the body together with the head, so `body_received` is the same.
    fn received(&self) -> Value {
        i64::try_from(self.req.received_at_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or(Value::Null, |t| Value::Timestamp(t.fixed_offset()))
    }

    fn ts_value(&self) -> Value {
        string_map([
            ("header_received".to_string(), self.received()),
            ("body_received".to_string(), self.received()),
        ])
    }

    fn content_length(&self) -> Value {
        match self
            .header("content-length")
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            Some(n) => Value::Int(n),
            None if !self.req.body.is_empty() => {
                Value::Int(i64::try_from(self.req.body.len()).unwrap_or(i64::MAX))
            }
            None => Value::Null,
        }
    }

    pub fn conn_value(&self) -> Value {
        let c = &self.req.conn;
        string_map([
            ("client_ip".to_string(), string_value(&c.client_ip)),
            (
                "client_port".to_string(),
                Value::Int(i64::from(c.client_port)),
            ),
            ("server_ip".to_string(), string_value(&c.server_ip)),
            (
                "server_port".to_string(),
                Value::Int(i64::from(c.server_port)),
            ),
            ("tls".to_string(), self.tls_value()),
        ])
    }

    fn tls_value(&self) -> Value {
        match &self.req.conn.tls {
            None => Value::Null,
            Some(tls) => string_map([
                ("version".to_string(), string_value(&tls.version)),
                ("cipher_suite".to_string(), string_value(&tls.cipher_suite)),
                ("sni".to_string(), opt_string(tls.sni.as_deref())),
                (
                    "negotiated_alpn".to_string(),
                    opt_string(tls.negotiated_alpn.as_deref()),
                ),
            ]),
        }
    }

    pub fn endpoint_value(&self) -> Value {
        let e = self.endpoint;
        string_map([
            ("id".to_string(), string_value(&e.id)),
            ("url".to_string(), string_value(&e.url)),
            ("host".to_string(), string_value(&e.host)),
            ("port".to_string(), Value::Int(i64::from(e.port))),
            ("protocol".to_string(), string_value(&e.protocol)),
            (
                "addr".to_string(),
                string_value(&format!("{}:{}", e.host, e.port)),
            ),
        ])
    }

    /// RFC 3339 UTC time at which the request head arrived.
    pub fn now(&self) -> String {
        i64::try_from(self.req.received_at_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default()
    }

    pub fn res_value(&self) -> Option<Value> {
        let res = self.res?;
        Some(string_map([
            ("status_code".to_string(), Value::Int(i64::from(res.status))),
            ("headers".to_string(), headers_value(&res.headers)),
            (
                "content_type".to_string(),
                string_value(first(&res.headers, "content-type").unwrap_or("")),
            ),
            (
                "content_length".to_string(),
                first(&res.headers, "content-length")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map_or(Value::Null, Value::Int),
            ),
        ]))
    }
}

/// Variables set while the phase runs: `vars.*` (set-vars) and `actions.ngrok.*` results.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    pub vars: BTreeMap<String, Value>,
    /// Keyed by the action's result name (`rate_limit`, `ai_gateway`, ...).
    pub actions: BTreeMap<String, Value>,
}

impl Bindings {
    fn vars_value(&self) -> Value {
        string_map(self.vars.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
    fn ngrok_value(&self) -> Value {
        string_map(self.actions.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

/// What one evaluation sees: the request's data and the phase's bindings so far.
pub struct Activation<'a, 'd> {
    pub data: &'a RequestData<'d>,
    pub bindings: &'a Bindings,
}

impl Activation<'_, '_> {
    /// A root or qualified variable as an owned value (for strategies of the ai-gateway).
    pub fn value(&self, name: &str) -> Option<Value> {
        let found = self.resolve(name)?;
        Value::try_from(found.as_ref()).ok()
    }
}

impl VariableResolver for Activation<'_, '_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let d = self.data;
        let req = d.req;
        if let Some(rest) = name.strip_prefix("req.") {
            return match rest {
                "method" => borrowed(&req.method),
                "id" => borrowed(&req.id),
                "version" => borrowed(&req.version),
                "host" | "url.host" => borrowed(d.host()),
                "url" | "url.raw" => owned(string_value(&d.full_url())),
                "url.path" | "url.raw_path" => borrowed(&req.path),
                "url.query" => borrowed(&req.query),
                "url.scheme" => borrowed(&req.scheme),
                "url.authority" => borrowed(&req.authority),
                "url.port" => owned(Value::Int(d.port())),
                "url.uri" => owned(string_value(&d.uri())),
                "headers" => cached_val(&d.headers, || borrowed_multimap(&req.headers)),
                "query_params" | "url.query_params" => {
                    cached(&d.query_params, || multimap(d.pairs()))
                }
                "content_type" => borrowed(d.header("content-type").unwrap_or("")),
                "user_agent" => borrowed(d.header("user-agent").unwrap_or("")),
                "location" => borrowed(d.header("location").unwrap_or("")),
                "content_encoding" => owned(d.content_encoding()),
                "ts" => owned(d.ts_value()),
                "ts.header_received" | "ts.body_received" => owned(d.received()),
                "content_length" => owned(d.content_length()),
                "body" => owned(Value::String(Arc::new(
                    String::from_utf8_lossy(&req.body).into_owned(),
                ))),
                _ => None,
            };
        }
        if let Some(rest) = name.strip_prefix('@') {
            return self.resolve_internal(rest);
        }
        if let Some(rest) = name.strip_prefix("conn.") {
            let c = &req.conn;
            return match rest {
                "client_ip" => borrowed(&c.client_ip),
                "client_port" => owned(Value::Int(i64::from(c.client_port))),
                "server_ip" => borrowed(&c.server_ip),
                "server_port" => owned(Value::Int(i64::from(c.server_port))),
                "tls" => owned(d.tls_value()),
                _ => None,
            };
        }
        if let Some(rest) = name.strip_prefix("vars.") {
            return self.bindings.vars.get(rest).and_then(|v| owned(v.clone()));
        }
        if let Some(rest) = name.strip_prefix("actions.ngrok.") {
            return self
                .bindings
                .actions
                .get(rest)
                .and_then(|v| owned(v.clone()));
        }
        if let Some(rest) = name.strip_prefix("res.") {
            let res = d.res?;
            return match rest {
                "status_code" => owned(Value::Int(i64::from(res.status))),
                "headers" => cached_val(&d.res_headers, || borrowed_multimap(&res.headers)),
                _ => None,
            };
        }
        match name {
            "req" => cached(&d.whole_req, || d.req_value()),
            "conn" => owned(d.conn_value()),
            "endpoint" => owned(d.endpoint_value()),
            "time" => owned(string_map([("now".to_string(), string_value(&d.now()))])),
            "time.now" => owned(string_value(&d.now())),
            "vars" => owned(self.bindings.vars_value()),
            "actions" => owned(string_map([(
                "ngrok".to_string(),
                self.bindings.ngrok_value(),
            )])),
            "actions.ngrok" => owned(self.bindings.ngrok_value()),
            "res" => d.res_value().and_then(owned),
            _ => None,
        }
    }
}

impl Activation<'_, '_> {
    /// The names behind the request helper functions (`getReqHeader('x')` asks for
    /// `@req.header.x`): answered from the request directly, borrowing its strings.
    fn resolve_internal<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let d = self.data;
        let at = |prefix: &str| name.strip_prefix(&prefix[1..]);
        if let Some(header) = at(HEADER_PREFIX) {
            return Some(borrowed_list(&d.req.headers, header));
        }
        if let Some(header) = at(HAS_HEADER_PREFIX) {
            return Some(has(&d.req.headers, header));
        }
        if let Some(param) = at(QUERY_PREFIX) {
            return Some(borrowed_list(d.pairs(), param));
        }
        if let Some(param) = at(HAS_QUERY_PREFIX) {
            return Some(has(d.pairs(), param));
        }
        let res_headers: &[(String, String)] = d.res.map_or(&[], |r| &r.headers);
        if let Some(header) = at(RES_HEADER_PREFIX) {
            return Some(borrowed_list(res_headers, header));
        }
        if let Some(header) = at(HAS_RES_HEADER_PREFIX) {
            return Some(has(res_headers, header));
        }
        None
    }
}

/// The values of `name` in a header or query list, as a CEL list borrowing them.
fn borrowed_list<'b>(pairs: &'b [(String, String)], name: &str) -> CowVal<'b, 'b> {
    let items: Vec<Box<dyn Val + 'b>> = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| Box::new(CelString::from(v.as_str())) as Box<dyn Val + 'b>)
        .collect();
    CowVal::owned(CelList::from(items))
}

fn has<'b>(pairs: &[(String, String)], name: &str) -> CowVal<'b, 'b> {
    CowVal::owned(CelBool::from(pairs.iter().any(|(k, _)| k == name)))
}

/// A header list as a CEL map from name to the list of its values, borrowing the strings.
fn borrowed_multimap(pairs: &[(String, String)]) -> Box<dyn Val + '_> {
    let mut grouped: HashMap<&str, Vec<Box<dyn Val + '_>>> = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        grouped
            .entry(k.as_str())
            .or_default()
            .push(Box::new(CelString::from(v.as_str())));
    }
    let map: HashMap<CelMapKey<'_>, Box<dyn Val + '_>> = grouped
        .into_iter()
        .map(|(k, vs)| {
            (
                CelMapKey::from(k),
                Box::new(CelList::from(vs)) as Box<dyn Val + '_>,
            )
        })
        .collect();
    Box::new(CelMap::from(map))
}

fn cached_val<'b, 'a: 'b>(
    cell: &'b OnceLock<Box<dyn Val + 'a>>,
    build: impl FnOnce() -> Box<dyn Val + 'a>,
) -> Option<CowVal<'b, 'b>> {
    let value: &'b (dyn Val + 'a) = cell.get_or_init(build).as_ref();
    Some(CowVal::Borrowed(value))
}

fn borrowed(s: &str) -> Option<CowVal<'_, '_>> {
    Some(CowVal::owned(CelString::from(s)))
}

fn owned<'b>(v: Value) -> Option<CowVal<'b, 'b>> {
    let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(v).ok()?;
    Some(CowVal::Owned(boxed))
}

fn cached<'b>(
    cell: &'b OnceLock<Box<dyn Val>>,
    build: impl FnOnce() -> Value,
) -> Option<CowVal<'b, 'b>> {
    if cell.get().is_none() {
        let boxed = Box::<dyn Val>::try_from(build()).ok()?;
        let _ = cell.set(boxed);
    }
    cell.get().map(|v| CowVal::Borrowed(v.as_ref()))
}

fn opt_string(s: Option<&str>) -> Value {
    s.map_or(Value::Null, string_value)
}

fn first<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Header list as a map from (lower-case) name to the list of its values.
pub fn headers_value(headers: &Headers) -> Value {
    multimap(headers)
}

fn multimap(pairs: &[(String, String)]) -> Value {
    let mut grouped: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (k, v) in pairs {
        grouped.entry(k.as_str()).or_default().push(string_value(v));
    }
    string_map(
        grouped
            .into_iter()
            .map(|(k, vs)| (k.to_string(), Value::List(Arc::new(vs)))),
    )
}

/// `host:port` (or `[v6]:port`) split; the port when one is written.
fn split_host_port(authority: &str) -> (&str, Option<i64>) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host, port);
        }
        return (authority, None);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (authority, None),
        },
        _ => (authority, None),
    }
}
