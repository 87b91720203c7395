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
use cel::common::types::{CelBool, CelString};
use cel::common::value::CowVal;
use cel::extractors::This;
use cel::{Context, DeclarationError, ExecutionError, FunctionContext, Value};
use ipnet::IpNet;
use sha2::Digest as _;

use super::convert::{cel_to_json, json_to_cel};

/// Secrets resolved at load time, keyed by (vault, name).
pub type SecretStore = Arc<RwLock<HashMap<(String, String), String>>>;

/// Internal resolver names for the request helpers (`@` cannot start a CEL identifier).
pub const HEADER_PREFIX: &str = "@req.header.";
pub const HAS_HEADER_PREFIX: &str = "@req.has_header.";
pub const QUERY_PREFIX: &str = "@req.query.";
pub const HAS_QUERY_PREFIX: &str = "@req.has_query.";
pub const RES_HEADER_PREFIX: &str = "@res.header.";
pub const HAS_RES_HEADER_PREFIX: &str = "@res.has_header.";

type CelResult = Result<Value, ExecutionError>;

/// Adds every custom function to `ctx`.
pub fn register(
    ctx: &mut Context<'static, 'static>,
    secrets: SecretStore,
) -> Result<(), DeclarationError> {
    // The request helpers and the string functions policies call most are registered in
    // the raw form: they read their arguments and the request's values in place (no copies
    // into owned `Value`s), which keeps a rule evaluation in the low microseconds.
    ctx.add_function(
        "lower",
        raw(|ftx| {
            let s = this_str(ftx)?.to_lowercase();
            Ok(CowVal::owned(CelString::from(s)))
        }),
    )?;
    ctx.add_function(
        "upper",
        raw(|ftx| {
            let s = this_str(ftx)?.to_uppercase();
            Ok(CowVal::owned(CelString::from(s)))
        }),
    )?;
    // Each request helper asks the resolver for an internal name (header names are
    // case-insensitive, query parameter names are not).
    for (name, prefix, lower) in [
        ("getReqHeader", HEADER_PREFIX, true),
        ("hasReqHeader", HAS_HEADER_PREFIX, true),
        ("getQueryParam", QUERY_PREFIX, false),
        ("hasQueryParam", HAS_QUERY_PREFIX, false),
        ("getResHeader", RES_HEADER_PREFIX, true),
        ("hasResHeader", HAS_RES_HEADER_PREFIX, true),
    ] {
        ctx.add_function(name, raw(move |ftx| lookup(ftx, prefix, lower)))?;
    }
    ctx.add_function(
        "inCidrRange",
        raw(|ftx| {
            let ip = parse_ip(ftx, str_arg(ftx, 0)?)?;
            let net = parse_net(ftx, str_arg(ftx, 1)?)?;
            Ok(CowVal::owned(CelBool::from(net.contains(&ip))))
        }),
    )?;
    ctx.add_function(
        "inCidrRanges",
        |ftx: &FunctionContext, ip: Arc<String>, cidrs: Arc<Vec<Value>>| -> CelResult {
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
        },
    )?;

    ctx.add_function(
        "json.decode",
        |ftx: &FunctionContext, text: Arc<String>| -> CelResult {
            serde_json::from_str::<serde_json::Value>(&text)
                .map(|json| json_to_cel(&json))
                .map_err(|e| ftx.error(format!("invalid JSON: {e}")))
        },
    )?;
    ctx.add_function(
        "json.encode",
        |ftx: &FunctionContext, value: Value| -> CelResult {
            let json = cel_to_json(&value).map_err(|e| ftx.error(e))?;
            Ok(Value::String(Arc::new(json.to_string())))
        },
    )?;

    ctx.add_function(
        "base64.encode",
        |ftx: &FunctionContext, value: Value| -> CelResult {
            let bytes = string_or_bytes(ftx, &value)?;
            Ok(Value::String(Arc::new(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )))
        },
    )?;
    ctx.add_function(
        "base64.decode",
        |ftx: &FunctionContext, text: Arc<String>| -> CelResult {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| ftx.error(format!("invalid base64: {e}")))?;
            Ok(match String::from_utf8(bytes) {
                Ok(s) => Value::String(Arc::new(s)),
                Err(e) => Value::Bytes(Arc::new(e.into_bytes())),
            })
        },
    )?;

    ctx.add_function(
        "rand.int",
        |ftx: &FunctionContext, min: i64, max: i64| -> CelResult {
            if min > max {
                return Err(ftx.error("min must not be greater than max"));
            }
            Ok(Value::Int(rand::random_range(min..=max)))
        },
    )?;
    ctx.add_function("rand.double", || -> CelResult {
        Ok(Value::Float(rand::random::<f64>()))
    })?;

    ctx.add_function(
        "hash.sha512",
        |ftx: &FunctionContext, value: Value| -> CelResult {
            let digest = sha2::Sha512::digest(string_or_bytes(ftx, &value)?);
            Ok(Value::String(Arc::new(hex::encode(digest))))
        },
    )?;
    ctx.add_function(
        "basic_auth.encode",
        |user: Arc<String>, password: Arc<String>| -> CelResult {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Ok(Value::String(Arc::new(token)))
        },
    )?;
    ctx.add_function(
        "isPrivateIp",
        raw(|ftx| {
            let ip = parse_ip(ftx, this_str(ftx)?)?;
            Ok(CowVal::owned(CelBool::from(is_private(ip))))
        }),
    )?;
    ctx.add_function(
        "hash.sha256",
        |ftx: &FunctionContext, value: Value| -> CelResult {
            Ok(Value::String(Arc::new(sha256_hex(string_or_bytes(
                ftx, &value,
            )?))))
        },
    )?;
    ctx.add_function(
        "sha256",
        |ftx: &FunctionContext, This(value): This<Value>| -> CelResult {
            Ok(Value::String(Arc::new(sha256_hex(string_or_bytes(
                ftx, &value,
            )?))))
        },
    )?;

    ctx.add_function(
        "secrets.get",
        move |ftx: &FunctionContext, vault: Arc<String>, name: Arc<String>| -> CelResult {
            let store = secrets
                .read()
                .map_err(|_| ftx.error("secret store unavailable"))?;
            store
                .get(&(vault.as_ref().clone(), name.as_ref().clone()))
                .map(|v| Value::String(Arc::new(v.clone())))
                .ok_or_else(|| ftx.error(format!("secret {vault}/{name} not found")))
        },
    )?;
    Ok(())
}

/// A function in the interpreter's own calling convention (what `IntoFunction` accepts as
/// is): it gets the call's context and returns a value that may borrow from it.
type RawFunction = Box<
    dyn for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError>
        + Send
        + Sync,
>;

fn raw<F>(f: F) -> RawFunction
where
    F: for<'c, 'v> Fn(&mut FunctionContext<'c, 'v>) -> Result<CowVal<'c, 'v>, ExecutionError>
        + Send
        + Sync
        + 'static,
{
    Box::new(f)
}

/// The `i`-th argument as a string, borrowed.
fn str_arg<'a>(ftx: &'a FunctionContext<'_, '_>, i: usize) -> Result<&'a str, ExecutionError> {
    let arg = ftx
        .args
        .get(i)
        .ok_or_else(|| ExecutionError::invalid_argument_count(i + 1, ftx.args.len()))?;
    arg.downcast_ref::<CelString>()
        .map(CelString::inner)
        .ok_or_else(|| ftx.error("expected a string argument"))
}

/// The receiver of a method call (or the first argument of a global call) as a string.
fn this_str<'a>(ftx: &'a FunctionContext<'_, '_>) -> Result<&'a str, ExecutionError> {
    match &ftx.this {
        Some(this) => this
            .downcast_ref::<CelString>()
            .map(CelString::inner)
            .ok_or_else(|| ftx.error("expected a string")),
        None => str_arg(ftx, 0),
    }
}

/// Asks the request's resolver for an internal name: `prefix` + the argument (header names
/// are case-insensitive and stored lower-cased; query names are not).
fn lookup<'c, 'v>(
    ftx: &mut FunctionContext<'c, 'v>,
    prefix: &str,
    lower: bool,
) -> Result<CowVal<'c, 'v>, ExecutionError> {
    let name = str_arg(ftx, 0)?;
    // Built by hand: `format!` costs several hundred instructions per call here, and these
    // helpers run in most rules.
    let mut key = String::with_capacity(prefix.len() + name.len());
    key.push_str(prefix);
    key.push_str(name);
    if lower {
        key[prefix.len()..].make_ascii_lowercase();
    }
    let ptx: &'c Context<'c, 'v> = ftx.ptx;
    ptx.get_variable(&key)
        .ok_or_else(|| ftx.error("no request is bound to this evaluation"))
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

fn string_or_bytes<'v>(
    ftx: &FunctionContext,
    value: &'v Value,
) -> Result<&'v [u8], ExecutionError> {
    match value {
        Value::String(s) => Ok(s.as_bytes()),
        Value::Bytes(b) => Ok(b.as_slice()),
        _ => Err(ftx.error("expected a string or bytes")),
    }
}

/// Private, loopback, link-local or unique-local (RFC 1918, RFC 4193 and friends).
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}
