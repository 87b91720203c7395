//! Which functions and variables an expression may name.
//!
//! Every CEL expression of a policy (rules, `${…}` templates, the ai-gateway's strategies and
//! failover rule) may call the [`STANDARD`] functions; each context adds its own (see
//! [`super::vocabulary`]). Checked at load time so that a typo is a diagnostic with a line
//! and column instead of an error on some later request.

/// Functions every context may call, global or as methods: the CEL standard library, the
/// strings, lists and math extensions the shared environment enables, and the helpers
/// [`super::environment`] registers on every root (`max`, `min`, `quote`).
pub const STANDARD: &[&str] = &[
    // standard library
    "size",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "type",
    "dyn",
    "duration",
    "timestamp",
    "matches",
    "startsWith",
    "endsWith",
    "contains",
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "has",
    "all",
    "exists",
    "exists_one",
    "existsOne",
    "map",
    "filter",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "hasValue",
    "value",
    "or",
    "orValue",
    // strings extension
    "charAt",
    "indexOf",
    "lastIndexOf",
    "join",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "format",
    "strings.quote",
    "reverse",
    // lists extension
    "slice",
    "flatten",
    "distinct",
    "sort",
    "sortBy",
    "lists.range",
    // math extension
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.isInf",
    "math.isNaN",
    "math.isFinite",
    "math.abs",
    "math.sign",
    "math.sqrt",
    // shared helpers (`environment.rs`)
    "max",
    "min",
    "quote",
];

/// Namespaces of the [`STANDARD`] functions (`lists.range(3)` is a call, not a field of a
/// variable named `lists`).
pub const STANDARD_NAMESPACES: &[&str] = &["strings", "lists", "math", "optional"];

/// Functions policy rules and templates add to [`STANDARD`] (see `functions.rs`).
pub const POLICY: &[&str] = &[
    "lower",
    "upper",
    "getReqHeader",
    "hasReqHeader",
    "getQueryParam",
    "hasQueryParam",
    "getResHeader",
    "hasResHeader",
    "inCidrRange",
    "inCidrRanges",
    "json.decode",
    "json.encode",
    "base64.encode",
    "base64.decode",
    "rand.int",
    "rand.double",
    "hash.sha256",
    "sha256",
    "hash.sha512",
    "basic_auth.encode",
    "isPrivateIp",
    "secrets.get",
];

/// Namespaces of the [`POLICY`] functions.
pub const POLICY_NAMESPACES: &[&str] = &["basic_auth", "json", "base64", "rand", "hash", "secrets"];

/// Functions, of any context, whose result changes between calls with the same input: an
/// expression calling one is never evaluated ahead of a request or cached.
pub const NONDETERMINISTIC: &[&str] = &["rand.int", "rand.double", "random", "randomize"];

/// The roots a request-phase expression may read besides the context's own (`res` is added
/// in the response phase).
pub const REQUEST_ROOTS: &[&str] = &["req", "conn", "vars", "endpoint", "time", "actions"];

/// Operators appear in the AST as calls named `_+_`, `!_`, `@in`, ...: not user functions.
pub fn is_operator(name: &str) -> bool {
    !name.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// The phase an expression runs in decides which roots exist (`res` only after the upstream
/// answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    Request,
    Response,
}

/// Fields of `req` (second path segment).
const REQ_FIELDS: &[&str] = &[
    "id",
    "method",
    "url",
    "host",
    "headers",
    "query_params",
    "content_type",
    "content_length",
    "version",
    "body",
    "user_agent",
    "ts",
    "location",
    "content_encoding",
];
const URL_FIELDS: &[&str] = &[
    "authority",
    "host",
    "path",
    "port",
    "query",
    "query_params",
    "raw",
    "raw_path",
    "scheme",
    "uri",
];
const TS_FIELDS: &[&str] = &["header_received", "body_received"];
const CONN_FIELDS: &[&str] = &[
    "client_ip",
    "client_port",
    "server_ip",
    "server_port",
    "tls",
];
const TLS_FIELDS: &[&str] = &["version", "cipher_suite", "sni", "negotiated_alpn"];
const RES_FIELDS: &[&str] = &["status_code", "headers", "content_type", "content_length"];
const ENDPOINT_FIELDS: &[&str] = &["id", "url", "host", "port", "protocol", "addr"];
const TIME_FIELDS: &[&str] = &["now"];

/// Checks a variable path (`req.url.path`) against the schema; `Err` says what is wrong.
///
/// `vars.*` and `actions.*` are open: their fields are whatever earlier actions set.
pub fn check_variable(path: &[&str], scope: Scope) -> Result<(), String> {
    let Some((root, rest)) = path.split_first() else {
        return Ok(());
    };
    let fields: &[&str] = match *root {
        "req" => REQ_FIELDS,
        "conn" => CONN_FIELDS,
        "endpoint" => ENDPOINT_FIELDS,
        "time" => TIME_FIELDS,
        "res" if scope == Scope::Response => RES_FIELDS,
        "res" => {
            return Err("`res` is only available in on_http_response".to_string());
        }
        "vars" | "actions" => return Ok(()),
        other => return Err(format!("unknown variable `{other}`")),
    };
    let Some(first) = rest.first() else {
        return Ok(());
    };
    if !fields.contains(first) {
        return Err(format!("unknown variable `{root}.{first}`"));
    }
    let Some(second) = rest.get(1) else {
        return Ok(());
    };
    let sub: Option<&[&str]> = match (*root, *first) {
        ("req", "url") => Some(URL_FIELDS),
        ("req", "ts") => Some(TS_FIELDS),
        ("conn", "tls") => Some(TLS_FIELDS),
        // Maps keyed by header or parameter name.
        ("req" | "res", "headers") | ("req", "query_params") => return Ok(()),
        // Everything else is a scalar or a list: it has no fields.
        _ => None,
    };
    match sub {
        Some(fields) if fields.contains(second) => Ok(()),
        _ => Err(format!("unknown variable `{root}.{first}.{second}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_accepts_known_paths_and_names_unknown_ones() {
        assert!(check_variable(&["req", "url", "path"], Scope::Request).is_ok());
        assert!(check_variable(&["vars", "anything"], Scope::Request).is_ok());
        assert_eq!(
            check_variable(&["req", "methd"], Scope::Request),
            Err("unknown variable `req.methd`".to_string())
        );
        assert!(check_variable(&["res", "status_code"], Scope::Request).is_err());
        assert!(check_variable(&["req", "user_agent", "name"], Scope::Request).is_err());
        assert!(check_variable(&["req", "headers", "x-a"], Scope::Request).is_ok());
        assert!(check_variable(&["req", "url", "query_params", "a"], Scope::Request).is_ok());
        assert!(check_variable(&["res", "status_code"], Scope::Response).is_ok());
        assert_eq!(
            check_variable(&["foo"], Scope::Request),
            Err("unknown variable `foo`".to_string())
        );
    }

    #[test]
    fn operators_are_not_functions() {
        assert!(is_operator("_+_"));
        assert!(is_operator("@in"));
        assert!(is_operator("!_"));
        assert!(!is_operator("size"));
    }
}
