//! `rate-limit`: a sliding window of `capacity` requests per `rate`, per bucket. The bucket
//! is the action's identity (its `name`, or its place in the policy) plus the values of the
//! `bucket_key` expressions. Counting happens in the host (`rate_limit_check`) so every
//! plugin instance shares the counters. Over the limit: 429 with `retry-after` (seconds).

use std::time::Duration;

use cel::Value;

use super::{Compiler, Effect, RunCtx};
use crate::cel_env::Expr;
use crate::cel_env::convert::{cel_to_string, string_map, string_value};
use crate::error_response::error_response;
use crate::policy::yaml_tree::Node;

#[derive(Debug)]
pub struct RateLimit {
    /// Prefix of every bucket of this action.
    pub identity: String,
    pub enforce: bool,
    pub capacity: u64,
    pub window: Duration,
    pub bucket_key: Vec<Expr>,
}

/// ngrok's bounds: capacity 1..=2e9; window up to a day. Windows shorter than ngrok's 60 s
/// minimum are accepted (a self-hosted edge has no reason to forbid them).
const MAX_CAPACITY: i64 = 2_000_000_000;
const MIN_WINDOW: Duration = Duration::from_secs(1);
const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
/// Error code in the results and the response header.
const RATE_LIMITED: &str = "rate_limited";
/// Separates key parts inside a bucket name (a byte no header or IP contains).
const KEY_SEPARATOR: char = '\u{1f}';

impl RateLimit {
    pub fn compile(
        config: Option<&Node>,
        action_path: &str,
        path: &str,
        c: &mut Compiler<'_>,
    ) -> Option<RateLimit> {
        let mut name = None;
        let mut enforce = true;
        let mut capacity = None;
        let mut window = None;
        let mut bucket_key = Vec::new();
        let mut ok = true;
        let allowed = [
            "name",
            "enforce",
            "algorithm",
            "capacity",
            "rate",
            "bucket_key",
        ];
        for (field_name, node, field) in c.fields(config, path, "rate-limit", &allowed) {
            match field_name {
                "name" => match c.string(node, &field) {
                    Some(s) if s.len() < 1024 => name = Some(s),
                    Some(_) => {
                        c.error(&field, "`name` must be shorter than 1024 characters");
                        ok = false;
                    }
                    None => ok = false,
                },
                "enforce" => match c.bool(node, &field) {
                    Some(b) => enforce = b,
                    None => ok = false,
                },
                "algorithm" => match node.as_str() {
                    Some("sliding_window") => {}
                    _ => {
                        c.error(&field, "`algorithm` must be `sliding_window`");
                        ok = false;
                    }
                },
                "capacity" => match c.int(node, &field, 1..=MAX_CAPACITY) {
                    Some(n) => capacity = u64::try_from(n).ok(),
                    None => ok = false,
                },
                "rate" => match c.duration(node, &field, MIN_WINDOW..=MAX_WINDOW) {
                    Some(d) => window = Some(d),
                    None => ok = false,
                },
                "bucket_key" => match c.list(node, &field) {
                    Some(items) => {
                        for (item, item_path) in items {
                            match c.expr(item, &item_path) {
                                Some(e) => bucket_key.push(e),
                                None => ok = false,
                            }
                        }
                    }
                    None => ok = false,
                },
                _ => {}
            }
        }
        let has = |f: &str| config.and_then(|n| n.get(f)).is_some();
        if !has("capacity") {
            c.error(path, "`rate-limit` requires `config.capacity`");
            ok = false;
        }
        if !has("rate") {
            c.error(
                path,
                "`rate-limit` requires `config.rate` (a duration such as `60s`)",
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        Some(RateLimit {
            identity: name.unwrap_or_else(|| action_path.to_string()),
            enforce,
            capacity: capacity?,
            window: window?,
            bucket_key,
        })
    }

    pub fn run(&self, ctx: &mut RunCtx<'_, '_>) -> Result<Effect, String> {
        let mut parts = Vec::with_capacity(self.bucket_key.len());
        {
            let act = ctx.activation();
            for expr in &self.bucket_key {
                parts.push(cel_to_string(&ctx.ev.eval(expr, &act)?)?);
            }
        }
        let key = parts.join(&KEY_SEPARATOR.to_string());
        let bucket = format!("{}{KEY_SEPARATOR}{key}", self.identity);
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let verdict = ctx.host.rate_limit_check(&bucket, self.capacity, window_ms);
        let limited = !verdict.allowed;
        let mut result = vec![
            ("bucket_key".to_string(), string_value(&key)),
            ("limited".to_string(), Value::Bool(limited)),
        ];
        if limited {
            result.push((
                "error".to_string(),
                string_map([
                    ("code".to_string(), string_value(RATE_LIMITED)),
                    ("message".to_string(), string_value("rate limit exceeded")),
                ]),
            ));
        }
        ctx.set_result("rate_limit", string_map(result));
        if limited && self.enforce {
            let retry_after_s = verdict.retry_after_ms.div_ceil(1000).max(1);
            let mut response = error_response(
                429,
                RATE_LIMITED,
                "rate_limit_exceeded",
                "rate limit exceeded",
            );
            response
                .headers
                .push(("retry-after".to_string(), retry_after_s.to_string()));
            return Ok(Effect::Respond(response));
        }
        Ok(Effect::Continue)
    }
}
