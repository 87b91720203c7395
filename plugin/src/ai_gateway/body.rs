//! The client's JSON body, parsed only one level deep: top-level keys with their values
//! kept as raw JSON text, except the few the gateway reads (`model`, `models`, `stream`,
//! the output-token limits). Message arrays are never parsed, however large.
//!
//! Token estimate for `max_input_tokens` (documented in docs/ai-gateway.md): the byte
//! length of the raw JSON of the prompt-bearing fields (`messages`, `prompt`, `input`,
//! `system`, `instructions`, `tools`) divided by 4, rounded up. Four bytes per token is
//! the usual English average for tiktoken's encodings and errs on the side of counting
//! more tokens for JSON punctuation; exact counting belongs in the host.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use super::errors::GatewayError;
use super::output_limit::OUTPUT_LIMIT_FIELDS;
use crate::model::BodyPiece;

/// Top-level body fields whose size counts toward the input-token estimate.
const PROMPT_FIELDS: &[&str] = &[
    "messages",
    "prompt",
    "input",
    "system",
    "instructions",
    "tools",
];

/// Keys the gateway's own protocol needs, never stripped by a `supported_params` allowlist
/// or an `unsupported_params` denylist: `model` (set per attempt) and `stream` (the plan
/// streams, and commits on the first SSE event, only when the provider is asked to stream).
const PROTOCOL_FIELDS: &[&str] = &["model", "stream"];

/// Raw values at least this long are sent as a range of the client's body instead of
/// copied: below it, a range costs more to describe than the bytes themselves.
const SHARED_VALUE_MIN: usize = 256;

/// The client's body, top level only.
#[derive(Debug)]
pub struct ClientBody<'a> {
    /// The body as received, which every raw value borrows from.
    bytes: &'a [u8],
    /// Every top-level field in client order, values as raw JSON.
    pub fields: Vec<(String, &'a RawValue)>,
    pub model: Option<String>,
    pub models: Vec<String>,
    pub stream: bool,
}

struct OrderedRaw<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for OrderedRaw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedRaw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(OrderedRaw(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> ClientBody<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<ClientBody<'a>, GatewayError> {
        if bytes.is_empty() {
            return Err(GatewayError::InvalidBody(
                "the body is empty; expected a JSON object".to_owned(),
            ));
        }
        let OrderedRaw(fields) = serde_json::from_slice(bytes)
            .map_err(|e| GatewayError::InvalidBody(format!("not a JSON object: {e}")))?;
        let mut body = ClientBody {
            bytes,
            fields,
            model: None,
            models: Vec::new(),
            stream: false,
        };
        for (k, raw) in &body.fields {
            match k.as_str() {
                "model" => match serde_json::from_str::<Json>(raw.get()) {
                    Ok(Json::String(s)) => body.model = Some(s),
                    Ok(Json::Null) => {}
                    _ => {
                        return Err(GatewayError::InvalidBody(
                            "'model' must be a string".to_owned(),
                        ));
                    }
                },
                "models" => match serde_json::from_str::<Json>(raw.get()) {
                    Ok(Json::Array(items)) => {
                        for item in items {
                            match item {
                                Json::String(s) => body.models.push(s),
                                _ => {
                                    return Err(GatewayError::InvalidBody(
                                        "'models' must be an array of strings".to_owned(),
                                    ));
                                }
                            }
                        }
                    }
                    Ok(Json::Null) => {}
                    _ => {
                        return Err(GatewayError::InvalidBody(
                            "'models' must be an array of strings".to_owned(),
                        ));
                    }
                },
                "stream" => body.stream = raw.get().trim() == "true",
                _ => {}
            }
        }
        Ok(body)
    }

    /// Where `raw` lies in the received body, when it is one of its slices.
    fn range_of(&self, raw: &RawValue) -> Option<(u64, u64)> {
        let text = raw.get();
        let base = self.bytes.as_ptr() as usize;
        let at = (text.as_ptr() as usize).checked_sub(base)?;
        let end = at.checked_add(text.len())?;
        (end <= self.bytes.len()).then_some((at as u64, text.len() as u64))
    }

    /// The documented input-token estimate (see the module doc).
    pub fn estimated_input_tokens(&self) -> u64 {
        let bytes: usize = self
            .fields
            .iter()
            .filter(|(k, _)| PROMPT_FIELDS.contains(&k.as_str()))
            .map(|(_, v)| v.get().len())
            .sum();
        (bytes as u64).div_ceil(4)
    }
}

/// What differs between the upstream bodies of one request's attempts.
pub struct BodyEdits<'a> {
    pub model: &'a str,
    /// Rendered `body` config: set at top level, overriding the client.
    pub merge: &'a Map<String, Json>,
    pub max_output_tokens: Option<u64>,
    /// The limit field added when neither the client nor the config `body` set one
    /// (`output_limit::added_limit_field`).
    pub limit_field: Option<&'static str>,
    /// Provider surface allowlist (non-empty = keep only these keys, and the protocol
    /// fields).
    pub allow: Option<&'a [String]>,
    /// Model denylist.
    pub deny: &'a [String],
}

/// An attempt's body as it is built: bytes written here, and ranges of the client's body
/// for its large values.
struct PieceWriter<'c, 'a> {
    client: &'c ClientBody<'a>,
    pieces: Vec<BodyPiece>,
    open: Vec<u8>,
    first: bool,
}

impl PieceWriter<'_, '_> {
    fn key(&mut self, k: &str) {
        if !self.first {
            self.open.push(b',');
        }
        self.first = false;
        // Writing a str to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.open, k);
        self.open.push(b':');
    }

    /// A field whose value this writer produced.
    fn put(&mut self, k: &str, v: &str) {
        self.key(k);
        self.open.extend_from_slice(v.as_bytes());
    }

    /// A field whose value is the client's, byte for byte: large ones are sent as a range.
    fn put_raw(&mut self, k: &str, raw: &RawValue) {
        self.key(k);
        match self.client.range_of(raw) {
            Some((offset, len)) if raw.get().len() >= SHARED_VALUE_MIN => {
                if !self.open.is_empty() {
                    self.pieces
                        .push(BodyPiece::Bytes(std::mem::take(&mut self.open)));
                }
                self.pieces.push(BodyPiece::Request { offset, len });
            }
            _ => self.open.extend_from_slice(raw.get().as_bytes()),
        }
    }

    fn finish(mut self) -> Vec<BodyPiece> {
        self.open.push(b'}');
        self.pieces.push(BodyPiece::Bytes(self.open));
        self.pieces
    }
}

/// The upstream body: `model` swapped in, `models` dropped, config merged, parameters
/// stripped (never the protocol fields), output limits capped — the client's and the
/// config's alike — and, when neither set one, the provider's limit field added. Raw values
/// are kept byte for byte; the large ones as ranges of the client's body, so a 10 MB
/// conversation is neither copied per attempt here nor handed back across WIT.
pub fn upstream_body(client: &ClientBody<'_>, e: &BodyEdits<'_>) -> Vec<BodyPiece> {
    let keep = |k: &str| -> bool {
        if PROTOCOL_FIELDS.contains(&k) {
            return true;
        }
        if e.allow.is_some_and(|a| !a.iter().any(|x| x == k)) {
            return false;
        }
        !e.deny.iter().any(|x| x == k)
    };
    let mut out = PieceWriter {
        client,
        pieces: Vec::new(),
        open: Vec::with_capacity(256),
        first: true,
    };
    out.open.push(b'{');
    out.put("model", &serde_json::to_string(e.model).unwrap_or_default());
    let mut limit_seen = false;
    for (k, raw) in &client.fields {
        if k == "model" || k == "models" || e.merge.contains_key(k) || !keep(k) {
            continue;
        }
        if OUTPUT_LIMIT_FIELDS.contains(&k.as_str())
            && let Some(cap) = e.max_output_tokens
        {
            limit_seen = true;
            out.put(k, &capped(raw.get(), cap).to_string());
            continue;
        }
        out.put_raw(k, raw);
    }
    for (k, v) in e.merge {
        if keep(k) {
            if OUTPUT_LIMIT_FIELDS.contains(&k.as_str())
                && let Some(cap) = e.max_output_tokens
            {
                limit_seen = true;
                out.put(k, &capped(&v.to_string(), cap).to_string());
                continue;
            }
            out.put(k, &v.to_string());
        }
    }
    if !limit_seen
        && let (Some(cap), Some(field)) = (e.max_output_tokens, e.limit_field)
        && keep(field)
    {
        out.put(field, &cap.to_string());
    }
    out.finish()
}

/// A limit value capped at `cap`; anything that is not a whole number reads as the cap.
fn capped(raw: &str, cap: u64) -> u64 {
    match raw.trim().parse::<u64>() {
        Ok(n) if n <= cap => n,
        _ => cap,
    }
}
