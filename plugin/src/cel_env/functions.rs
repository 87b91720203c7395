//! The functions policies call beyond the CEL standard library: request helpers
//! (`getReqHeader`, `getQueryParam`, ...), `inCidrRange(s)`, `json.*`, `base64.*`, `rand.*`,
//! `hash.sha256`, `lower`/`upper` and `secrets.get`.
//!
//! Registered once per policy load on the root context; request data reaches them through
//! the per-request variable resolver (see `activation.rs`), under internal names that start
//! with `@` so no expression can name them directly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use cel::extractors::This;
use cel::{Context, DeclarationError, ExecutionError, FunctionContext, Value};
use ipnet::IpNet;
use sha2::Digest as _;

use super::convert::{cel_to_json, json_to_cel};

/// Secrets resolved at load time, keyed by (vault, name).
pub type SecretStore = Arc<RwLock<HashMap<(String, String), String>>>;

/// Internal resolver names for the request helpers.
pub const HEADER_PREFIX: &str = "@req.header.";
pub const QUERY_PREFIX: &str = "@req.query.";
pub const RES_HEADER_PREFIX: &str = "@res.header.";

type CelResult = Result<Value, ExecutionError>;

/// Adds every custom function to `ctx`.
pub fn register(ctx: &mut Context<'static, 'static>, secrets: SecretStore) -> Result<(), DeclarationError> {
    ctx.add_function("lower", |This(s): This<Arc<String>>| -> CelResult {
        Ok(Value::String(Arc::new(s.to_lowercase())))
    })?;
    ctx.add_function("upper", |This(s): This<Arc<String>>| -> CelResult {
        Ok(Value::String(Arc::new(s.to_uppercase())))
    })?;

    ctx.add_function("getReqHeader", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(lookup_list(ftx, HEADER_PREFIX, &name))
    })?;
    ctx.add_function("hasReqHeader", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(Value::Bool(!is_empty_list(&lookup_list(ftx, HEADER_PREFIX, &name))))
    })?;
    ctx.add_function("getQueryParam", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(lookup_list(ftx, QUERY_PREFIX, &name))
    })?;
    ctx.add_function("hasQueryParam", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(Value::Bool(!is_empty_list(&lookup_list(ftx, QUERY_PREFIX, &name))))
    })?;
    ctx.add_function("getResHeader", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(lookup_list(ftx, RES_HEADER_PREFIX, &name))
    })?;
    ctx.add_function("hasResHeader", |ftx: &FunctionContext, name: Arc<String>| -> CelResult {
        Ok(Value::Bool(!is_empty_list(&lookup_list(ftx, RES_HEADER_PREFIX, &name))))
    })?;

    ctx.add_function("inCidrRange", |ftx: &FunctionContext, ip: Arc<String>, cidr: Arc<String>| -> CelResult {
        let ip = parse_ip(ftx, &ip)?;
        Ok(Value::Bool(parse_net(ftx, &cidr)?.contains(&ip)))
    })?;
    ctx.add_function("inCidrRanges", |ftx: &FunctionContext, ip: Arc<String>, cidrs: Arc<Vec<Value>>| -> CelResult {
        let ip = parse_ip(ftx, &ip)?;
        for cidr in cidrs.iter() {
            let Value::String(cidr) = cidr else {
                return Err(ftx.error("every CIDR must be a string"));
            };
            if parse_net(ftx, cidr)?.contains(&ip) {
                return Ok(Value::Bool(true));
            }
        }
        Ok(Value::Bool(false))
    })?;

    ctx.add_function("json.decode", |ftx: &FunctionContext, text: Arc<String>| -> CelResult {
        serde_json::from_str::<serde_json::Value>(&text)
            .map(|json| json_to_cel(&json))
            .map_err(|e| ftx.error(format!("invalid JSON: {e}")))
    })?;
    ctx.add_function("json.encode", |ftx: &FunctionContext, value: Value| -> CelResult {
        let json = cel_to_json(&value).map_err(|e| ftx.error(e))?;
        Ok(Value::String(Arc::new(json.to_string())))
    })?;

    ctx.add_function("base64.encode", |ftx: &FunctionContext, value: Value| -> CelResult {
        let bytes = string_or_bytes(ftx, &value)?;
        Ok(Value::String(Arc::new(base64::engine::general_purpose::STANDARD.encode(bytes))))
    })?;
    ctx.add_function("base64.decode", |ftx: &FunctionContext, text: Arc<String>| -> CelResult {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| ftx.error(format!("invalid base64: {e}")))?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => Value::String(Arc::new(s)),
            Err(e) => Value::Bytes(Arc::new(e.into_bytes())),
        })
    })?;

    ctx.add_function("rand.int", |ftx: &FunctionContext, min: i64, max: i64| -> CelResult {
        if min > max {
            return Err(ftx.error("min must not be greater than max"));
        }
        Ok(Value::Int(rand::random_range(min..=max)))
    })?;
    ctx.add_function("rand.double", || -> CelResult { Ok(Value::Float(rand::random::<f64>())) })?;

    ctx.add_function("hash.sha256", |ftx: &FunctionContext, value: Value| -> CelResult {
        Ok(Value::String(Arc::new(sha256_hex(string_or_bytes(ftx, &value)?))))
    })?;
    ctx.add_function("sha256", |ftx: &FunctionContext, This(value): This<Value>| -> CelResult {
        Ok(Value::String(Arc::new(sha256_hex(string_or_bytes(ftx, &value)?))))
    })?;

    ctx.add_function("secrets.get", move |ftx: &FunctionContext, vault: Arc<String>, name: Arc<String>| -> CelResult {
        let store = secrets.read().map_err(|_| ftx.error("secret store unavailable"))?;
        store
            .get(&(vault.as_ref().clone(), name.as_ref().clone()))
            .map(|v| Value::String(Arc::new(v.clone())))
            .ok_or_else(|| ftx.error(format!("secret {vault}/{name} not found")))
    })?;
    Ok(())
}

/// A list the resolver holds under an internal name (header or query values).
fn lookup_list(ftx: &FunctionContext, prefix: &str, name: &str) -> Value {
    // Header names are case-insensitive (stored lower-cased); query names are not.
    let key = if prefix == QUERY_PREFIX {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{}", name.to_ascii_lowercase())
    };
    ftx.ptx
        .get_variable(&key)
        .and_then(|v| Value::try_from(v.as_ref()).ok())
        .unwrap_or_else(|| Value::List(Arc::new(Vec::new())))
}

fn is_empty_list(v: &Value) -> bool {
    matches!(v, Value::List(items) if items.is_empty())
}

fn parse_ip(ftx: &FunctionContext, ip: &str) -> Result<IpAddr, ExecutionError> {
    ip.trim()
        .parse::<IpAddr>()
        .map_err(|_| ftx.error(format!("`{ip}` is not an IP address")))
}

/// A CIDR, or a bare address meaning just that address.
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn parse_net(ftx: &FunctionContext, cidr: &str) -> Result<IpNet, ExecutionError> {
    parse_cidr(cidr).ok_or_else(|| ftx.error(format!("`{cidr}` is not a CIDR range")))
}

fn string_or_bytes<'v>(ftx: &FunctionContext, value: &'v Value) -> Result<&'v [u8], ExecutionError> {
    match value {
        Value::String(s) => Ok(s.as_bytes()),
        Value::Bytes(b) => Ok(b.as_slice()),
        _ => Err(ftx.error("expected a string or bytes")),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}
